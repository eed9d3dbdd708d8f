"""Business hours: when a team is open, in its own time zone, and how much open time lies between
two instants. Pure (no AWS, no clock): routing rules ask ``is_open``, SLA deadlines are
``add_business_seconds`` and elapsed business time is ``business_seconds_between``.

Every input and output instant is a timezone-aware datetime (outputs are UTC); schedules are
wall-clock times evaluated in the calendar's zone. A day's hours come from, in order: its special
day entry (an exceptional opening, e.g. a Saturday worked in exchange for a holiday), else closed
if it is a holiday, else the weekly schedule. Intervals are half-open ``[start, end)`` and may end
at ``24:00``; an interval that runs to midnight and the next day's that starts at ``00:00`` are one
open period.

Wall-clock times a DST change makes odd are read as PEP 495 does with ``fold=0``: a time the
clocks skip (02:30 on a spring-forward night in New York) uses the offset in force before the
change, i.e. falls an hour later in real time (03:30 EDT); a time the clocks pass twice (01:30 on
a fall-back night) means its first occurrence. Durations are real elapsed seconds, so a 24-hour
day is 23 or 25 hours long across a change.

Loops are bounded: days are walked one by one only up to the last holiday or special day (plus a
week) and in weeks that contain an offset change; other weeks are skipped whole, and nothing looks
further than ``MAX_SPAN_DAYS``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from functools import cached_property
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from chalicelib.errors import Invalid

WEEKDAYS: tuple[str, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
ClockTime = Annotated[str, Field(pattern=r"^(?:(?:[01]\d|2[0-3]):[0-5]\d|24:00)$", description="HH:MM")]
Interval = tuple[ClockTime, ClockTime]
NAME_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
MAX_INTERVALS_PER_DAY = 12
MAX_DATES = 2000  # holidays plus special days
MAX_SPAN_DAYS = 366 * 20  # no computation looks further ahead than this
_LOOKAHEAD = timedelta(days=15)  # past the last exceptional date, the weekly pattern repeats
_DAY = timedelta(days=1)
_WEEK = timedelta(days=7)

Span = tuple[datetime, datetime]  # real open time, UTC, [start, end)


class NeverOpen(Invalid):
    """The calendar has no open time ahead (empty schedule, nothing special to come)."""


class TooFar(Invalid):
    """The answer lies further than ``MAX_SPAN_DAYS`` away."""


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def _normalize_day(intervals: list[Interval], where: str) -> list[Interval]:
    if len(intervals) > MAX_INTERVALS_PER_DAY:
        raise ValueError(f"{where}: at most {MAX_INTERVALS_PER_DAY} intervals a day")
    ordered = sorted(intervals, key=lambda iv: _minutes(iv[0]))
    previous_end = 0
    for start, end in ordered:
        if _minutes(start) >= _minutes(end):
            raise ValueError(f"{where}: interval {start}-{end} must end after it starts")
        if _minutes(start) < previous_end:
            raise ValueError(f"{where}: intervals overlap at {start}")
        previous_end = _minutes(end)
    return ordered


def _aware(at: datetime, what: str = "datetime") -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{what} must be timezone-aware (UTC)")
    return at


class Schedule(BaseModel):
    """Weekly hours, holidays and special days in a time zone (a calendar without its name)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    time_zone: str = Field(
        max_length=64,
        pattern=r"^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}$",
        description="IANA time zone, e.g. Asia/Shanghai, Europe/Berlin",
    )
    weekly: dict[Weekday, list[Interval]] = Field(
        default_factory=dict,
        description='open intervals per weekday, e.g. {"mon": [["09:00", "18:00"]]}; a missing day is closed',
    )
    holidays: list[date] = Field(default_factory=list, description="closed all day (local dates)")
    special_days: dict[date, list[Interval]] = Field(
        default_factory=dict,
        description="these dates' hours replace the weekly schedule and holidays ([] = closed)",
    )

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @field_validator("weekly")
    @classmethod
    def _weekly_days(cls, value: dict[str, list[Interval]]) -> dict[str, list[Interval]]:
        return {day: _normalize_day(value[day], day) for day in WEEKDAYS if day in value}

    @field_validator("special_days")
    @classmethod
    def _special_days(cls, value: dict[date, list[Interval]]) -> dict[date, list[Interval]]:
        return {day: _normalize_day(value[day], day.isoformat()) for day in sorted(value)}

    @field_validator("holidays")
    @classmethod
    def _holidays(cls, value: list[date]) -> list[date]:
        return sorted(set(value))

    @model_validator(mode="after")
    def _not_too_many_dates(self) -> Schedule:
        if len(self.holidays) + len(self.special_days) > MAX_DATES:
            raise ValueError(f"at most {MAX_DATES} holidays and special days")
        return self


