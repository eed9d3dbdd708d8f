"""HTTP glue for the agent API: a route decorator that checks the caller's role on every route,
parses bodies with pydantic, maps domain errors to clear 4xx answers, and records each route for
the OpenAPI document. Routes themselves live in ``app.py`` and call one service each."""

from __future__ import annotations

import contextvars
import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from chalice import Chalice, Response
from chalice.app import Request
from pydantic import (
    AwareDatetime,
    BaseModel,
    Field,
    StringConstraints,
    ValidationError,
    model_validator,
)

from chalicelib.auth.service import AuthError, Principal, authenticate
from chalicelib.bodies import Body, GroupId, TagsBody
from chalicelib.channels import ChannelName
from chalicelib.errors import DomainError, Invalid
from chalicelib.messages import TemplateRef
from chalicelib.observability import logger

M = TypeVar("M", bound=BaseModel)
_principal: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("principal", default=None)


@dataclass(frozen=True)
class RouteDoc:
    path: str
    methods: tuple[str, ...]
    role: str | None
    summary: str
    body: type[BaseModel] | None
    query: type[BaseModel] | None = None
    response: Any = None  # a pydantic model or a JSON schema of the success answer
    status: int = 200  # the success status
    errors: tuple[int, ...] = ()  # error statuses beyond those the route's shape implies
    description: str = ""


ROUTES: list[RouteDoc] = []


class LoginBody(Body):
    username: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=1, max_length=256)


class ReplyBody(Body):
    text: str = Field(default="", max_length=4000)
    channel: ChannelName | None = Field(
        default=None, description="send on this channel instead of the last one"
    )
    template: TemplateRef | None = Field(
        default=None, description="an approved template (outside reply windows)"
    )

    @model_validator(mode="after")
    def _text_or_template(self) -> ReplyBody:
        if not self.text and self.template is None:
            raise ValueError("text or template is required")
        return self


class TransferBody(Body):
    to_agent: str | None = Field(default=None, max_length=128, description="hand it to this agent")
    to_group: str | None = Field(default=None, max_length=64, description="or to this skill group's queue")
    note: str = Field(default="", max_length=2000, description="a private note for whoever takes it")

    @model_validator(mode="after")
    def _one_target(self) -> TransferBody:
        if bool(self.to_agent) == bool(self.to_group):
            raise ValueError("give exactly one of to_agent and to_group")
        return self


class PriorityBody(Body):
    priority: Literal["low", "normal", "high", "urgent"]


class PresenceBody(Body):
    presence: Literal["online", "away", "offline"]


class GroupBody(Body):
    name: str = Field(min_length=1, max_length=80)
    description: str = Field(default="", max_length=500)
    lead_id: str | None = Field(default=None, max_length=128, description="the team lead's agent id")


ChannelType = Annotated[str, StringConstraints(pattern=r"^(chat|email|voice)$")]


class AgentConfigBody(Body):
    groups: list[GroupId] | None = Field(default=None, max_length=50, description="existing skill group ids")
    capacity: dict[ChannelType, Annotated[int, Field(ge=0, le=50)]] | None = Field(
        default=None, description="per channel type: chat, email, voice; 0..50 (a type left out: 0)"
    )
    proficiency: dict[GroupId, Annotated[int, Field(ge=1, le=5)]] | None = Field(
        default=None, max_length=50, description="per group id: 1 (learning) .. 5 (expert)"
    )


class MergeBody(Body):
    source_customer_id: str = Field(min_length=1, description="the customer folded into the target")


class NoteBody(Body):
    text: str = Field(min_length=1, max_length=4000, description="private; @agent_id mentions notify")


class SnoozeBody(Body):
    until: AwareDatetime = Field(description="ISO-8601 with a time zone; at most 30 days ahead")


TICKET_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"


class TicketLinkBody(Body):
    ticket_id: str = Field(pattern=TICKET_ID)


AttributeKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")]


class CustomerPatchBody(Body):
    tags: TagsBody | None = None
    attributes: dict[AttributeKey, Annotated[str, Field(max_length=1000)] | None] | None = Field(
        default=None, max_length=50, description="value sets, null removes"
    )


def principal() -> Principal:
    p = _principal.get()
    if p is None:  # pragma: no cover - only reachable if a public route asks for a principal
        raise AuthError("not authenticated")
    return p


