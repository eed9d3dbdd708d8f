"""HTTP glue for the agent API: a route decorator that checks the caller's role on every route,
parses bodies with pydantic, maps domain errors to clear 4xx answers, and records each route for
the OpenAPI document. Routes themselves live in ``app.py`` and call one service each."""

from __future__ import annotations

import contextvars
import functools
import importlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from chalice import Chalice, Response
from chalice.app import Request
from pydantic import (
    BaseModel,
    ValidationError,
)

from chalicelib.auth.service import AuthError, Principal, authenticate
from chalicelib.errors import DomainError, Invalid

M = TypeVar("M", bound=BaseModel)
_principal: contextvars.ContextVar[Principal | None] = contextvars.ContextVar("principal", default=None)


class ModelRef:
    """A pydantic model named by its module and class, imported on first use: ``app.py`` names the
    body and query model of every route, but a core Lambda (the router, the sender) should not pay
    at cold start for building models of routes it never serves. :func:`body`, :func:`query` and
    the route table resolve it; under ``TYPE_CHECKING`` ``app.py`` imports the classes themselves."""

    __slots__ = ("_model", "module", "name")

    def __init__(self, module: str, name: str) -> None:
        self.module, self.name = module, name
        self._model: type[BaseModel] | None = None

    def resolve(self) -> type[BaseModel]:
        if self._model is None:
            model = getattr(importlib.import_module(self.module), self.name)
            if not (isinstance(model, type) and issubclass(model, BaseModel)):
                raise TypeError(f"{self.module}.{self.name} is not a pydantic model")
            self._model = model
        return self._model

    def __repr__(self) -> str:
        return f"ModelRef({self.module}.{self.name})"


class Models:
    """``Models("chalicelib.queries").InboxQuery`` is a :class:`ModelRef`: a module's models named
    without importing it (one reference per name, so every route shares the resolved class)."""

    def __init__(self, module: str) -> None:
        self._module = module
        self._refs: dict[str, ModelRef] = {}

    def __getattr__(self, name: str) -> ModelRef:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._refs.setdefault(name, ModelRef(self._module, name))


ModelLike = type[BaseModel] | ModelRef


def resolve(model: Any) -> Any:
    """The model class itself (a :class:`ModelRef` imported on first use)."""
    return model.resolve() if isinstance(model, ModelRef) else model


@dataclass(frozen=True)
class RouteDoc:
    path: str
    methods: tuple[str, ...]
    role: str | None
    summary: str
    body_model: ModelLike | None
    query_model: ModelLike | None = None
    response: Any = None  # a pydantic model or a JSON schema of the success answer
    status: int = 200  # the success status
    errors: tuple[int, ...] = ()  # error statuses beyond those the route's shape implies
    description: str = ""
    scope: str | None = None  # the API-client scope that opens it to machine clients (None: people only)
    content_types: tuple[str, ...] = ("application/json",)

    @property
    def body(self) -> type[BaseModel] | None:
        return resolve(self.body_model)

    @property
    def query(self) -> type[BaseModel] | None:
        return resolve(self.query_model)


ROUTES: list[RouteDoc] = []


def principal() -> Principal:
    p = _principal.get()
    if p is None:  # pragma: no cover - only reachable if a public route asks for a principal
        raise AuthError("not authenticated")
    return p


def origin(r: Request) -> tuple[str | None, str | None]:
    """Where a request came from: API Gateway's source IP and the caller's user agent (the audit
    trail's "from where")."""
    context: dict[str, Any] = dict(r.context or {})
    identity: dict[str, Any] = dict(context.get("identity") or {})
    headers: Any = r.headers or {}
    return identity.get("sourceIp"), headers.get("user-agent")


def _audited_origin(r: Request) -> Any:
    """The audit trail's "from where" for this request (imported here: queue consumers never
    load the audit service for it)."""
    from chalicelib.audit import service as audit

    return audit.request_origin(*origin(r))


def error(status: int, code: str, message: str, details: dict[str, Any] | None = None) -> Response:
    headers: dict[str, str | list[str]] = (
        {"Retry-After": str(details["retry_after"])} if details and "retry_after" in details else {}
    )
    return Response(
        body={"error": code, "message": message, **(details or {})}, status_code=status, headers=headers
    )


