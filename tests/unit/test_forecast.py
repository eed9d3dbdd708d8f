"""Forecast and staffing (chalicelib/analytics/forecast.py): Erlang C against the textbook formula
with factorials, the agents needed as the fewest meeting 80 % in 20 s, the weekly seasonal mean
per weekday and hour, and the coming week's 336 half hours."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.analytics import forecast


def textbook_erlang_c(n: int, a: float) -> float:
    top = a**n / math.factorial(n) * n / (n - a)
    return top / (sum(a**k / math.factorial(k) for k in range(n)) + top)


@pytest.mark.parametrize(("n", "a"), [(1, 0.5), (3, 2.0), (12, 10.0), (30, 25.5), (60, 41.3)])
def test_erlang_c_equals_the_textbook_formula(n: int, a: float) -> None:
    assert forecast.erlang_c(n, a) == pytest.approx(textbook_erlang_c(n, a), rel=1e-9)


def test_no_traffic_never_waits_and_too_few_agents_always_wait() -> None:
    assert forecast.erlang_c(3, 0) == 0
    assert forecast.erlang_c(10, 10) == 1 and forecast.erlang_c(9, 10) == 1
    assert forecast.service_level(10, 200, 180, 20) == 0  # 20 Erlangs on 10 agents


def test_agents_needed_is_the_fewest_meeting_80_percent_in_20_seconds() -> None:
    # the worked example: 100 contacts in half an hour at 3 minutes each = 10 Erlangs; 12 agents
    # wait 44.9 % of the time and answer 64.0 % in 20 s, 13 answer 79.6 %, 14 answer 88.8 %
    assert forecast.erlang_c(12, 10) == pytest.approx(0.4494, abs=1e-4)
    assert [round(forecast.service_level(k, 100, 180, 20), 3) for k in (12, 13, 14)] == [0.640, 0.796, 0.888]
    n = forecast.agents_needed(100, 180)
    assert n == 14
    assert forecast.agents_needed(0, 180) == 0
    assert forecast.agents_needed(1, 180) == 1
    # more traffic, a stricter goal or a longer handle time never needs fewer agents
    assert forecast.agents_needed(200, 180) > n
    assert forecast.agents_needed(100, 180, level=0.9) >= n
    assert forecast.agents_needed(100, 240) > n


def test_seasonal_profile_is_the_mean_per_weekday_and_hour_over_the_weeks() -> None:
    monday = datetime(2026, 11, 2, tzinfo=UTC)
    hourly = {monday + timedelta(weeks=w, hours=10): 10 + 4 * w for w in range(4)}  # 10, 14, 18, 22
    hourly[monday + timedelta(days=5, hours=3)] = 8  # one Saturday night
    profile = forecast.seasonal(hourly, weeks=4)
    assert len(profile) == 7 * 24
    assert profile[(0, 10)] == 16
    assert profile[(5, 3)] == 2  # once in four weeks
    assert profile[(1, 10)] == 0


def test_the_coming_week_has_336_half_hours_with_half_the_hours_mean_and_its_agents() -> None:
    profile = {(d, h): 0.0 for d in range(7) for h in range(24)}
    profile[(0, 10)] = 200.0  # Monday 10:00-11:00: 100 per half hour
    start = datetime(2026, 12, 7, tzinfo=UTC)  # a Monday
    slots = forecast.week(profile, start, handle_s=180)
    assert (
        len(slots) == 336
        and slots[0].start == start
        and slots[-1].start == start + timedelta(minutes=30 * 335)
    )
    busy = [s for s in slots if s.volume]
    assert [(s.start.hour, s.start.minute, s.volume, s.agents) for s in busy] == [
        (10, 0, 100, 14),
        (10, 30, 100, 14),
    ]
    assert all(s.agents == 0 for s in slots if not s.volume)


def test_hourly_counts_read_the_timeseries_points() -> None:
    points: list[dict[str, object]] = [
        {"t": "2026-12-01T10:00:00Z", "value": 3},
        {"t": "2026-12-01T11:00:00Z", "value": None},
    ]
    assert forecast.hourly_counts(points) == {
        datetime(2026, 12, 1, 10, tzinfo=UTC): 3.0,
        datetime(2026, 12, 1, 11, tzinfo=UTC): 0.0,
    }
