"""Analytics' pure parts: the duration sketch and the runs of buckets a range reads."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime

from chalicelib.analytics import buckets, sketch


def exact_quantile(values: list[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def test_short_durations_have_exact_percentiles_to_the_second() -> None:
    values = [3, 17, 17, 45, 60, 61, 90, 119, 2, 30]
    s = sketch.merge([{sketch.index(v): 1} for v in values])
    for q in (0.5, 0.9, 0.95):
        assert sketch.quantile(s, q) == exact_quantile(values, q)


def test_long_durations_are_within_one_percent_and_sketches_merge_by_adding() -> None:
    rng = random.Random(7)
    values = [rng.randint(1, 86400 * 3) for _ in range(5000)]
    half = len(values) // 2
    a = sketch.merge([{sketch.index(v): 1} for v in values[:half]])
    b = sketch.merge([{sketch.index(v): 1} for v in values[half:]])
    merged = sketch.merge([a, b])
    assert sum(merged.values()) == len(values)
    for q in (0.5, 0.9, 0.95):
        got, want = sketch.quantile(merged, q), exact_quantile(values, q)
        assert got is not None and abs(got - want) <= 0.01 * want + 1


def test_an_empty_sketch_has_no_percentile() -> None:
    assert sketch.quantile({}, 0.5) is None


def t(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=UTC)


def test_a_range_is_covered_by_minutes_hours_days_hours_minutes() -> None:
    runs = buckets.cover(t("2026-12-01T22:50"), t("2026-12-04T01:10"))
    assert runs == [
        buckets.Run("minute", "2026-12-01T22:50", "2026-12-01T22:59"),
        buckets.Run("hour", "2026-12-01T23", "2026-12-01T23"),
        buckets.Run("day", "2026-12-02", "2026-12-03"),
        buckets.Run("hour", "2026-12-04T00", "2026-12-04T00"),
        buckets.Run("minute", "2026-12-04T01:00", "2026-12-04T01:09"),
    ]


def test_ninety_whole_days_read_one_run_of_day_buckets() -> None:
    assert buckets.cover(t("2026-09-01T00:00"), t("2026-11-30T00:00")) == [
        buckets.Run("day", "2026-09-01", "2026-11-29")
    ]


def test_a_range_inside_one_hour_reads_minutes_only() -> None:
    assert buckets.cover(t("2026-12-01T10:05"), t("2026-12-01T10:07")) == [
        buckets.Run("minute", "2026-12-01T10:05", "2026-12-01T10:06")
    ]


def test_minute_buckets_expire_after_48_hours_and_day_buckets_never() -> None:
    at = t("2026-12-01T10:05:30")
    assert buckets.expires_at(at, "minute") == int(t("2026-12-03T10:06").timestamp())
    assert buckets.expires_at(at, "day") is None


def test_the_api_accepts_exactly_the_metrics_the_reports_compute() -> None:
    from typing import get_args

    from chalicelib import queries
    from chalicelib.analytics import reports

    assert get_args(queries.Metric) == reports.METRICS
