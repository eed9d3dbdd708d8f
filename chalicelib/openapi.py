"""The OpenAPI 3.1 document of the agent API, generated from the route table (``api.ROUTES``), the
request bodies' and query strings' pydantic models and the answers' schemas
(``chalicelib/responses.py``). Served at ``GET /api/openapi.json``; a client can generate an SDK
from it and ``schemathesis`` checks the running API against it (tests/e2e/test_api_contract.py).

Every schema lives once in ``components/schemas``: pydantic's nested ``$defs`` are hoisted there
(``ref_template``), so every ``$ref`` resolves. Error answers share one shape, ``{"error": code,
"message": text, ...}``, whose codes per status are the ``code`` of every ``DomainError`` subclass
with that status (``chalicelib/errors.py``).
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
import re
from collections.abc import Iterator
from typing import Any

from pydantic import BaseModel

from chalicelib import responses
from chalicelib.api import ROUTES, RouteDoc
from chalicelib.auth.bodies import SCOPES
from chalicelib.errors import DomainError

REF_TEMPLATE = "#/components/schemas/{model}"
DESCRIPTIONS = {
    200: "OK",
    201: "Created",
    202: "Accepted (queued)",
    204: "No content",
    302: "Found: Location is the resource",
    400: "Bad request: a body, query or path value the API refuses (nothing changed)",
    401: "Not authenticated: no, an expired or a forged token",
    403: "Forbidden: the caller's role or groups do not allow it",
    404: "Not found",
    409: "Conflict: the current state does not allow it (nothing changed)",
    429: "Too many requests",
}
# Errors the glue itself answers, beside the domain's own codes.
GLUE_CODES = {400: {"bad_request"}, 401: {"unauthorized"}, 403: {"forbidden"}, 404: {"not_found"}}


def _subclasses(cls: type[DomainError]) -> Iterator[type[DomainError]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


@functools.cache
def _load_every_module() -> None:
    """The services are imported on first use (app.py), so a service's error classes may not be loaded
    yet when the document is built: load every module of chalicelib once (offline tools excepted)."""
    import chalicelib

    for found in pkgutil.walk_packages(chalicelib.__path__, "chalicelib."):
        if found.name.rsplit(".", 1)[-1] not in {"evaluate", "__main__"}:
            importlib.import_module(found.name)


def error_codes() -> dict[int, list[str]]:
    """Every stable error code the API can answer, by HTTP status."""
    _load_every_module()
    codes: dict[int, set[str]] = {status: set(names) for status, names in GLUE_CODES.items()}
    classes: list[type[DomainError]] = [DomainError, *_subclasses(DomainError)]
    for cls in classes:
        codes.setdefault(cls.status, set()).add(cls.code)
    return {status: sorted(names) for status, names in sorted(codes.items())}


def _keys_by_pattern(node: Any) -> Any:
    """pydantic writes ``dict[ConstrainedKey, V]`` as ``patternProperties``, which lets any other
    key through; the API refuses those, so say it as JSON Schema does: ``propertyNames`` and
    ``additionalProperties``."""
    if isinstance(node, dict):
        node = {k: _keys_by_pattern(v) for k, v in node.items()}
        patterns = node.get("patternProperties")
        if isinstance(patterns, dict) and len(patterns) == 1 and "additionalProperties" not in node:
            ((pattern, values),) = patterns.items()
            del node["patternProperties"]
            node["propertyNames"] = {"pattern": pattern}
            node["additionalProperties"] = values
        return node
    if isinstance(node, list):
        return [_keys_by_pattern(v) for v in node]
    return node


class _Schemas:
    """components/schemas, filled as routes name models."""

    def __init__(self) -> None:
        self.schemas: dict[str, Any] = {}

    def model(self, cls: type[BaseModel]) -> dict[str, Any]:
        name = cls.__name__
        if name not in self.schemas:
            schema = _keys_by_pattern(cls.model_json_schema(ref_template=REF_TEMPLATE))
            for def_name, definition in schema.pop("$defs", {}).items():
                self.schemas.setdefault(def_name, definition)
            self.schemas[name] = schema
        return {"$ref": REF_TEMPLATE.format(model=name)}


def _parameters(r: RouteDoc, schemas: _Schemas) -> list[dict[str, Any]]:
    params: list[dict[str, Any]] = [
        {"name": p[1:-1], "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
        for p in r.path.split("/")
        if p.startswith("{")
    ]
    if r.query is not None:
        schemas.model(r.query)
        schema = r.query.model_json_schema(ref_template=REF_TEMPLATE)
        for name, prop in schema.get("properties", {}).items():
            param: dict[str, Any] = {
                "name": name,
                "in": "query",
                "required": name in schema.get("required", []),
                "schema": {k: v for k, v in prop.items() if k not in ("title", "description")},
            }
            if "description" in prop:
                param["description"] = prop["description"]
            params.append(param)
    return params


def _error_statuses(r: RouteDoc, method: str) -> list[int]:
    statuses = {400}
    if r.role is not None:
        statuses |= {401, 403}
    if "{" in r.path or method != "GET":  # a path id, or an id in the body, may name nothing
        statuses.add(404)
    if method != "GET":
        statuses.add(409)
    if r.scope is not None:  # an API client's rate limit
        statuses.add(429)
    return sorted(statuses | set(r.errors))


def _success(r: RouteDoc, schemas: _Schemas) -> dict[str, Any]:
    answer: dict[str, Any] = {"description": DESCRIPTIONS.get(r.status, "OK")}
    if r.status == 302:
        answer["headers"] = {"Location": {"required": True, "schema": {"type": "string"}}}
        return answer
    if r.status == 204:  # no body (a CORS preflight)
        return answer
    schema: dict[str, Any] = {"type": "object"}
    if isinstance(r.response, type) and issubclass(r.response, BaseModel):
        schema = schemas.model(r.response)
    elif r.response is not None:
        schema = r.response
    answer["content"] = {"application/json": {"schema": schema}}
    return answer


def _operation(r: RouteDoc, method: str, schemas: _Schemas, codes: dict[int, list[str]]) -> dict[str, Any]:
    op: dict[str, Any] = {
        "operationId": method.lower() + re.sub(r"[^A-Za-z0-9]+", "_", r.path).rstrip("_"),
        "summary": r.summary,
        "description": r.description,
        "tags": [r.path.strip("/").split("/")[0]],
        "security": ([{"cognito": []}] if r.role else []) + ([{"apiClient": [r.scope]}] if r.scope else []),
        "x-omniflow-role": r.role,
        "x-omniflow-scope": r.scope,
    }
    params = _parameters(r, schemas)
    if params:
        op["parameters"] = params
    if r.body is not None:
        op["requestBody"] = {  # no body reads as {}: optional when the model needs no field
            "required": any(f.is_required() for f in r.body.model_fields.values()),
            "content": {kind: {"schema": schemas.model(r.body)} for kind in r.content_types},
        }
    answers: dict[str, Any] = {str(r.status): _success(r, schemas)}
    if r.path.endswith("/attachments/{index}"):  # ?redirect=0: the link as JSON
        answers["200"] = {
            "description": "The link (?redirect=0)",
            "content": {"application/json": {"schema": responses.ATTACHMENT_LINK}},
        }
    if r.path == "/customers/{customer_id}/export":  # a large customer (or ?mode=async): a job
        answers["202"] = {
            "description": "Exported asynchronously: GET /customers/{customer_id}/exports/{export_id}",
            "content": {"application/json": {"schema": responses.EXPORT_JOB}},
        }
    for status in _error_statuses(r, method):
        answers[str(status)] = {
            "description": DESCRIPTIONS.get(status, "Error"),
            "content": {
                "application/json": {
                    "schema": {
                        "allOf": [
                            {"$ref": "#/components/schemas/Error"},
                            {"properties": {"error": {"enum": codes.get(status, ["bad_request"])}}},
                        ]
                    }
                }
            },
        }
    op["responses"] = answers
    return op


def document(title: str, version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of every registered route."""
    schemas, codes = _Schemas(), error_codes()
    paths: dict[str, Any] = {}
    for r in ROUTES:
        for method in r.methods:
            paths.setdefault(r.path, {})[method.lower()] = _operation(r, method, schemas, codes)
    for cls in responses.models():  # answered as they are (the schema of what they accept)
        schemas.model(cls)
    schemas.schemas.update(responses.components())
    schemas.schemas["Error"] = {
        "type": "object",
        "description": "Every error answer: a stable code, a sentence for people, and sometimes more "
        "fields (e.g. template_required carries last_inbound_at and templates).",
        "required": ["error", "message"],
        "properties": {"error": {"type": "string"}, "message": {"type": "string"}},
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "description": "The agent API of Omniflow. Every error answers "
            '{"error": <code>, "message": <text>, ...}; codes by status: '
            + "; ".join(f"{s}: {', '.join(c)}" for s, c in codes.items()),
        },
        "servers": [{"url": "/api"}],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(schemas.schemas.items())),
            "securitySchemes": {
                "cognito": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT (Cognito ID token)"},
                "apiClient": {
                    "type": "oauth2",
                    "description": "Machine clients (an admin creates them): client credentials for a "
                    "short-lived token; each route names the scope it needs; rate-limited per client "
                    "(429 with Retry-After).",
                    "flows": {
                        "clientCredentials": {
                            "tokenUrl": "/api/oauth/token",
                            "scopes": {scope: scope.replace(":", " ") for scope in sorted(SCOPES)},
                        }
                    },
                },
            },
        },
    }
