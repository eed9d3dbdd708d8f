"""Domain errors: the bottom of the house.

Capabilities raise subclasses of :class:`DomainError`; the HTTP glue (``chalicelib/api.py``) maps
them to answers by base class, reading ``status``, ``code`` and ``details``, so it never has to
import a service to learn its exceptions. Queue consumers treat them as permanent failures of one
record.

:class:`Invalid` is also a ``ValueError`` and :class:`NotFound` also a ``KeyError``, so code (and
tests) that catch the built-in kinds keep working while every one that reaches the API carries
its status and code.
"""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A request the domain refuses. ``status`` is the HTTP status the API answers with, ``code`` a
    stable machine-readable error code (part of the API contract), ``details`` extra fields of the
    error body."""

    status: int = 400
    code: str = "bad_request"

    def __init__(self, message: str = "", *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.details: dict[str, Any] = details or {}

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args and self.args[0] else self.code

    def __str__(self) -> str:
        return self.message


class Invalid(DomainError, ValueError):
    """A value the domain cannot accept (400)."""

    status = 400
    code = "bad_request"


class Unauthorized(DomainError):
    status = 401
    code = "unauthorized"


class Forbidden(DomainError):
    status = 403
    code = "forbidden"


class NotFound(DomainError, KeyError):
    """Raised with what is missing (``NotFound(f"ticket {ticket_id}")``); reads "ticket … not found"."""

    status = 404
    code = "not_found"

    @property
    def message(self) -> str:
        return f"{self.args[0] if self.args and self.args[0] else 'resource'} not found"


class Conflict(DomainError):
    """The current state does not allow it (409): a stale version, a closed conversation …"""

    status = 409
    code = "conflict"


class TooManyRequests(DomainError):
    status = 429
    code = "rate_limited"
