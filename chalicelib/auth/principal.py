"""Who is calling: a person (Cognito, a role) or a machine client (``auth.clients``, scopes), and
the errors that refuse them."""

from __future__ import annotations

from dataclasses import dataclass

from chalicelib import errors

RANKS = {"agent": 1, "supervisor": 2, "admin": 3}


class AuthError(errors.Unauthorized):
    """Missing, malformed, expired or forged credentials → 401."""


class Forbidden(errors.Forbidden):
    """Authenticated, but the role does not allow this → 403."""


@dataclass(frozen=True)
class Principal:
    agent_id: str
    role: str
    groups: frozenset[str]
    email: str | None = None
    client_id: str | None = None  # a machine client (``auth.clients``), not a person
    scopes: frozenset[str] = frozenset()

    def allows(self, role: str) -> bool:
        return RANKS.get(self.role, 0) >= RANKS[role]


__all__ = ["RANKS", "AuthError", "Forbidden", "Principal"]
