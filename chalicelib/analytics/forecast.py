"""Forecast and staffing: next week's volume per half hour from the hour buckets, and the agents
needed to answer ``level`` (80 %) of it within ``target`` seconds (20 s), by Erlang C.

Pure functions (no AWS): ``seasonal`` turns past hourly counts into a mean per weekday and hour
(every week of history weighs the same; an hour never seen counts 0), ``week`` spreads it over the
half hours of the coming week, ``agents_needed`` is the smallest agent count whose Erlang C service
level reaches the goal for one half hour's traffic at the measured handle time.

Erlang C for ``n`` agents and traffic ``a = calls × handle / interval`` (Erlangs):
``P(wait) = (aⁿ/n! · n/(n−a)) / (Σ_{k<n} aᵏ/k! + aⁿ/n! · n/(n−a))`` and
``SL(t) = 1 − P(wait) · e^{−(n−a)·t/handle}``; computed with the Erlang B recursion (no factorials).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

HALF_HOUR = 1800
MAX_AGENTS = 1000


def erlang_c(agents: int, traffic: float) -> float:
    """The probability that a contact waits, for ``agents`` and ``traffic`` Erlangs (1 if n ≤ a)."""
    if traffic <= 0:
        return 0.0
    if agents <= traffic:
        return 1.0
    b = 1.0  # Erlang B, by recursion over the agents
    for k in range(1, agents + 1):
        b = traffic * b / (k + traffic * b)
    return agents * b / (agents - traffic * (1 - b))


def service_level(
    agents: int, calls: float, handle_s: float, target_s: float, interval_s: int = HALF_HOUR
) -> float:
    """The share of ``calls`` (in ``interval_s``) answered within ``target_s``."""
    if calls <= 0:
        return 1.0
    traffic = calls * handle_s / interval_s
    if agents <= traffic:
        return 0.0
    return 1.0 - erlang_c(agents, traffic) * math.exp(-(agents - traffic) * target_s / handle_s)


def agents_needed(
    calls: float, handle_s: float, *, target_s: float = 20, level: float = 0.8, interval_s: int = HALF_HOUR
) -> int:
    """The fewest agents answering ``level`` of ``calls`` within ``target_s`` (0 for no calls)."""
    if calls <= 0 or handle_s <= 0:
        return 0
    n = max(1, math.floor(calls * handle_s / interval_s) + 1)
    while service_level(n, calls, handle_s, target_s, interval_s) < level:
        n += 1
        if n > MAX_AGENTS:
            raise ValueError("more than 1000 agents: check the volume and handle time")
    return n


def seasonal(hourly: Mapping[datetime, float], weeks: int) -> dict[tuple[int, int], float]:
    """Mean count per (weekday 0=Mon, hour) over ``weeks`` weeks of hourly counts (UTC hours)."""
    sums: dict[tuple[int, int], float] = {}
    for t, n in hourly.items():
        k = (t.weekday(), t.hour)
        sums[k] = sums.get(k, 0.0) + float(n or 0)
    return {(d, h): sums.get((d, h), 0.0) / max(1, weeks) for d in range(7) for h in range(24)}


@dataclass(frozen=True)
class Slot:
    start: datetime
    volume: float
    agents: int


def week(
    profile: Mapping[tuple[int, int], float],
    start: datetime,
    handle_s: float,
    *,
    target_s: float = 20,
    level: float = 0.8,
) -> list[Slot]:
    """The 336 half hours from ``start`` (a UTC midnight): half of the hour's mean each, and the
    agents it needs."""
    out = []
    for i in range(7 * 48):
        t = start + timedelta(seconds=i * HALF_HOUR)
        volume = profile.get((t.weekday(), t.hour), 0.0) / 2
        out.append(Slot(t, round(volume, 2), agents_needed(volume, handle_s, target_s=target_s, level=level)))
    return out


def hourly_counts(points: Iterable[Mapping[str, object]]) -> dict[datetime, float]:
    """``reports.timeseries`` points (``{"t": "…Z", "value": n}``) as {hour start: count}."""
    out: dict[datetime, float] = {}
    for p in points:
        value = p.get("value")
        out[datetime.fromisoformat(str(p["t"]).replace("Z", "+00:00"))] = (
            float(value) if isinstance(value, (int, float)) else 0.0
        )
    return out


DEFAULT_HANDLE_S = 300  # when the range has no measured handle time yet


def plan(
    group: str | None,
    now: datetime | None = None,
    *,
    weeks: int | str = 4,
    target_s: float = 20,
    level: float = 0.8,
) -> dict[str, object]:
    """``GET /reports/forecast``: next week (from the coming Monday, UTC) for one group or all,
    from the last ``weeks`` whole weeks of hour buckets (one Query) and the handle time measured
    over them (``handle.avg_s`` of the overview, at most five Queries)."""
    from chalicelib.analytics import reports
    from chalicelib.errors import Invalid
    from chalicelib.messages import utcnow

    if not str(weeks).isdigit() or not 1 <= int(weeks) <= 12:
        raise Invalid("weeks is 1..12")
    if group is not None and not 1 <= len(group) <= 64:
        raise Invalid("group is an id of 1..64 characters")
    weeks, now = int(weeks), now or utcnow()
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = today + timedelta(days=7 - today.weekday())  # the coming Monday
    since = today - timedelta(weeks=weeks)
    series = reports.timeseries("conversations", "hour", since, today, group=group)
    measured = reports.overview(since, today, group=group)["handle"]["avg_s"]
    handle_s = float(measured) if measured else float(DEFAULT_HANDLE_S)
    slots = week(
        seasonal(hourly_counts(series["points"]), weeks), start, handle_s, target_s=target_s, level=level
    )
    days = []
    for d in range(7):
        part = slots[d * 48 : (d + 1) * 48]
        days.append(
            {
                "day": part[0].start.date().isoformat(),
                "volume": round(sum(s.volume for s in part), 1),
                "peak_agents": max(s.agents for s in part),
                "agent_hours": sum(s.agents for s in part) / 2,
            }
        )
    return {
        "group": group,
        "weeks": weeks,
        "handle_s": round(handle_s, 1),
        "handle_measured": bool(measured),
        "target_s": target_s,
        "level": level,
        "from": start.isoformat().replace("+00:00", "Z"),
        "slots": [
            {"t": s.start.isoformat().replace("+00:00", "Z"), "volume": s.volume, "agents": s.agents}
            for s in slots
        ],
        "days": days,
    }
