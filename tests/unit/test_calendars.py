"""Business hours, pure: nights, weekends, holidays and special days, DST gaps and overlaps, zones
without DST, 24/7 and never-open calendars, long spans — checked against hand-worked answers and
against a brute-force minute-by-minute oracle."""

from __future__ import annotations

import random
import time
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from chalicelib.calendars.hours import BusinessHours, CalendarUpdate, NeverOpen, TooFar

HOUR = 3600
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri")


def calendar(zone: str, weekly: dict, **kw) -> BusinessHours:
    return BusinessHours(name="test", time_zone=zone, weekly=weekly, **kw)


def office(zone: str, hours: list[list[str]] | None = None, **kw) -> BusinessHours:
    return calendar(zone, {d: hours or [["09:00", "17:00"]] for d in WEEKDAYS}, **kw)


def always(zone: str, **kw) -> BusinessHours:
    return calendar(zone, {d: [["00:00", "24:00"]] for d in (*WEEKDAYS, "sat", "sun")}, **kw)


def local(zone: str, *args: int, fold: int = 0) -> datetime:
    """A wall-clock time in ``zone`` as the UTC instant the functions take."""
    return datetime(*args, tzinfo=ZoneInfo(zone), fold=fold).astimezone(UTC)


SH = "Asia/Shanghai"
NY = "America/New_York"
BER = "Europe/Berlin"
# Shanghai customer service: lunch break, Saturday mornings, National Day week off with the two
# make-up working days China moves around it (Sunday 28 Sep, Saturday 11 Oct 2025).
CN = calendar(
    SH,
    {**{d: [["09:00", "12:00"], ["13:00", "18:00"]] for d in WEEKDAYS}, "sat": [["09:00", "12:00"]]},
    holidays=[date(2025, 10, d) for d in range(1, 9)],
    special_days={date(2025, 9, 28): [["09:00", "18:00"]], date(2025, 10, 11): [["09:00", "18:00"]]},
)


# ---- is_open / next_open / next_close -------------------------------------------------------------
@pytest.mark.parametrize(
    ("wall", "expected"),
    [
        ((2025, 9, 15, 9, 0), True),  # opening instant counts
        ((2025, 9, 15, 8, 59), False),
        ((2025, 9, 15, 12, 0), False),  # lunch: the interval is half-open
        ((2025, 9, 15, 12, 59), False),
        ((2025, 9, 15, 13, 0), True),
        ((2025, 9, 15, 17, 59), True),
        ((2025, 9, 15, 18, 0), False),
        ((2025, 9, 20, 11, 0), True),  # Saturday morning
        ((2025, 9, 21, 11, 0), False),  # Sunday
        ((2025, 9, 28, 15, 0), True),  # a Sunday worked before the holiday
        ((2025, 10, 1, 10, 0), False),  # National Day
        ((2025, 10, 11, 15, 0), True),  # a Saturday worked, full day
    ],
)
def test_is_open_follows_weekly_hours_holidays_and_special_days(wall, expected):
    assert CN.is_open(local(SH, *wall)) is expected


def test_next_open_skips_nights_lunch_weekends_and_holidays():
    assert CN.next_open(local(SH, 2025, 9, 15, 10, 0)) == local(SH, 2025, 9, 15, 10, 0)  # open: now
    assert CN.next_open(local(SH, 2025, 9, 15, 12, 30)) == local(SH, 2025, 9, 15, 13, 0)
    assert CN.next_open(local(SH, 2025, 9, 15, 20, 0)) == local(SH, 2025, 9, 16, 9, 0)
    assert CN.next_open(local(SH, 2025, 9, 20, 12, 0)) == local(SH, 2025, 9, 22, 9, 0)
    assert CN.next_open(local(SH, 2025, 9, 30, 18, 0)) == local(SH, 2025, 10, 9, 9, 0)


def test_next_close_is_the_end_of_the_current_or_next_open_period():
    assert CN.next_close(local(SH, 2025, 9, 15, 10, 0)) == local(SH, 2025, 9, 15, 12, 0)
    assert CN.next_close(local(SH, 2025, 9, 15, 12, 30)) == local(SH, 2025, 9, 15, 18, 0)
    assert CN.next_close(local(SH, 2025, 9, 30, 18, 0)) == local(SH, 2025, 10, 9, 12, 0)


