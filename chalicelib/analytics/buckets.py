"""Bucket keys and ranges (pure, no AWS).

An item of the analytics table is one bucket: ``scope`` = ``<grain>#<dimension>`` (``minute#all``,
``hour#group:presales``, ``day#agent:agent1``) and ``bucket`` = the bucket's UTC start truncated to
the grain (``2026-12-07T18:05``, ``2026-12-07T18``, ``2026-12-07``), so a range of one grain is one
Query with ``bucket BETWEEN``. Minute buckets live 48 h, hour buckets 90 days, day buckets forever.

``cover(start, end)`` splits ``[start, end)`` into at most five runs — minutes up to the first
whole hour, hours up to the first whole day, days, hours, minutes — so a report reads
O(buckets in the range), whatever the traffic, and 90 days cost about 90 day items plus edges.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

GRAINS: dict[str, timedelta] = {
    "minute": timedelta(minutes=1),
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
}
FORMATS = {"minute": "%Y-%m-%dT%H:%M", "hour": "%Y-%m-%dT%H", "day": "%Y-%m-%d"}
KEEP: dict[str, timedelta | None] = {"minute": timedelta(hours=48), "hour": timedelta(days=90), "day": None}


def parse(ts: str) -> datetime:
    t = datetime.fromisoformat(ts.replace("Z", "+00:00"))
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)


def floor(t: datetime, grain: str) -> datetime:
    t = t.astimezone(UTC)
    if grain == "minute":
        return t.replace(second=0, microsecond=0)
    if grain == "hour":
        return t.replace(minute=0, second=0, microsecond=0)
    return t.replace(hour=0, minute=0, second=0, microsecond=0)


def key(t: datetime, grain: str) -> str:
    return floor(t, grain).strftime(FORMATS[grain])


def start_of(bucket: str, grain: str) -> datetime:
    return datetime.strptime(bucket, FORMATS[grain]).replace(tzinfo=UTC)


def scope(grain: str, dimension: str) -> str:
    return f"{grain}#{dimension}"


def expires_at(t: datetime, grain: str) -> int | None:
    keep = KEEP[grain]
    return None if keep is None else int((floor(t, grain) + GRAINS[grain] + keep).timestamp())


@dataclass(frozen=True)
class Run:
    """Buckets ``first`` .. ``last`` (keys, inclusive) of one grain."""

    grain: str
    first: str
    last: str


def _ceil(t: datetime, grain: str) -> datetime:
    f = floor(t, grain)
    return f if f == t else f + GRAINS[grain]


def cover(start: datetime, end: datetime) -> list[Run]:
    """Runs of whole buckets covering ``[start, end)`` (both rounded down to the minute)."""
    start, end = floor(start, "minute"), floor(end, "minute")
    runs: list[Run] = []

    def add(grain: str, a: datetime, b: datetime) -> None:
        if a < b:
            runs.append(Run(grain, key(a, grain), key(b - GRAINS[grain], grain)))

    h0 = min(_ceil(start, "hour"), end)
    h1 = max(floor(end, "hour"), h0)
    d0 = min(_ceil(h0, "day"), h1)
    d1 = max(floor(h1, "day"), d0)
    add("minute", start, h0)
    add("hour", h0, d0)
    add("day", d0, d1)
    add("hour", d1, h1)
    add("minute", h1, end)
    return runs


def series(start: datetime, end: datetime, grain: str) -> list[str]:
    """Every bucket key of ``grain`` from ``start`` (rounded down) up to ``end`` (excluded)."""
    t, out = floor(start, grain), []
    while t < end:
        out.append(key(t, grain))
        t += GRAINS[grain]
    return out
