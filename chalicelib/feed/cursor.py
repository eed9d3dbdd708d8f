"""The feed cursor: which events a poller has already been given. Pure functions, no AWS.

Event ids are ``<time>#<suffix>`` and each poll Queries ``event_id > since`` on every audience of
the agent. An event is stamped with its time just before it is written, so it can become visible
a little after a later-stamped one; a cursor that kept only "the last id seen" would skip it. So
the cursor keeps a watermark ``since`` that trails the poll time by ``OVERLAP`` and the ids it
already delivered after the watermark, and a poll returns the ids after ``since`` that are not
among them. Nothing is missed as long as every event is visible within ``OVERLAP`` of its stamp
(``service.publish`` stamps immediately before each write and counts late writes), nothing is
repeated (the same event in two audiences, or in two polls, is one id), and a poll reads at most
``OVERLAP`` seconds of events per audience, whatever the history.

The opaque form is URL-safe text: ``f1.<since>[.<offset>-<suffix>]…`` — the watermark in epoch
milliseconds and each delivered id as milliseconds after it, base 36: about 13 bytes per event of
the last ``OVERLAP`` seconds (the console sends it back as ``?cursor=``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from chalicelib.errors import Invalid
from chalicelib.messages import iso

OVERLAP = timedelta(seconds=5)
VERSION = "f1"
MAX_SEEN = 2000  # a forged or corrupted cursor cannot make a poll unbounded
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_SUFFIX = re.compile(r"^[0-9a-f]{1,32}$")


class BadCursor(Invalid):
    """The cursor is not one this service issued."""


@dataclass(frozen=True)
class CursorState:
    since: str  # ISO time: every event stamped at or before it has been delivered (or skipped as old)
    seen: frozenset[str] = field(default_factory=frozenset)  # ids delivered that are > since


@dataclass(frozen=True)
class Page:
    """What one audience's Query returned (ascending ids) and whether it stopped at its limit."""

    ids: Sequence[str]
    truncated: bool = False


def stamp_time(event_id: str) -> str:
    return event_id.split("#", 1)[0]


def _ms(ts: str) -> int:
    return (datetime.fromisoformat(ts.replace("Z", "+00:00")) - _EPOCH) // _MS


def _ts(ms: int) -> str:
    return iso(_EPOCH + timedelta(milliseconds=ms))


def _b36(n: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while True:
        n, r = divmod(n, 36)
        out = digits[r] + out
        if not n:
            return out


def encode(state: CursorState) -> str:
    base = _ms(state.since)
    seen = sorted(f"{_b36(_ms(stamp_time(i)) - base)}-{i.split('#', 1)[1]}" for i in state.seen)
    return ".".join([VERSION, _b36(base), *seen])


def decode(cursor: str, now: datetime) -> CursorState:
    """The state behind an opaque cursor. A watermark in the future is pulled back to ``now``."""
    parts = cursor.split(".")
    if len(parts) < 2 or parts[0] != VERSION:
        raise BadCursor("not a feed cursor")
    if len(parts) > MAX_SEEN + 2:
        raise BadCursor("cursor too long")
    try:
        base = int(parts[1], 36)
        seen = set()
        for entry in parts[2:]:
            offset, suffix = entry.split("-", 1)
            if not _SUFFIX.match(suffix):
                raise BadCursor("bad cursor entry")
            seen.add(f"{_ts(base + int(offset, 36))}#{suffix}")
        since = min(_ts(base), iso(now))
    except BadCursor:
        raise
    except (ValueError, OverflowError) as exc:
        raise BadCursor("not a feed cursor") from exc
    return CursorState(since, frozenset(i for i in seen if i > since))


def start(now: datetime) -> CursorState:
    """Where a first poll starts: ``OVERLAP`` back, so events stamped just before it are caught
    (the first poll marks them seen and returns none: no history, only what happens next)."""
    return CursorState(iso(now - OVERLAP))


def advance(
    state: CursorState, pages: Iterable[Page], now: datetime, cap: int
) -> tuple[list[str], CursorState]:
    """Given what each audience's Query after ``state.since`` returned at ``now`` (taken before
    the Queries), the ids to deliver (oldest first, at most ``cap``, each once) and the next state.

    The watermark moves to ``now - OVERLAP`` — or, when the answer was cut short (``cap``, or an
    audience's Query limit), no further than the first event not delivered, so the next poll
    continues from there."""
    fresh: set[str] = set()
    horizon: list[str] = []
    for page in pages:
        fresh.update(i for i in page.ids if i > state.since and i not in state.seen)
        if page.truncated and page.ids:
            horizon.append(max(page.ids))
    ordered = sorted(fresh)
    delivered = ordered[:cap]
    if len(ordered) > cap:
        horizon.append(ordered[cap])
    since = iso(now - OVERLAP)
    if horizon:
        since = min(since, stamp_time(min(horizon)))
    since = max(since, state.since)
    seen = frozenset(i for i in state.seen | set(delivered) if i > since)
    return delivered, CursorState(since, seen)
