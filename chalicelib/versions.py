"""Optimistic concurrency for items admins edit (routing rules, calendars): the editor sends the
version it read, the write is conditional on it (PynamoDB's ``VersionAttribute``), and a version
that moved meanwhile is a 409 rather than a silent overwrite of someone else's change."""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import PutError

from chalicelib.conversations.service import NotAllowed


class VersionConflict(NotAllowed):
    """The item changed since the version the editor read (the API answers 409)."""


def save_versioned(item: Any, expected: int, what: str) -> int:
    """Save ``item`` (a model with a ``version`` ``VersionAttribute``) only if the stored version is
    still ``expected`` (0: only if it does not exist yet). ``item`` is a fresh instance, without a
    version of its own. Returns the new version."""
    if expected:
        item.version = expected
    try:
        item.save()
    except PutError as exc:
        if getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException":
            raise VersionConflict(f"{what} changed since version {expected}: reload and retry") from exc
        raise
    return int(item.version)
