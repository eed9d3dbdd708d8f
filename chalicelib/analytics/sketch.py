"""Mergeable duration sketch on fixed buckets (pure, no AWS).

A duration in whole seconds goes into bucket ``index(s)``: one bucket per second below
``EXACT`` (so percentiles of short durations are exact to the second), then logarithmic buckets
of ratio ``GAMMA`` (relative error under 1 % for longer ones). Buckets are fixed, so two sketches
merge by adding their counts — minute, hour and day buckets of any range merge into one sketch
and p50/p90/p95 need no rescan.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

EXACT = 120
GAMMA = 1.02
_LOG_GAMMA = math.log(GAMMA)


def index(seconds: float) -> int:
    s = max(0, round(seconds))
    if s < EXACT:
        return s
    return EXACT + math.floor(math.log(s / EXACT) / _LOG_GAMMA + 1e-9)


def value(i: int) -> int:
    """The bucket's representative duration in seconds (its midpoint for log buckets)."""
    if i < EXACT:
        return i
    low = EXACT * GAMMA ** (i - EXACT)
    return round(low * (1 + GAMMA) / 2)


def merge(sketches: Iterable[Mapping[int, int]]) -> dict[int, int]:
    out: dict[int, int] = {}
    for sketch in sketches:
        for i, n in sketch.items():
            out[i] = out.get(i, 0) + int(n)
    return out


def quantile(sketch: Mapping[int, int], q: float) -> int | None:
    """Nearest-rank quantile: the smallest bucket value v with count(<= v) >= ceil(q * n)."""
    n = sum(sketch.values())
    if n <= 0:
        return None
    rank = max(1, math.ceil(q * n))
    seen = 0
    for i in sorted(sketch):
        seen += sketch[i]
        if seen >= rank:
            return value(i)
    return value(max(sketch))  # pragma: no cover - unreachable: seen reaches n
