"""Ticket SLA deadlines: pure functions (no AWS, no clock of their own).

Given a policy, its calendar (``None`` = 24/7 real time) and the ticket's times, ``compute`` says
for each target when it started, when it is due, when the warning goes out and when level 2
escalation follows, and whether it is met, pending or paused; ``stops`` lists what the state machine
must watch, in time order.

Targets:

- ``first_response``: from creation to the first public reply by an agent.
- ``next_response``: from each customer reply that came after the agents' last public reply (once
  the first response was given) to the next public reply by an agent. Each cycle is its own
  deadline (``key`` names it by its start).
- ``resolution``: from creation to solved. Reopening resumes it: the solved time was a pause.

Pauses: time spent in a pausing status does not count, in business time or real time alike. The
statuses ``pending_customer``, ``solved`` and ``closed`` always pause, ``on_hold`` when the policy
says so. ``Pause`` intervals are recorded by ``chalicelib.sla.tickets`` as the status changes; a
pause without an end is running now, and a target with remaining time has no due time while it runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from chalicelib.calendars.hours import BusinessHours
from chalicelib.sla import policies
from chalicelib.sla.policies import TARGETS, SlaPolicy

ALWAYS_PAUSING = frozenset({"pending_customer", "solved", "closed"})
PAUSE_STATUSES = ALWAYS_PAUSING | {"on_hold"}  # recorded; the policy decides whether on_hold counts
DONE_STATUSES = frozenset({"solved", "closed"})

Stage = Literal["warning", "breach"]
State = Literal["pending", "paused", "met", "breached", "skipped"]


@dataclass(frozen=True)
class Pause:
    start: datetime
    end: datetime | None  # None: still paused
    status: str


@dataclass(frozen=True)
class TicketTimes:
    """The ticket facts deadlines depend on (UTC, timezone-aware)."""

    created_at: datetime
    status: str
    first_responded_at: datetime | None = None
    last_public_reply_at: datetime | None = None
    last_customer_reply_at: datetime | None = None
    solved_at: datetime | None = None
    pauses: tuple[Pause, ...] = ()


@dataclass(frozen=True)
class Deadline:
    target: str  # first_response | next_response | resolution
    key: str  # target, or "next_response@<start>" for a next-response cycle
    start: datetime
    due: datetime | None  # None while paused
    warning_at: datetime | None
    level2_at: datetime | None
    state: State
    completed_at: datetime | None = None  # when it was met (or missed for good)


@dataclass(frozen=True)
class Stop:
    """One moment the state machine wakes for: a warning, or a breach escalation level."""

    at: datetime
    target: str
    key: str
    stage: Stage
    level: int  # 0 for a warning, 1 or 2 for a breach
    due: datetime  # the deadline this stop is about

    @property
    def mark(self) -> str:
        """The ``sla_breaches`` map key recording that this level was reached (breach stops)."""
        return f"{self.key}#{self.level}"


class Clock:
    """Counting time: business hours of a calendar, or real time when there is none."""

    def __init__(self, calendar: BusinessHours | None) -> None:
        self.calendar = calendar

    def add(self, start: datetime, seconds: float) -> datetime:
        if self.calendar is None:
            return (start + timedelta(seconds=seconds)).astimezone(UTC)
        return self.calendar.add_business_seconds(start, seconds)

    def between(self, a: datetime, b: datetime) -> float:
        if self.calendar is None:
            return (b - a).total_seconds()
        return self.calendar.business_seconds_between(a, b)


def counting_pauses(pauses: Iterable[Pause], pause_on_hold: bool) -> list[Pause]:
    """The pauses that stop the clock under a policy, in time order."""
    stops = ALWAYS_PAUSING | ({"on_hold"} if pause_on_hold else set())
    return sorted((p for p in pauses if p.status in stops), key=lambda p: p.start)


def clip(pauses: Sequence[Pause], until: datetime) -> list[Pause]:
    """The pauses as they were at ``until``: later ones dropped, a running one ended there."""
    out: list[Pause] = []
    for p in pauses:
        if p.start >= until:
            continue
        end = until if p.end is None or p.end > until else p.end
        out.append(Pause(p.start, end, p.status))
    return out


def due_after(clock: Clock, start: datetime, seconds: float, pauses: Sequence[Pause]) -> datetime | None:
    """When ``seconds`` of (business) time have run since ``start``, not counting ``pauses`` (time
    ordered). None when a running pause begins before that time comes."""
    cursor, remaining = start, float(seconds)
    for p in pauses:
        if p.end is not None and p.end <= cursor:
            continue
        if p.start > cursor:
            available = clock.between(cursor, p.start)
            if remaining <= available:
                return clock.add(cursor, remaining)
            remaining -= available
        if p.end is None:
            return None
        cursor = max(cursor, p.end)
    return clock.add(cursor, remaining)


def _next_response_cycle(times: TicketTimes) -> tuple[datetime, datetime | None] | None:
    """(start, answered at) of the latest next-response cycle, or None when none began."""
    customer, first = times.last_customer_reply_at, times.first_responded_at
    if customer is None or first is None or customer <= first:
        return None
    public = times.last_public_reply_at
    return customer, (public if public is not None and public > customer else None)


def compute(
    policy: SlaPolicy, calendar: BusinessHours | None, times: TicketTimes, now: datetime
) -> list[Deadline]:
    """Each target the policy sets, for the ticket as it is at ``now``."""
    clock = Clock(calendar)
    pauses = counting_pauses(times.pauses, policy.pause_on_hold)
    done = times.status in DONE_STATUSES
    spans: list[tuple[str, str, datetime, datetime | None]] = []
    if policy.targets.first_response_minutes:
        spans.append(("first_response", "first_response", times.created_at, times.first_responded_at))
    if policy.targets.next_response_minutes:
        cycle = _next_response_cycle(times)
        if cycle is not None:
            spans.append(("next_response", f"next_response@{_iso(cycle[0])}", cycle[0], cycle[1]))
    if policy.targets.resolution_minutes:
        spans.append(("resolution", "resolution", times.created_at, times.solved_at if done else None))

    out: list[Deadline] = []
    for target, key, start, completed in spans:
        seconds = policy.targets.seconds(target)
        assert seconds is not None
        if completed is None and done and target != "resolution":
            # Solved or closed without this answer: judged as of then, never pending again.
            completed_for_good = times.solved_at or now
            due = due_after(clock, start, seconds, clip(pauses, completed_for_good))
            state: State = "breached" if due is not None and due < completed_for_good else "skipped"
            out.append(Deadline(target, key, start, due, None, None, state, completed_for_good))
            continue
        if completed is not None:
            due = due_after(clock, start, seconds, clip(pauses, completed))
            state = "met" if due is not None and completed <= due else "breached"
            out.append(Deadline(target, key, start, due, None, None, state, completed))
            continue
        due = due_after(clock, start, seconds, pauses)
        warning_at = (
            due_after(clock, start, seconds * policy.warning_percent / 100, pauses)
            if policy.warning_percent and due is not None
            else None
        )
        level2_at = (
            clock.add(due, policy.escalation_minutes * policies.MINUTE)
            if due and policy.escalation_minutes
            else None
        )
        out.append(Deadline(target, key, start, due, warning_at, level2_at, "pending" if due else "paused"))
    return sorted(out, key=lambda d: TARGETS.index(d.target))


def stops(deadlines: Iterable[Deadline], reached: Iterable[str], now: datetime) -> list[Stop]:
    """What to wake for, in time order: warnings still ahead, and each breach level not yet
    reached (``reached``: ``Stop.mark`` keys already recorded), even if its time has passed."""
    done = set(reached)
    out: list[Stop] = []
    for d in deadlines:
        if d.state != "pending" or d.due is None:
            continue
        breach1 = Stop(d.due, d.target, d.key, "breach", 1, d.due)
        if d.warning_at is not None and d.warning_at > now and breach1.mark not in done:
            out.append(Stop(d.warning_at, d.target, d.key, "warning", 0, d.due))
        if breach1.mark not in done:
            out.append(breach1)
        if d.level2_at is not None:
            breach2 = Stop(d.level2_at, d.target, d.key, "breach", 2, d.due)
            if breach2.mark not in done:
                out.append(breach2)
    return sorted(out, key=lambda s: (s.at, s.level, TARGETS.index(s.target)))


def next_due(deadlines: Iterable[Deadline]) -> Deadline | None:
    """The pending deadline that comes first (what "overdue" and "at risk" sort by)."""
    pending = [d for d in deadlines if d.state == "pending" and d.due is not None]
    return min(pending, key=lambda d: (d.due, TARGETS.index(d.target)), default=None)


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