def request(app: Chalice) -> Request:
    """The request being served (Chalice sets it before calling a view)."""
    current = app.current_request
    if current is None:  # pragma: no cover - only outside a request
        raise RuntimeError("no current request")
    return current


def body(app: Chalice, model: type[M]) -> M:
    raw = request(app).raw_body or b"{}"
    try:
        return resolve(model).model_validate(json.loads(raw))
    except ValidationError as exc:
        raise BadBody(describe(exc), details={"fields": field_errors(exc)}) from exc
    except (ValueError, UnicodeDecodeError) as exc:  # the parser's own words help nobody
        raise BadBody("the body is not valid JSON") from exc


def form_or_json(app: Chalice, model: type[M]) -> M:
    """The body as JSON, or as an HTML form (``application/x-www-form-urlencoded``, as OAuth 2
    token requests are sent), parsed by ``model``."""
    req = request(app)
    if (req.headers.get("content-type") or "").startswith("application/x-www-form-urlencoded"):
        from urllib.parse import parse_qsl

        try:
            raw = req.raw_body or b""
            fields = dict(parse_qsl(raw.decode() if isinstance(raw, bytes) else raw))
            return resolve(model).model_validate(fields)
        except ValidationError as exc:
            raise BadBody(describe(exc), details={"fields": field_errors(exc)}) from exc
        except UnicodeDecodeError as exc:
            raise BadBody("the form is not UTF-8") from exc
    return body(app, model)


def basic_credentials(app: Chalice) -> tuple[str, str] | None:
    """``(user, password)`` of an HTTP Basic ``Authorization`` header, if there is one."""
    import base64
    import binascii

    header = request(app).headers.get("authorization") or ""
    if not header.lower().startswith("basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:].strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise BadBody("malformed Basic credentials") from exc
    from urllib.parse import unquote

    return unquote(user), unquote(password)


def query(app: Chalice, model: type[M]) -> M:
    """The request's query string parsed by the route's query model (400 on a bad value)."""
    try:
        given = {k: v for k, v in (request(app).query_params or {}).items() if v != ""}  # ?cursor= is none
        return resolve(model).model_validate(given)
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
    body: ModelLike | None = None,
    query: ModelLike | None = None,
    response: Any = None,
    status: int = 200,
    errors: tuple[int, ...] = (),
    scope: str | None = None,
    content_types: tuple[str, ...] = ("application/json",),
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """``@route(app, "/x", role="agent")``: register a Chalice route that first verifies the caller's
    JWT and role (``role=None`` only for login, health and the OpenAPI document). ``body`` and
    ``query`` name the models the view parses, ``response`` the success answer's model (or JSON
    schema) sent with ``status``, ``errors`` any error status the route's shape does not imply:
    all of them go into the OpenAPI document (``chalicelib/openapi.py``). ``scope`` opens the route
    to API clients holding that scope (``chalicelib/auth/clients.py``; rate-limited per client):
    roles are for people, scopes for machines."""

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def view(*args: Any, **kwargs: Any) -> Any:
            token = None
            try:
                if role is not None:
                    token = _principal.set(
                        authenticate(request(app).headers.get("authorization"), role, scope)
                    )
                with _audited_origin(request(app)):
                    return fn(*args, **kwargs)
            except DomainError as exc:  # auth (401/403) included: status, code and details are its own
                return error(exc.status, exc.code, exc.message.splitlines()[0][:300], exc.details)
            except ValueError as exc:  # a library refused a value inside a service (e.g. pydantic)
                return error(400, "bad_request", str(exc).splitlines()[0][:300])
            finally:
                if token is not None:
                    _principal.reset(token)

        app.route(path, methods=list(methods), content_types=list(content_types))(view)
        doc = (fn.__doc__ or fn.__name__).strip()
        summary = doc.split("\n\n")[0].splitlines()[0]
        ROUTES.append(
            RouteDoc(
                path,
                methods,
                role,
                summary,
                body,
                query,
                response,
                status,
                errors,
                " ".join(doc.split()),
                scope,
                content_types,
            )
        )
        return view

    return decorate