class CalendarUpdate(Schedule):
    """PUT /admin/calendars/{calendar_name}: the calendar and the version it replaces (0 = new)."""

    version: int = Field(ge=0, description="the version read (0 to create)")


class BusinessHours(Schedule):
    """A named business-hours calendar, e.g.::

    {"name": "cn-support", "time_zone": "Asia/Shanghai",
     "weekly": {"mon": [["09:00", "12:00"], ["13:00", "18:00"]], "sat": [["10:00", "16:00"]]},
     "holidays": ["2025-10-01"], "special_days": {"2025-09-28": [["09:00", "18:00"]]}}
    """

    name: str = Field(pattern=NAME_PATTERN, description="lowercase letters, digits, - and _")

    # ---- derived, computed once per instance ---------------------------------------------------
    @cached_property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @cached_property
    def _weekly_minutes(self) -> tuple[tuple[tuple[int, int], ...], ...]:
        weekly: dict[str, list[Interval]] = {str(day): ivs for day, ivs in self.weekly.items()}
        return tuple(tuple((_minutes(s), _minutes(e)) for s, e in weekly.get(day, ())) for day in WEEKDAYS)

    @cached_property
    def _special_minutes(self) -> dict[date, tuple[tuple[int, int], ...]]:
        return {d: tuple((_minutes(s), _minutes(e)) for s, e in ivs) for d, ivs in self.special_days.items()}

    @cached_property
    def _holiday_set(self) -> frozenset[date]:
        return frozenset(self.holidays)

    @cached_property
    def _last_exception(self) -> date:
        return max([*self.holidays, *self.special_days], default=date.min)

    @cached_property
    def week_seconds(self) -> int:
        """Open seconds in an ordinary week (no holiday, special day or offset change)."""
        return sum((e - s) * 60 for day in self._weekly_minutes for s, e in day)

    @cached_property
    def _always_open_weekly(self) -> bool:
        def whole(day: tuple[tuple[int, int], ...]) -> bool:
            reached = 0
            for s, e in day:  # sorted, non-overlapping: whole when each starts where the last ended
                if s != reached:
                    return False
                reached = e
            return reached == 1440

        return all(whole(day) for day in self._weekly_minutes)

    # ---- primitives -----------------------------------------------------------------------------
    def hours_on(self, day: date) -> tuple[tuple[int, int], ...]:
        """Open intervals of a local date, in minutes after midnight."""
        if day in self._special_minutes:
            return self._special_minutes[day]
        if day in self._holiday_set:
            return ()
        return self._weekly_minutes[day.weekday()]

    def _utc(self, day: date, minute: int) -> datetime:
        local = datetime.combine(day, time()) + timedelta(minutes=minute)
        return local.replace(tzinfo=self.zone).astimezone(UTC)

    def _spans(self, day: date) -> list[Span]:
        """A local date's open time as real UTC spans, merged (a DST gap can fold intervals)."""
        spans: list[Span] = []
        for s, e in self.hours_on(day):
            start, end = self._utc(day, s), self._utc(day, e)
            if end <= start:
                continue  # wholly inside a skipped hour
            if spans and start <= spans[-1][1]:
                spans[-1] = (spans[-1][0], max(spans[-1][1], end))
            else:
                spans.append((start, end))
        return spans

    def _local_date(self, at: datetime) -> date:
        return at.astimezone(self.zone).date()

    def _steady_week(self, day: date) -> bool:
        """True when days ``day`` … ``day + 6`` are ordinary: past every holiday and special day,
        with one UTC offset throughout, so their open time is exactly ``week_seconds``."""
        if day <= self._last_exception:
            return False
        offset = self._utc(day, 0) - datetime.combine(day, time(), UTC)
        return all(
            self._utc(day + timedelta(days=i), 0) - datetime.combine(day + timedelta(days=i), time(), UTC)
            == offset
            for i in range(1, 8)
        )

    def _horizon(self, day: date) -> date:
        """The last local date worth walking to from ``day``: beyond it the weekly pattern repeats."""
        return max(day, self._last_exception) + _LOOKAHEAD

    def _opens_after(self, day: date) -> bool:
        return self.week_seconds > 0 or any(d >= day and ivs for d, ivs in self._special_minutes.items())

    def _days(self, first: date, last: date) -> Iterable[date]:
        if (last - first).days > MAX_SPAN_DAYS:
            raise TooFar(f"more than {MAX_SPAN_DAYS} days of calendar {self.name!r} to walk")
        day = first
        while day <= last:
            yield day
            day += _DAY

    # ---- questions ------------------------------------------------------------------------------
    def is_open(self, at: datetime) -> bool:
        """Is ``at`` inside open hours?"""
        _aware(at)
        day = self._local_date(at)
        return any(s <= at < e for d in (day - _DAY, day, day + _DAY) for s, e in self._spans(d))

    def next_open(self, at: datetime) -> datetime:
        """``at`` if open, else the moment the calendar next opens. Raises ``NeverOpen``."""
        _aware(at)
        day = self._local_date(at)
        if not self._opens_after(day - _DAY):
            raise NeverOpen(f"calendar {self.name!r} is never open")
        for d in self._days(day - _DAY, self._horizon(day)):
            for s, e in self._spans(d):
                if e > at:
                    return max(s, at).astimezone(UTC)
        raise NeverOpen(f"calendar {self.name!r} does not open again")

    def next_close(self, at: datetime) -> datetime | None:
        """The end of the open period containing ``at`` (or, when closed, of the next one); periods
        that touch at midnight are one. None when it never closes (a 24/7 calendar past its last
        holiday). Raises ``NeverOpen`` when it never opens."""
        start = self.next_open(at)
        day = self._local_date(start)
        end: datetime | None = None
        for d in self._days(day - _DAY, self._horizon(day)):
            for s, e in self._spans(d):
                if e <= start:
                    continue
                if end is None or s <= end:
                    end = e if end is None else max(end, e)
                else:
                    return end
        if self._always_open_weekly:
            return None
        return end  # pragma: no cover - a non-24/7 week always closes within the horizon

    def add_business_seconds(self, start: datetime, seconds: float) -> datetime:
        """The instant by which ``seconds`` of open time have passed since ``start``: an SLA
        deadline. Time before opening does not count; 0 seconds is ``start`` itself."""
        _aware(start, "start")
        if seconds < 0:
            raise ValueError("seconds must not be negative")
        remaining = timedelta(seconds=seconds)
        if not remaining:
            return start.astimezone(UTC)
        first = self._local_date(start) - _DAY
        if not self._opens_after(first):
            raise NeverOpen(f"calendar {self.name!r} is never open")
        week = timedelta(seconds=self.week_seconds)
        day = first
        while True:
            if (day - first).days > MAX_SPAN_DAYS:
                raise TooFar(f"deadline more than {MAX_SPAN_DAYS} days away")
            if week and remaining > week and self._utc(day, 0) >= start and self._steady_week(day):
                remaining -= week
                day += _WEEK
                continue
            for s, e in self._spans(day):
                if e <= start:
                    continue
                s = max(s, start)
                if remaining <= e - s:
                    return s + remaining
                remaining -= e - s
            day += _DAY

    def business_seconds_between(self, a: datetime, b: datetime) -> float:
        """Open seconds in ``[a, b)`` (negative when ``b`` is before ``a``)."""
        _aware(a, "a")
        _aware(b, "b")
        if b < a:
            return -self.business_seconds_between(b, a)
        total = timedelta(0)
        week = timedelta(seconds=self.week_seconds)
        first, last = self._local_date(a) - _DAY, self._local_date(b) + _DAY
        if (last - first).days > MAX_SPAN_DAYS:
            raise TooFar(f"more than {MAX_SPAN_DAYS} days apart")
        day = first
        while day <= last:
            if self._utc(day, 0) >= a and self._utc(day + _WEEK, 0) <= b and self._steady_week(day):
                total += week
                day += _WEEK
                continue
            for s, e in self._spans(day):
                overlap = min(e, b) - max(s, a)
                if overlap > timedelta(0):
                    total += overlap
            day += _DAY
        return total.total_seconds()
