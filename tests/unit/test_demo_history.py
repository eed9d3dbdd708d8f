"""The demo's 30 days of analytics history (infra/local/demo/history.py): facts of the shapes the
conversations capability publishes, dated in the 30 UTC days before "today", reproducible, with
the weekly and daily shape of real traffic and every duration consistent with its facts' times."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

from chalicelib.analytics.buckets import parse
from chalicelib.events import Activity
from infra.local.demo import history

NOW = datetime(2026, 12, 7, 9, 30, tzinfo=UTC)  # a Monday


def facts() -> list[Activity]:
    return list(history.facts(NOW))


def test_history_covers_the_30_days_before_today_and_nothing_after() -> None:
    found = facts()
    days = {parse(f.at).date() for f in found}
    today = NOW.date()
    assert days == {today - timedelta(days=n) for n in range(1, 31)}
    assert all(parse(f.at) < NOW.replace(hour=0, minute=30) for f in found)


def test_the_same_day_gives_the_same_facts_and_every_event_id_is_unique() -> None:
    first, again = facts(), facts()
    assert first == again
    assert len({f.event_id for f in first}) == len(first)
    shifted = list(history.facts(NOW + timedelta(days=1)))  # tomorrow: 29 days in common, same ids
    common = {f.event_id for f in first} & {f.event_id for f in shifted}
    assert len(common) > 0.9 * len(first)


def test_facts_have_the_kinds_and_dimensions_the_aggregator_counts() -> None:
    found = facts()
    kinds = Counter(f.kind for f in found)
    assert set(kinds) == {
        "conversation_opened", "message_in", "message_out", "conversation_closed", "conversation_assigned",
        "conversation_transferred", "csat_answered",
        "bot_started", "bot_resolved", "bot_handed_off", "bot_abandoned",
    }  # fmt: skip
    assert kinds["bot_started"] == kinds["bot_resolved"] + kinds["bot_handed_off"] + kinds["bot_abandoned"]
    scores = [f.values["csat"] for f in found if f.kind == "csat_answered"]
    assert 4.0 < sum(scores) / len(scores) < 4.6 and set(scores) == {1, 2, 3, 4, 5}
    assert 600 <= kinds["conversation_opened"] <= 1000  # ~26 a weekday, ~15 a weekend day
    for f in found:
        assert {"channel", "group", "priority"} <= set(f.dims)
        if f.kind in ("message_out", "conversation_closed", "conversation_assigned", "csat_answered"):
            assert f.dims["agent"].startswith("agent")
    assert len({f.dims["channel"] for f in found}) >= 10


def test_weekdays_are_busier_than_weekends_and_nights_are_quiet() -> None:
    opened = [parse(f.at) for f in facts() if f.kind == "conversation_opened"]
    per_day = Counter(t.date() for t in opened)
    weekday = [n for d, n in per_day.items() if d.weekday() < 5]
    weekend = [n for d, n in per_day.items() if d.weekday() >= 5]
    assert sum(weekday) / len(weekday) > 1.4 * sum(weekend) / len(weekend)
    shanghai = Counter((t + timedelta(hours=8)).hour for t in opened)
    assert shanghai[10] + shanghai[21] > 10 * (shanghai[3] + shanghai[4])


def test_durations_match_the_times_of_the_facts_and_first_replies_meet_the_sla_mostly() -> None:
    by_conversation: dict[str, dict[str, Activity]] = defaultdict(dict)
    met = breached = 0
    for f in facts():
        cid = "#".join(f.event_id.split("#")[:3])  # demo#<day>#<n>
        by_conversation[cid][f.event_id] = f
        if "sla_met" in f.flags:
            met, breached = met + f.flags["sla_met"], breached + (not f.flags["sla_met"])
    checked = 0
    for cid, fs in by_conversation.items():
        opened = parse(fs[f"{cid}#open"].at)
        first = fs.get(f"{cid}#out#1")
        if first is not None:
            assert first.seconds["first_response"] == round((parse(first.at) - opened).total_seconds())
            checked += 1
        closed = fs.get(f"{cid}#close")
        if closed is not None:
            assert closed.seconds["resolution"] == round((parse(closed.at) - opened).total_seconds())
            assigned = parse(fs[f"{cid}#assigned"].at)
            assert closed.seconds["handle"] == round((parse(closed.at) - assigned).total_seconds())
            assert fs[f"{cid}#assigned"].seconds["wait"] >= 0
    assert checked > 500
    assert 0.85 < met / (met + breached) < 0.995
