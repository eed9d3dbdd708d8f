"""Stored calendars: the admin API lists and replaces them; routing rules and SLA deadlines read
them through a per-instance cache (``CACHE_SECONDS``), so a hot Lambda makes at most one GetItem
per calendar (or one Query for all of them) every half minute. A change is seen at once by the
instance that saved it and by every other within ``CACHE_SECONDS``."""

from __future__ import annotations

import threading
import time
from typing import Any

from cachetools import TTLCache, cached
from pydantic import ValidationError
from pynamodb.exceptions import DoesNotExist

from chalicelib.audit import service as audit
from chalicelib.calendars.hours import BusinessHours, CalendarUpdate
from chalicelib.calendars.models import CALENDAR, CalendarItem
from chalicelib.errors import NotFound
from chalicelib.messages import iso, utcnow
from chalicelib.observability import logger
from chalicelib.versions import save_versioned

CACHE_SECONDS = 30


def _clock() -> float:
    return time.monotonic()


_ONE: TTLCache[str, BusinessHours | None] = TTLCache(maxsize=256, ttl=CACHE_SECONDS, timer=lambda: _clock())
_ALL: TTLCache[str, dict[str, BusinessHours]] = TTLCache(maxsize=1, ttl=CACHE_SECONDS, timer=lambda: _clock())
_LOCK = threading.Lock()


def _calendar(item: CalendarItem) -> BusinessHours | None:
    try:
        return BusinessHours.model_validate({**item.definition, "name": item.name})
    except ValidationError:
        # Saved through the same model, so only a hand-edited item gets here: skip it, loudly.
        logger.error("stored calendar is invalid", extra={"calendar": item.name})
        return None


def _view(item: CalendarItem) -> dict[str, Any]:
    return {
        **item.definition,
        "name": item.name,
        "version": int(item.version),
        "updated_at": item.updated_at,
        "updated_by": item.updated_by,
    }


@cached(cache=_ONE, lock=_LOCK)
def _load(name: str) -> BusinessHours | None:
    try:
        return _calendar(CalendarItem.get(CALENDAR, name))
    except DoesNotExist:
        return None


def get_calendar(name: str) -> BusinessHours:
    """A calendar by name (cached per instance). Raises KeyError when there is none."""
    calendar = _load(name)
    if calendar is None:
        raise NotFound(f"calendar {name!r}")
    return calendar


@cached(cache=_ALL, lock=_LOCK, key=lambda: "all")
def all_calendars() -> dict[str, BusinessHours]:
    """Every calendar by name (one Query, cached per instance): what routing rules evaluate."""
    loaded = ((item.name, _calendar(item)) for item in CalendarItem.query(CALENDAR))
    return {name: calendar for name, calendar in loaded if calendar is not None}


def list_calendars() -> list[dict[str, Any]]:
    """Every calendar with its version, read now (the admin's view)."""
    return [_view(item) for item in CalendarItem.query(CALENDAR, consistent_read=True)]


def calendar_view(name: str) -> dict[str, Any]:
    """One calendar with its version, read now. Raises KeyError."""
    try:
        return _view(CalendarItem.get(CALENDAR, name, consistent_read=True))
    except DoesNotExist:
        raise NotFound(f"calendar {name!r}") from None


def fetch(names: set[str]) -> dict[str, BusinessHours]:
    """The stored calendars among ``names``, read now (one BatchGetItem): a save's validation and
    the admin's dry run."""
    if not names:
        return {}
    keys = [(CALENDAR, name) for name in sorted(names)]
    loaded = ((item.name, _calendar(item)) for item in CalendarItem.batch_get(keys, consistent_read=True))
    return {name: calendar for name, calendar in loaded if calendar is not None}


def put_calendar(name: str, update: CalendarUpdate, actor: str) -> dict[str, Any]:
    """Create (``update.version`` 0) or replace a calendar, only if its version has not moved
    (else ``VersionConflict``, a 409). Audited."""
    calendar = BusinessHours.model_validate({**update.model_dump(exclude={"version"}), "name": name})
    item = CalendarItem(
        CALENDAR,
        name,
        definition=calendar.model_dump(mode="json", exclude={"name"}),
        updated_at=iso(utcnow()),
        updated_by=actor,
    )
    version = save_versioned(item, update.version, f"calendar {name!r}")
    audit.record(
        f"calendar#{name}", actor, "calendar.put", {"version": version, "previous_version": update.version}
    )
    reset()
    return _view(item)


def reset() -> None:
    """Forget cached calendars (after a save here; tests)."""
    with _LOCK:
        _ONE.clear()
        _ALL.clear()
