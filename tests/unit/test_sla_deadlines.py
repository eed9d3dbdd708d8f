"""Ticket SLA deadlines and policy choice: pure functions, no AWS."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from chalicelib.calendars.hours import BusinessHours
from chalicelib.sla import deadlines as dl
from chalicelib.sla.policies import (
    DEFAULT_POLICY,
    PolicyMatch,
    PolicySetUpdate,
    SlaPolicy,
    SlaTargets,
    TicketFacts,
    choose,
)
from chalicelib.sla.tickets import track_pauses

SH = ZoneInfo("Asia/Shanghai")
NY = ZoneInfo("America/New_York")


def local(zone: ZoneInfo, *args: int) -> datetime:
    return datetime(*args, tzinfo=zone).astimezone(UTC)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def policy(**kw: object) -> SlaPolicy:
    base: dict[str, object] = {
        "policy_id": "p",
        "name": "P",
        "targets": SlaTargets(first_response_minutes=60, resolution_minutes=8 * 60),
        "escalation_minutes": 30,
    }
    return SlaPolicy.model_validate({**base, **kw})


def office(zone: str, **kw: object) -> BusinessHours:
    weekday = [["09:00", "18:00"]]
    return BusinessHours.model_validate(
        {
            "name": "office",
            "time_zone": zone,
            "weekly": {d: weekday for d in ("mon", "tue", "wed", "thu", "fri")},
            **kw,
        }
    )


def by_target(deadlines: list[dl.Deadline]) -> dict[str, dl.Deadline]:
    return {d.target: d for d in deadlines}


def test_calendar_time_without_a_calendar_warning_and_level_two():
    created = utc(2025, 6, 2, 10, 0)
    got = by_target(dl.compute(policy(), None, dl.TicketTimes(created, "new"), created))
    first = got["first_response"]
    assert first.due == utc(2025, 6, 2, 11, 0)
    assert first.warning_at == utc(2025, 6, 2, 10, 48)  # 80 % of 60 minutes
    assert first.level2_at == utc(2025, 6, 2, 11, 30)
    assert first.state == "pending"
    assert got["resolution"].due == utc(2025, 6, 2, 18, 0)
    assert "next_response" not in got  # no customer reply after a first response yet


def test_business_hours_carry_over_the_night():
    created = local(SH, 2025, 6, 2, 17, 30)  # Monday, 30 minutes before closing
    got = by_target(dl.compute(policy(), office("Asia/Shanghai"), dl.TicketTimes(created, "new"), created))
    assert got["first_response"].due == local(SH, 2025, 6, 3, 9, 30)
    # 80 % = 48 minutes: 30 tonight, 18 tomorrow morning
    assert got["first_response"].warning_at == local(SH, 2025, 6, 3, 9, 18)
    assert got["first_response"].level2_at == local(SH, 2025, 6, 3, 10, 0)


def test_business_hours_skip_the_weekend_and_holidays():
    friday = local(SH, 2025, 6, 6, 17, 30)
    cal = office("Asia/Shanghai")
    got = by_target(dl.compute(policy(), cal, dl.TicketTimes(friday, "new"), friday))
    assert got["first_response"].due == local(SH, 2025, 6, 9, 9, 30)  # Monday
    holiday = office("Asia/Shanghai", holidays=[date(2025, 6, 9)])
    got = by_target(dl.compute(policy(), holiday, dl.TicketTimes(friday, "new"), friday))
    assert got["first_response"].due == local(SH, 2025, 6, 10, 9, 30)  # Monday was a holiday
    # a resolution target of 8 business hours from Friday 17:30: 0.5 h Friday, 7.5 h Tuesday
    assert got["resolution"].due == local(SH, 2025, 6, 10, 16, 30)


def test_business_hours_across_a_dst_change():
    # New York springs forward on Sunday 2025-03-09: Friday 16:30 EST + 60 business minutes is
    # Monday 09:30 EDT, 13:30 UTC (it was 14:30 UTC for the same wall time before the change).
    created = local(NY, 2025, 3, 7, 16, 30)
    cal = office(
        "America/New_York", weekly={d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")}
    )
    got = by_target(dl.compute(policy(), cal, dl.TicketTimes(created, "new"), created))
    assert got["first_response"].due == utc(2025, 3, 10, 13, 30)
    assert created == utc(2025, 3, 7, 21, 30)


def test_a_24_7_calendar_counts_real_hours_across_dst():
    cal = BusinessHours.model_validate(
        {
            "name": "always",
            "time_zone": "America/New_York",
            "weekly": {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
        }
    )
    created = utc(2025, 3, 8, 12, 0)
    p = policy(targets=SlaTargets(first_response_minutes=24 * 60))
    got = by_target(dl.compute(p, cal, dl.TicketTimes(created, "new"), created))
    assert got["first_response"].due == utc(2025, 3, 9, 12, 0)  # 24 real hours (a 23-hour local day)


def test_pending_customer_pauses_the_clock_and_resuming_moves_the_deadline():
    created = utc(2025, 6, 2, 10, 0)
    paused = utc(2025, 6, 2, 10, 20)
    resumed = utc(2025, 6, 2, 11, 0)
    while_paused = dl.TicketTimes(
        created, "pending_customer", pauses=(dl.Pause(paused, None, "pending_customer"),)
    )
    got = by_target(dl.compute(policy(), None, while_paused, paused))
    assert got["first_response"].state == "paused" and got["first_response"].due is None
    assert dl.stops(got.values(), set(), paused) == []  # nothing to watch while paused
    after = dl.TicketTimes(created, "open", pauses=(dl.Pause(paused, resumed, "pending_customer"),))
    got = by_target(dl.compute(policy(), None, after, resumed))
    assert got["first_response"].due == utc(2025, 6, 2, 11, 40)  # 20 minutes used, 40 left
    assert got["first_response"].warning_at == utc(2025, 6, 2, 11, 28)


def test_a_pause_counts_only_open_business_time():
    cal = office("Asia/Shanghai")
    created = local(SH, 2025, 6, 2, 17, 0)  # 60 minutes target: 60 minutes left at 17:00
    pause = dl.Pause(local(SH, 2025, 6, 2, 17, 40), local(SH, 2025, 6, 3, 10, 0), "pending_customer")
    times = dl.TicketTimes(created, "open", pauses=(pause,))
    got = by_target(dl.compute(policy(), cal, times, local(SH, 2025, 6, 3, 10, 0)))
    assert got["first_response"].due == local(SH, 2025, 6, 3, 10, 20)  # 40 used, 20 left at 10:00


def test_on_hold_pauses_only_when_the_policy_says_so():
    created = utc(2025, 6, 2, 10, 0)
    hold = dl.Pause(utc(2025, 6, 2, 10, 10), utc(2025, 6, 2, 10, 40), "on_hold")
    times = dl.TicketTimes(created, "open", pauses=(hold,))
    now = utc(2025, 6, 2, 10, 40)
    assert by_target(dl.compute(policy(), None, times, now))["first_response"].due == utc(2025, 6, 2, 11, 0)
    paused = by_target(dl.compute(policy(pause_on_hold=True), None, times, now))
    assert paused["first_response"].due == utc(2025, 6, 2, 11, 30)


def test_met_and_breached_are_judged_at_the_answer():
    created = utc(2025, 6, 2, 10, 0)
    on_time = dl.TicketTimes(created, "open", first_responded_at=utc(2025, 6, 2, 10, 59))
    late = dl.TicketTimes(created, "open", first_responded_at=utc(2025, 6, 2, 11, 1))
    now = utc(2025, 6, 2, 12, 0)
    assert by_target(dl.compute(policy(), None, on_time, now))["first_response"].state == "met"
    assert by_target(dl.compute(policy(), None, late, now))["first_response"].state == "breached"
    # a later pause does not rewrite a met deadline
    later = dl.Pause(utc(2025, 6, 2, 11, 30), None, "pending_customer")
    paused = dl.TicketTimes(
        created, "pending_customer", first_responded_at=utc(2025, 6, 2, 10, 59), pauses=(later,)
    )
    assert by_target(dl.compute(policy(), None, paused, now))["first_response"].state == "met"


def test_next_response_cycles_and_resolution_after_a_reopen():
    p = policy(
        targets=SlaTargets(first_response_minutes=60, next_response_minutes=30, resolution_minutes=240)
    )
    created = utc(2025, 6, 2, 10, 0)
    times = dl.TicketTimes(
        created,
        "open",
        first_responded_at=utc(2025, 6, 2, 10, 5),
        last_public_reply_at=utc(2025, 6, 2, 10, 5),
        last_customer_reply_at=utc(2025, 6, 2, 10, 30),
    )
    nxt = by_target(dl.compute(p, None, times, utc(2025, 6, 2, 10, 30)))["next_response"]
    assert (nxt.due, nxt.key) == (utc(2025, 6, 2, 11, 0), "next_response@2025-06-02T10:30:00.000Z")
    answered = dl.TicketTimes(**{**times.__dict__, "last_public_reply_at": utc(2025, 6, 2, 10, 50)})
    assert by_target(dl.compute(p, None, answered, utc(2025, 6, 2, 10, 50)))["next_response"].state == "met"
    # solved at 11:00 (60 minutes used), reopened at 15:00: 180 minutes remain from 15:00
    solved = dl.Pause(utc(2025, 6, 2, 11, 0), utc(2025, 6, 2, 15, 0), "solved")
    reopened = dl.TicketTimes(**{**answered.__dict__, "pauses": (solved,)})
    assert by_target(dl.compute(p, None, reopened, utc(2025, 6, 2, 15, 0)))["resolution"].due == utc(
        2025, 6, 2, 18, 0
    )
    done = dl.TicketTimes(
        **{
            **answered.__dict__,
            "status": "solved",
            "solved_at": utc(2025, 6, 2, 11, 0),
            "pauses": (dl.Pause(utc(2025, 6, 2, 11, 0), None, "solved"),),
        }
    )
    assert by_target(dl.compute(p, None, done, utc(2025, 6, 2, 11, 0)))["resolution"].state == "met"


def test_solved_without_a_first_response_is_judged_once():
    created = utc(2025, 6, 2, 10, 0)
    late = dl.TicketTimes(created, "solved", solved_at=utc(2025, 6, 2, 12, 0))
    early = dl.TicketTimes(created, "solved", solved_at=utc(2025, 6, 2, 10, 30))
    assert (
        by_target(dl.compute(policy(), None, late, utc(2025, 6, 2, 12, 0)))["first_response"].state
        == "breached"
    )
    assert (
        by_target(dl.compute(policy(), None, early, utc(2025, 6, 2, 12, 0)))["first_response"].state
        == "skipped"
    )


def test_a_priority_change_chooses_another_policy_and_recomputes():
    urgent = policy(
        policy_id="urgent",
        match=PolicyMatch(priorities=["urgent"]),
        targets=SlaTargets(first_response_minutes=15),
    )
    default = policy(policy_id="std")
    created = utc(2025, 6, 2, 10, 0)
    times = dl.TicketTimes(created, "open")
    normal = choose([urgent, default], TicketFacts(priority="normal"))
    raised = choose([urgent, default], TicketFacts(priority="urgent"))
    assert (normal.policy_id, raised.policy_id) == ("std", "urgent")
    assert by_target(dl.compute(normal, None, times, created))["first_response"].due == utc(2025, 6, 2, 11, 0)
    assert by_target(dl.compute(raised, None, times, created))["first_response"].due == utc(
        2025, 6, 2, 10, 15
    )


def test_policy_conditions_tier_channel_category_and_the_default():
    vip = policy(policy_id="vip", match=PolicyMatch(tiers=["VIP"], channels=["wechat"]))
    refunds = policy(policy_id="refunds", match=PolicyMatch(categories=["refund"]))
    rest = policy(policy_id="rest")
    rules = [vip, refunds, rest]
    assert choose(rules, TicketFacts(tier="vip", channel="wechat", category="refund")).policy_id == "vip"
    assert choose(rules, TicketFacts(tier="vip", channel="sms", category="Refund")).policy_id == "refunds"
    assert choose(rules, TicketFacts()).policy_id == "rest"
    assert choose([], TicketFacts()) is DEFAULT_POLICY


def test_policy_set_validation():
    with pytest.raises(ValidationError, match="default"):
        PolicySetUpdate(version=0, policies=[policy(match=PolicyMatch(priorities=["high"]))])
    with pytest.raises(ValidationError, match="twice"):
        PolicySetUpdate(version=0, policies=[policy(), policy()])
    with pytest.raises(ValidationError, match="no target"):
        policy(targets=SlaTargets())
    with pytest.raises(ValidationError):
        policy(warning_percent=100)


def test_stops_in_time_order_skipping_reached_levels_and_past_warnings():
    created = utc(2025, 6, 2, 10, 0)
    computed = dl.compute(policy(), None, dl.TicketTimes(created, "open"), created)
    got = [(s.target, s.stage, s.level, s.at) for s in dl.stops(computed, set(), created)]
    assert got == [
        ("first_response", "warning", 0, utc(2025, 6, 2, 10, 48)),
        ("first_response", "breach", 1, utc(2025, 6, 2, 11, 0)),
        ("first_response", "breach", 2, utc(2025, 6, 2, 11, 30)),
        ("resolution", "warning", 0, utc(2025, 6, 2, 16, 24)),
        ("resolution", "breach", 1, utc(2025, 6, 2, 18, 0)),
        ("resolution", "breach", 2, utc(2025, 6, 2, 18, 30)),
    ]
    later = utc(2025, 6, 2, 11, 10)  # warning passed, breach passed but level 1 reached
    computed = dl.compute(policy(), None, dl.TicketTimes(created, "open"), later)
    got = [(s.target, s.level) for s in dl.stops(computed, {"first_response#1"}, later)][:2]
    assert got == [("first_response", 2), ("resolution", 0)]
    # an unreached breach in the past stays: the machine fires it at once
    unreached = dl.stops(computed, set(), later)
    assert (unreached[0].level, unreached[0].mark) == (1, "first_response#1")
    assert dl.next_due(computed) is not None and dl.next_due(computed).target == "first_response"  # type: ignore[union-attr]


def test_track_pauses_opens_switches_and_closes():
    t = [utc(2025, 6, 2, 10, i) for i in range(4)]
    pauses = track_pauses([], "open", t[0])
    assert pauses == []
    pauses = track_pauses(pauses, "pending_customer", t[1])
    assert pauses == [dl.Pause(t[1], None, "pending_customer")]
    assert track_pauses(pauses, "pending_customer", t[2]) == pauses  # no change
    pauses = track_pauses(pauses, "on_hold", t[2])
    assert pauses == [dl.Pause(t[1], t[2], "pending_customer"), dl.Pause(t[2], None, "on_hold")]
    pauses = track_pauses(pauses, "open", t[3])
    assert pauses[-1] == dl.Pause(t[2], t[3], "on_hold")
    assert timedelta(0) < t[3] - t[0]