def test_periods_that_touch_at_midnight_are_one():
    late = calendar(SH, {"sat": [["22:00", "24:00"]], "sun": [["00:00", "02:00"]]})
    assert late.next_close(local(SH, 2025, 9, 20, 23, 0)) == local(SH, 2025, 9, 21, 2, 0)
    assert late.is_open(local(SH, 2025, 9, 21, 0, 0))
    assert late.business_seconds_between(local(SH, 2025, 9, 20, 0), local(SH, 2025, 9, 22, 0)) == 4 * HOUR


def test_outputs_are_utc_and_inputs_may_carry_any_offset():
    at = datetime(2025, 9, 15, 20, 0, tzinfo=ZoneInfo(SH))
    opened = CN.next_open(at)
    assert opened.tzinfo is UTC and opened == datetime(2025, 9, 16, 1, 0, tzinfo=UTC)


def test_naive_datetimes_are_refused():
    for call in (
        lambda: CN.is_open(datetime(2025, 9, 15, 10)),
        lambda: CN.add_business_seconds(datetime(2025, 9, 15, 10), 60),
        lambda: CN.business_seconds_between(datetime(2025, 9, 15), local(SH, 2025, 9, 16, 0)),
    ):
        with pytest.raises(ValueError, match="timezone-aware"):
            call()


# ---- deadlines and elapsed business time ---------------------------------------------------------
def test_deadlines_cross_lunch_nights_and_weekends():
    assert CN.add_business_seconds(local(SH, 2025, 9, 15, 11, 0), 2 * HOUR) == local(SH, 2025, 9, 15, 14, 0)
    assert CN.add_business_seconds(local(SH, 2025, 9, 15, 17, 0), 2 * HOUR) == local(SH, 2025, 9, 16, 10, 0)
    # Friday 17:00 + 3 h: one hour Friday, Saturday 09:00-11:00.
    assert CN.add_business_seconds(local(SH, 2025, 9, 19, 17, 0), 3 * HOUR) == local(SH, 2025, 9, 20, 11, 0)
    # Saturday 11:00 + 2 h: one hour Saturday, Sunday closed, Monday 09:00-10:00.
    assert CN.add_business_seconds(local(SH, 2025, 9, 20, 11, 0), 2 * HOUR) == local(SH, 2025, 9, 22, 10, 0)
    # Started at night: the clock starts at opening.
    assert CN.add_business_seconds(local(SH, 2025, 9, 15, 3, 0), 30 * 60) == local(SH, 2025, 9, 15, 9, 30)


def test_a_deadline_that_uses_up_the_day_exactly_is_the_closing_time():
    assert CN.add_business_seconds(local(SH, 2025, 9, 15, 17, 0), HOUR) == local(SH, 2025, 9, 15, 18, 0)


def test_deadlines_skip_holidays_and_use_special_working_days():
    # Fri 26 Sep 17:00 + 3 h: 1 h Friday, Saturday 27 09:00-11:00.
    assert CN.add_business_seconds(local(SH, 2025, 9, 26, 17, 0), 3 * HOUR) == local(SH, 2025, 9, 27, 11, 0)
    # Sat 27 11:00 + 4 h: 1 h Saturday, then the worked Sunday 28: 09:00-12:00.
    assert CN.add_business_seconds(local(SH, 2025, 9, 27, 11, 0), 4 * HOUR) == local(SH, 2025, 9, 28, 12, 0)
    # Tue 30 Sep 17:00 + 2 h: 1 h, then eight days off, back Thursday 9 Oct at 10:00.
    assert CN.add_business_seconds(local(SH, 2025, 9, 30, 17, 0), 2 * HOUR) == local(SH, 2025, 10, 9, 10, 0)
    assert (
        CN.business_seconds_between(local(SH, 2025, 9, 30, 17, 0), local(SH, 2025, 10, 9, 10, 0)) == 2 * HOUR
    )


def test_a_special_day_overrides_a_holiday_and_an_empty_special_day_closes():
    cal = office(SH, holidays=[date(2025, 9, 16)], special_days={date(2025, 9, 16): [["10:00", "12:00"]]})
    assert cal.business_seconds_between(local(SH, 2025, 9, 16, 0), local(SH, 2025, 9, 17, 0)) == 2 * HOUR
    closed = office(SH, special_days={date(2025, 9, 17): []})
    assert not closed.is_open(local(SH, 2025, 9, 17, 10, 0))


