"""Optimistic concurrency for items admins edit (routing rules, SLA policies, calendars): the editor sends the
version it read, the write is conditional on it (PynamoDB's ``VersionAttribute``), and a version
that moved meanwhile is a 409 rather than a silent overwrite of someone else's change."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pynamodb.exceptions import DoesNotExist, PutError

from chalicelib.errors import Conflict


class VersionConflict(Conflict):
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


T = TypeVar("T")


def read_list_item(
    model: Any,
    key: tuple[str, str],
    field: str,
    make: Callable[..., T],
    *,
    consistent: bool,
    invalid: str,
) -> T:
    """Read one versioned config item holding an ordered list (``field``: the routing rules, the
    SLA policies) into ``make(version=, <field>=, updated_at=, updated_by=)``; ``make()`` when it
    does not exist. A stored list that no longer validates (only a hand-edited item can) is logged
    with ``invalid`` and read as empty at its version, so the hot path carries on."""
    from pydantic import ValidationError

    from chalicelib.observability import logger

    try:
        item = model.get(*key, consistent_read=consistent)
    except DoesNotExist:
        return make()
    try:
        return make(
            version=int(item.version),
            updated_at=item.updated_at,
            updated_by=item.updated_by,
            **{field: getattr(item, field)},
        )
    except ValidationError:
        logger.error(invalid, extra={"version": item.version})
        return make(version=int(item.version))