def error(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> Response:
    return Response(body={"error": code, "message": message, **(details or {})}, status_code=status)


def request(app: Chalice) -> Request:
    """The request being served (Chalice sets it before calling a view)."""
    current = app.current_request
    if current is None:  # pragma: no cover - only outside a request
        raise RuntimeError("no current request")
    return current


def body(app: Chalice, model: type[M]) -> M:
    raw = request(app).raw_body or b"{}"
    try:
        return model.model_validate(json.loads(raw))
    except ValidationError as exc:
        raise BadBody(describe(exc), details={"fields": field_errors(exc)}) from exc
    except (ValueError, UnicodeDecodeError) as exc:  # the parser's own words help nobody
        raise BadBody("the body is not valid JSON") from exc


def query(app: Chalice, model: type[M]) -> M:
    """The request's query string parsed by the route's query model (400 on a bad value)."""
    try:
        given = {k: v for k, v in (request(app).query_params or {}).items() if v != ""}  # ?cursor= is none
        return model.model_validate(given)
    except ValidationError as exc:
        raise BadQuery(describe(exc)) from exc


def describe(exc: ValidationError, limit: int = 3) -> str:
    """Where and what, e.g. ``rules.2.match.regex: Value error, regex does not compile: …``
    (pydantic's first line only says how many errors there are)."""
    parts = [f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in exc.errors()[:limit]]
    more = exc.error_count() - limit
    return ("; ".join(parts) + (f" (and {more} more)" if more > 0 else ""))[:500]


def field_errors(exc: ValidationError) -> dict[str, str]:
    """``{"rules.2.match.regex": "Value error, …"}``: the first message for each field, so a form
    can show it next to that field (the console's forms do)."""
    out: dict[str, str] = {}
    for e in exc.errors():
        out.setdefault(".".join(str(p) for p in e["loc"]) or "body", str(e["msg"]))
    return out


class BadBody(Invalid):
    """The request body is not valid JSON or breaks its model (400 bad_request; ``fields`` in the
    details names each bad field)."""


class BadQuery(Invalid):
    """A query parameter breaks the route's query model (400 bad_request)."""


def route(
    app: Chalice,
    path: str,
    *,
    role: str | None,
    methods: tuple[str, ...] = ("GET",),
    body: type[BaseModel] | None = None,
    query: type[BaseModel] | None = None,
    response: Any = None,
    status: int = 200,
    errors: tuple[int, ...] = (),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``@route(app, "/x", role="agent")``: register a Chalice route that first verifies the caller's
    JWT and role (``role=None`` only for login, health and the OpenAPI document). ``body`` and
    ``query`` name the models the view parses, ``response`` the success answer's model (or JSON
    schema) sent with ``status``, ``errors`` any error status the route's shape does not imply:
    all of them go into the OpenAPI document (``chalicelib/openapi.py``)."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def view(*args: Any, **kwargs: Any) -> Any:
            token = None
            try:
                if role is not None:
                    token = _principal.set(authenticate(request(app).headers.get("authorization"), role))
                return fn(*args, **kwargs)
            except DomainError as exc:  # auth (401/403) included: status, code and details are its own
                return error(exc.status, exc.code, exc.message.splitlines()[0][:300], exc.details)
            except ValueError as exc:  # a library refused a value inside a service (e.g. pydantic)
                return error(400, "bad_request", str(exc).splitlines()[0][:300])
            finally:
                if token is not None:
                    _principal.reset(token)

        app.route(path, methods=list(methods), content_types=["application/json"])(view)
        doc = (fn.__doc__ or fn.__name__).strip()
        summary = doc.split("\n\n")[0].splitlines()[0]
        ROUTES.append(
            RouteDoc(
                path, methods, role, summary, body, query, response, status, errors, " ".join(doc.split())
            )
        )
        return view

    return decorate


def openapi(title: str, version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every registered route."""
    paths: dict[str, Any] = {}
    schemas: dict[str, Any] = {}
    for r in ROUTES:
        for method in r.methods:
            op: dict[str, Any] = {
                "summary": r.summary,
                "responses": {"200": {"description": "OK"}, "400": {"description": "Bad request"}},
            }
            if r.role:
                op["security"] = [{"cognito": []}]
                op["x-omniflow-role"] = r.role
                op["responses"].update(
                    {
                        "401": {"description": "Not authenticated"},
                        "403": {"description": f"Requires {r.role}"},
                    }
                )
            if r.body is not None:
                schemas[r.body.__name__] = r.body.model_json_schema()
                op["requestBody"] = {
                    "required": True,
                    "content": {
                        "application/json": {"schema": {"$ref": f"#/components/schemas/{r.body.__name__}"}}
                    },
                }
            params = [seg[1:-1] for seg in r.path.split("/") if seg.startswith("{")]
            if params:
                op["parameters"] = [
                    {"name": p, "in": "path", "required": True, "schema": {"type": "string"}} for p in params
                ]
            paths.setdefault(r.path, {})[method.lower()] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "servers": [{"url": "/api"}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "cognito": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT (Cognito ID token)"}
            },
        },
    }


def log_unexpected(exc: Exception) -> None:
    logger.exception("unhandled API error")