def test_business_seconds_between_counts_open_time_only_and_is_antisymmetric():
    a, b = local(SH, 2025, 9, 19, 16, 0), local(SH, 2025, 9, 22, 10, 0)
    assert CN.business_seconds_between(a, b) == (2 + 3 + 1) * HOUR  # Fri 2 h, Sat 3 h, Mon 1 h
    assert CN.business_seconds_between(b, a) == -(2 + 3 + 1) * HOUR
    assert CN.business_seconds_between(a, a) == 0


def test_zero_seconds_is_the_start_and_negative_seconds_are_refused():
    at = local(SH, 2025, 9, 21, 3, 0)
    assert CN.add_business_seconds(at, 0) == at
    with pytest.raises(ValueError):
        CN.add_business_seconds(at, -1)


# ---- daylight saving time --------------------------------------------------------------------------
def test_new_york_deadlines_keep_wall_clock_hours_across_both_dst_changes():
    ny = office(NY)
    # Friday 7 March 2025, 16:00 EST (UTC-5) + 2 h → Monday 10 March 10:00 EDT (UTC-4).
    friday = local(NY, 2025, 3, 7, 16, 0)
    assert friday == datetime(2025, 3, 7, 21, 0, tzinfo=UTC)
    assert ny.add_business_seconds(friday, 2 * HOUR) == datetime(2025, 3, 10, 14, 0, tzinfo=UTC)
    # Friday 31 October 16:00 EDT + 2 h → Monday 3 November 10:00 EST.
    assert ny.add_business_seconds(local(NY, 2025, 10, 31, 16, 0), 2 * HOUR) == datetime(
        2025, 11, 3, 15, 0, tzinfo=UTC
    )
    week = ny.business_seconds_between(local(NY, 2025, 3, 3, 0), local(NY, 2025, 3, 17, 0))
    assert week == 2 * 5 * 8 * HOUR  # the change happens at night: nothing lost


def test_a_24_7_day_has_23_or_25_real_hours_when_the_clocks_change():
    ny = always(NY)
    assert ny.business_seconds_between(local(NY, 2025, 3, 9, 0), local(NY, 2025, 3, 10, 0)) == 23 * HOUR
    assert ny.business_seconds_between(local(NY, 2025, 11, 2, 0), local(NY, 2025, 11, 3, 0)) == 25 * HOUR
    # 24 real hours after Saturday noon EST is Sunday 13:00 EDT.
    assert ny.add_business_seconds(local(NY, 2025, 3, 8, 12, 0), 24 * HOUR) == local(NY, 2025, 3, 9, 13, 0)


@pytest.mark.parametrize("zone", [NY, BER])
def test_over_months_with_one_clock_change_a_24_7_calendar_counts_real_elapsed_time(zone):
    cal = always(zone)
    start, end = local(zone, 2025, 1, 6, 12, 0), local(zone, 2025, 6, 2, 12, 0)  # spring change only
    assert cal.business_seconds_between(start, end) == (end - start).total_seconds()
    assert (end - start).total_seconds() % (24 * HOUR) == 23 * HOUR  # an hour short of whole days
    assert cal.add_business_seconds(start, 20 * 7 * 24 * HOUR) == start + timedelta(weeks=20)


def test_berlin_night_shift_across_the_skipped_and_the_repeated_hour():
    night = calendar(BER, {"sun": [["01:00", "04:00"]]})
    # 30 March 2025: 02:00 CET jumps to 03:00 CEST, so 01:00-04:00 is two real hours.
    spring = night.business_seconds_between(local(BER, 2025, 3, 30, 0), local(BER, 2025, 3, 31, 0))
    assert spring == 2 * HOUR
    # 26 October 2025: 03:00 CEST falls back to 02:00 CET, so the shift lasts four real hours.
    autumn = night.business_seconds_between(local(BER, 2025, 10, 26, 0), local(BER, 2025, 10, 27, 0))
    assert autumn == 4 * HOUR
    assert night.next_close(local(BER, 2025, 10, 26, 1, 30)) == datetime(2025, 10, 26, 3, 0, tzinfo=UTC)
    # The repeated 02:30 is open both times it happens.
    assert night.is_open(local(BER, 2025, 10, 26, 2, 30, fold=0))
    assert night.is_open(local(BER, 2025, 10, 26, 2, 30, fold=1))


def test_an_opening_time_the_clocks_skip_opens_an_hour_later_in_real_time():
    cal = calendar(BER, {"sun": [["02:30", "05:00"]]})
    # 02:30 does not exist on 30 March; read with the old offset it is 03:30 CEST (01:30 UTC).
    assert cal.next_open(local(BER, 2025, 3, 30, 0, 0)) == datetime(2025, 3, 30, 1, 30, tzinfo=UTC)
    assert not cal.is_open(datetime(2025, 3, 30, 1, 15, tzinfo=UTC))
    assert cal.business_seconds_between(local(BER, 2025, 3, 30, 0), local(BER, 2025, 3, 31, 0)) == 1.5 * HOUR


