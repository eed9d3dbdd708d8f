"""Request bodies of the API-client admin routes and the token endpoint."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chalicelib.bodies import Body

Scope = Literal[
    "conversations:read",
    "conversations:write",
    "tickets:read",
    "tickets:write",
    "customers:read",
    "events:write",
    "reports:read",
]
SCOPES: frozenset[str] = frozenset(Scope.__args__)  # type: ignore[attr-defined]


class ApiClientBody(Body):
    name: str = Field(min_length=1, max_length=80, description="who uses it, e.g. the CRM sync")
    scopes: list[Scope] = Field(min_length=1, max_length=len(SCOPES), description="what it may call")
    rate_limit: int = Field(default=600, ge=1, le=60000, description="requests per minute, 1..60000")


class TokenBody(Body):
    grant_type: Literal["client_credentials"]
    client_id: str | None = Field(default=None, pattern=r"^cli_[0-9a-f]{16}$", description="or HTTP Basic")
    client_secret: str | None = Field(
        default=None, min_length=10, max_length=200, description="or HTTP Basic"
    )
    scope: str | None = Field(
        default=None, max_length=400, description="space-separated; a subset of the client's (default: all)"
    )