def test_an_interval_inside_the_skipped_hour_moves_an_hour_later_that_day_only():
    cal = calendar(NY, {"sun": [["02:10", "02:50"]]})
    assert cal.next_open(local(NY, 2025, 3, 9, 0)) == datetime(2025, 3, 9, 7, 10, tzinfo=UTC)  # 03:10 EDT
    assert cal.business_seconds_between(local(NY, 2025, 3, 9, 0), local(NY, 2025, 3, 10, 0)) == 40 * 60
    assert cal.next_open(local(NY, 2025, 3, 10, 0)) == local(NY, 2025, 3, 16, 2, 10)


def test_an_interval_the_skipped_hour_turns_inside_out_is_closed_that_day():
    cal = calendar(NY, {"sun": [["02:30", "03:15"]]})  # 02:30 reads as 03:30 EDT, after 03:15 EDT
    assert cal.business_seconds_between(local(NY, 2025, 3, 9, 0), local(NY, 2025, 3, 10, 0)) == 0
    assert cal.business_seconds_between(local(NY, 2025, 3, 16, 0), local(NY, 2025, 3, 17, 0)) == 45 * 60


def test_shanghai_has_no_dst_so_every_week_is_the_same():
    weeks = [
        CN.business_seconds_between(
            local(SH, 2025, 1, 6) + timedelta(weeks=i), local(SH, 2025, 1, 13) + timedelta(weeks=i)
        )
        for i in range(10, 30)
    ]
    assert set(weeks) == {(5 * 8 + 3) * HOUR}


# ---- 24/7 and never open ---------------------------------------------------------------------------
def test_a_24_7_calendar_is_always_open_and_never_closes():
    cal = always(SH)
    at = local(SH, 2025, 9, 20, 3, 33)
    assert cal.is_open(at) and cal.next_open(at) == at
    assert cal.next_close(at) is None
    assert cal.add_business_seconds(at, 100 * HOUR) == at + timedelta(hours=100)


def test_a_24_7_calendar_closes_on_its_holidays():
    cal = always(SH, holidays=[date(2025, 12, 25)])
    assert cal.next_close(local(SH, 2025, 12, 20, 8, 0)) == local(SH, 2025, 12, 25, 0, 0)
    assert cal.next_open(local(SH, 2025, 12, 25, 8, 0)) == local(SH, 2025, 12, 26, 0, 0)
    assert cal.next_close(local(SH, 2025, 12, 26, 8, 0)) is None


def test_an_empty_schedule_is_a_clear_error_not_an_endless_loop():
    never = calendar(SH, {})
    at = local(SH, 2025, 9, 15, 10, 0)
    started = time.process_time()
    assert not never.is_open(at)
    with pytest.raises(NeverOpen):
        never.next_open(at)
    with pytest.raises(NeverOpen):
        never.next_close(at)
    with pytest.raises(NeverOpen):
        never.add_business_seconds(at, 60)
    assert never.business_seconds_between(at, at + timedelta(days=3000)) == 0
    assert time.process_time() - started < 1


def test_a_closed_calendar_with_one_special_day_opens_only_then():
    once = calendar(SH, {}, special_days={date(2026, 2, 1): [["10:00", "11:00"]]})
    assert once.next_open(local(SH, 2025, 9, 15, 10, 0)) == local(SH, 2026, 2, 1, 10, 0)
    assert once.add_business_seconds(local(SH, 2025, 9, 15), 30 * 60) == local(SH, 2026, 2, 1, 10, 30)
    with pytest.raises(NeverOpen):
        once.next_open(local(SH, 2026, 2, 1, 11, 0))


# ---- long spans are bounded ------------------------------------------------------------------------
def test_ten_years_of_business_time_takes_whole_weeks_at_a_time():
    week = 45 * HOUR  # Monday 09:00 + 520 weeks of 45 h ends on a Friday at 18:00
    cal = office(SH, [["09:00", "18:00"]])
    started = time.process_time()  # CPU time: a loaded machine must not fail it
    deadline = cal.add_business_seconds(local(SH, 2025, 1, 6, 9, 0), 520 * week)
    between = cal.business_seconds_between(
        local(SH, 2025, 1, 6), local(SH, 2025, 1, 6) + timedelta(weeks=520)
    )
    assert time.process_time() - started < 0.5
    assert deadline == local(SH, 2025, 1, 6, 9, 0) + timedelta(weeks=519, days=4, hours=9)
    assert between == 520 * week


def test_ten_years_in_a_dst_zone_still_counts_every_hour():
    cal = office(NY)
    start = local(NY, 2025, 1, 6)
    end = local(NY, 2035, 1, 1)
    weekdays = sum(
        1 for i in range((end - start).days) if (date(2025, 1, 6) + timedelta(days=i)).weekday() < 5
    )
    started = time.process_time()  # CPU time: a loaded machine must not fail it
    assert cal.business_seconds_between(start, end) == weekdays * 8 * HOUR
    assert time.process_time() - started < 0.5


def test_more_than_twenty_years_is_refused():
    cal = office(SH)
    with pytest.raises(TooFar):
        cal.add_business_seconds(local(SH, 2025, 1, 6), 40 * HOUR * 52 * 25)
    with pytest.raises(TooFar):
        cal.business_seconds_between(local(SH, 2000, 1, 1), local(SH, 2030, 1, 1))


# ---- an independent oracle -------------------------------------------------------------------------
def _oracle_open(cal: BusinessHours, at: datetime) -> bool:
    """Open at ``at``, worked out from the wall clock alone (exact where no interval touches a DST
    change, as with these office hours)."""
    wall = at.astimezone(ZoneInfo(cal.time_zone))
    minute = wall.hour * 60 + wall.minute
    return any(s <= minute < e for s, e in cal.hours_on(wall.date()))


@pytest.mark.parametrize("zone", [SH, NY, BER])
def test_deadlines_and_elapsed_time_agree_with_a_minute_by_minute_oracle(zone):
    cal = calendar(
        zone,
        {
            "mon": [["09:00", "12:30"], ["13:30", "18:00"]],
            "wed": [["08:00", "20:00"]],
            "sat": [["10:00", "14:00"]],
        },
        holidays=[date(2025, 3, 12), date(2025, 11, 1)],
        special_days={date(2025, 3, 9): [["11:00", "13:00"]]},
    )
    rng = random.Random(zone)
    for _ in range(6):
        start = datetime(2025, 3, 1, tzinfo=UTC) + timedelta(minutes=rng.randrange(0, 60 * 24 * 250))
        seconds = rng.randrange(1, 30) * 60 * 30
        deadline = cal.add_business_seconds(start, seconds)
        t, counted = start, 0
        while counted < seconds:
            counted += 60 if _oracle_open(cal, t) else 0
            t += timedelta(minutes=1)
        assert deadline == t, (start, seconds)
        assert cal.business_seconds_between(start, deadline) == seconds


# ---- validation ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"time_zone": "Mars/Olympus"}, "unknown time zone"),
        ({"weekly": {"mon": [["18:00", "09:00"]]}}, "must end after it starts"),
        ({"weekly": {"mon": [["09:00", "13:00"], ["12:00", "18:00"]]}}, "overlap"),
        ({"weekly": {"mon": [["09:00", "24:01"]]}}, "pattern"),
        ({"weekly": {"funday": [["09:00", "17:00"]]}}, "funday"),
        ({"weekly": {"mon": [["09:00", "09:01"]] * 13}}, "at most 12"),
        ({"name": "Has Spaces"}, "pattern"),
        ({"holidays": ["2025-02-30"]}, "date"),
    ],
)
def test_bad_calendars_are_refused_with_a_clear_reason(change, message):
    body = {"name": "ok", "time_zone": SH, "weekly": {"mon": [["09:00", "17:00"]]}} | change
    with pytest.raises(ValidationError, match=message):
        BusinessHours.model_validate(body)


def test_intervals_are_sorted_may_touch_and_may_end_at_midnight():
    cal = calendar(SH, {"mon": [["13:00", "24:00"], ["00:00", "13:00"]]})
    assert cal.weekly["mon"] == [("00:00", "13:00"), ("13:00", "24:00")]
    assert cal.week_seconds == 24 * HOUR


def test_a_calendar_round_trips_through_json_and_updates_carry_a_version():
    again = BusinessHours.model_validate_json(CN.model_dump_json())
    assert again == CN
    update = CalendarUpdate.model_validate({"version": 3, **CN.model_dump(mode="json", exclude={"name"})})
    assert update.version == 3 and update.special_days == CN.special_days
