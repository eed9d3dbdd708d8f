"""Routing rules and business-hours calendars through the admin API: roles, optimistic concurrency,
validation, audit, dry runs, and the per-instance caches the router reads through."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.audit import service as audit
from chalicelib.calendars import service as calendars
from chalicelib.calendars.models import CalendarItem
from chalicelib.routing import rules
from chalicelib.routing import service as routing
from chalicelib.routing.models import RuleSetItem
from chalicelib.versions import VersionConflict, save_versioned

OFFICE = {
    "time_zone": "Asia/Shanghai",
    "weekly": {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
    "holidays": ["2025-10-01"],
}
RULES = [
    {
        "rule_id": "night-bot",
        "name": "Bot first after hours",
        "match": {"business_hours": {"state": "closed", "calendar": "cn-office"}},
        "actions": {"bot_first": True, "tags": ["after-hours"]},
    },
    {
        "rule_id": "refunds",
        "name": "Refunds to after-sales",
        "match": {"keywords": ["refund", "退款"]},
        "actions": {"group": "aftersales", "priority": "high"},
        "stop_processing": True,
    },
    {"rule_id": "default", "name": "Everything else", "actions": {"group": "presales"}},
]
MONDAY_10_SH = "2025-09-15T02:00:00Z"
MONDAY_22_SH = "2025-09-15T14:00:00Z"


def call(session: Any, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    raw = json.dumps(body).encode() if body is not None else b""
    r = session.client.http.request(method, path, headers=session._headers(), body=raw)
    return r.status_code, json.loads(r.body) if r.body else {}


@pytest.fixture
def admin(api):
    return api("admin")


@pytest.fixture
def office(admin):
    status, saved = call(admin, "PUT", "/admin/calendars/cn-office", {"version": 0, **OFFICE})
    assert status == 200, saved
    return saved


# ---- routing rules ---------------------------------------------------------------------------------
def test_admins_replace_the_rule_set_with_optimistic_concurrency(admin, office):
    status, empty = call(admin, "GET", "/admin/routing-rules")
    assert status == 200 and (empty["version"], empty["rules"]) == (0, [])

    status, saved = call(admin, "PUT", "/admin/routing-rules", {"version": 0, "rules": RULES})
    assert status == 200, saved
    assert saved["version"] == 1 and [r["rule_id"] for r in saved["rules"]] == [
        "night-bot",
        "refunds",
        "default",
    ]
    assert saved["updated_by"] == "admin"

    status, conflict = call(admin, "PUT", "/admin/routing-rules", {"version": 0, "rules": RULES[1:]})
    assert status == 409 and "changed since version 0" in conflict["message"]

    status, again = call(admin, "PUT", "/admin/routing-rules", {"version": 1, "rules": RULES[1:]})
    assert status == 200 and again["version"] == 2
    status, read = call(admin, "GET", "/admin/routing-rules")
    assert read["version"] == 2 and [r["rule_id"] for r in read["rules"]] == ["refunds", "default"]


def test_only_admins_change_rules_and_supervisors_may_read_and_try_them(api, office):
    for who in ("agent1", "supervisor"):
        status, _ = call(api(who), "PUT", "/admin/routing-rules", {"version": 0, "rules": RULES})
        assert status == 403, who
    assert call(api("agent1"), "GET", "/admin/routing-rules")[0] == 403
    assert call(api("agent1"), "POST", "/admin/routing-rules/test", {"channel": "sms"})[0] == 403
    assert call(api("supervisor"), "GET", "/admin/routing-rules")[0] == 200
    assert call(api("supervisor"), "POST", "/admin/routing-rules/test", {"channel": "sms"})[0] == 200
    assert call(api("admin"), "GET", "/admin/routing-rules")[1]["version"] == 0  # nothing was saved


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"actions": {"group": "nope"}}, "rule 'default': unknown skill group 'nope'"),
        ({"match": {"channels": ["pager"]}}, "rule 'default': unknown channel 'pager'"),
        (
            {"match": {"business_hours": {"state": "open", "calendar": "mars"}}},
            "rule 'default': unknown calendar 'mars'",
        ),
        ({"match": {"regex": "(oops"}}, "rules.2.match.regex: Value error, regex does not compile"),
        ({"rule_id": "refunds"}, "rule id 'refunds' is used twice"),
    ],
)
def test_a_bad_rule_set_is_a_400_that_says_what_is_wrong(admin, office, change, message):
    bad = [*RULES[:2], RULES[2] | change]
    status, answer = call(admin, "PUT", "/admin/routing-rules", {"version": 0, "rules": bad})
    assert status == 400 and message in answer["message"], answer
    assert call(admin, "GET", "/admin/routing-rules")[1]["version"] == 0


def test_every_change_is_audited_with_what_changed(admin, office):
    call(admin, "PUT", "/admin/routing-rules", {"version": 0, "rules": RULES})
    edited = [RULES[0], RULES[2] | {"actions": {"group": "aftersales"}}]
    call(admin, "PUT", "/admin/routing-rules", {"version": 1, "rules": edited})
    records = audit.history(routing.AUDIT_SUBJECT)
    assert [(r.action, r.actor) for r in records] == [("routing_rules.replace", "admin")] * 2
    assert records[0].details == {
        "version": 2,
        "previous_version": 1,
        "added": [],
        "removed": ["refunds"],
        "changed": ["default"],
        "reordered": False,
    }
    assert records[1].details["added"] == ["night-bot", "refunds", "default"]


def test_a_dry_run_shows_the_decision_for_saved_rules_or_a_draft(admin, office):
    call(admin, "PUT", "/admin/routing-rules", {"version": 0, "rules": RULES})
    _, day = call(
        admin,
        "POST",
        "/admin/routing-rules/test",
        {"text": "我要退款", "channel": "wechat", "at": MONDAY_10_SH},
    )
    assert day["decision"] == {
        "group": "aftersales",
        "priority": "high",
        "bot_first": False,
        "tags": [],
        "matched": ["refunds"],
    }
    _, night = call(
        admin, "POST", "/admin/routing-rules/test", {"text": "hello", "channel": "sms", "at": MONDAY_22_SH}
    )
    assert night["decision"]["matched"] == ["night-bot", "default"] and night["decision"]["bot_first"] is True
    draft = [
        {
            "rule_id": "vip",
            "name": "VIP",
            "match": {"tiers": ["vip"]},
            "actions": {"group": "presales", "priority": "urgent"},
        }
    ]
    _, tried = call(
        admin, "POST", "/admin/routing-rules/test", {"channel": "sms", "tier": "VIP", "rules": draft}
    )
    assert tried["decision"]["priority"] == "urgent" and tried["decision"]["matched"] == ["vip"]
    status, bad = call(
        admin, "POST", "/admin/routing-rules/test", {"channel": "sms", "at": "2025-09-15T10:00:00"}
    )
    assert status == 400 and "offset" in bad["message"]


def test_the_router_reads_the_rules_through_a_30_second_cache(admin, office, monkeypatch):
    now = [1000.0]
    monkeypatch.setattr(routing, "_clock", lambda: now[0])
    call(admin, "PUT", "/admin/routing-rules", {"version": 0, "rules": RULES})
    assert routing.ruleset().version == 1  # the instance that saved sees its change at once

    # Another instance saves version 2: this one keeps version 1 until its cache expires.
    item = RuleSetItem(
        rules=rules.dump(rules.RuleSetUpdate(version=1, rules=RULES[2:]).rules),
        updated_at="t",
        updated_by="x",
    )
    save_versioned(item, 1, "routing rules")
    now[0] += routing.CACHE_SECONDS - 1
    assert routing.ruleset().version == 1
    now[0] += 2
    fresh = routing.ruleset()
    assert fresh.version == 2 and [r.rule_id for r in fresh.rules] == ["default"]
    decision = rules.decide(
        fresh,
        rules.RoutingContext(text="refund", channel="sms", at="2025-09-15T02:00:00Z"),
        routing.calendars(),
    )
    assert decision.group == "presales"


def test_a_write_racing_past_the_version_check_is_still_refused(aws):
    first = RuleSetItem(rules=[], updated_at="t", updated_by="a")
    assert save_versioned(first, 0, "routing rules") == 1
    late = RuleSetItem(rules=[], updated_at="t", updated_by="b")
    with pytest.raises(VersionConflict):
        save_versioned(late, 0, "routing rules")  # created meanwhile
    assert save_versioned(RuleSetItem(rules=[], updated_at="t", updated_by="c"), 1, "routing rules") == 2
    with pytest.raises(VersionConflict):
        save_versioned(RuleSetItem(rules=[], updated_at="t", updated_by="d"), 1, "routing rules")


def test_stored_rules_that_no_longer_validate_leave_routing_to_intent_detection(aws):
    save_versioned(RuleSetItem(rules=[{"rule_id": "Bad Id"}], updated_at="t", updated_by="x"), 0, "rules")
    assert routing.ruleset() == rules.RuleSet(version=1)


# ---- calendars -------------------------------------------------------------------------------------
def test_admins_create_list_read_and_replace_calendars(admin, office):
    assert office["version"] == 1 and office["name"] == "cn-office" and office["updated_by"] == "admin"
    status, listed = call(admin, "GET", "/admin/calendars")
    assert status == 200 and [(c["name"], c["version"]) for c in listed["items"]] == [("cn-office", 1)]
    status, one = call(admin, "GET", "/admin/calendars/cn-office")
    assert (
        status == 200 and one["weekly"]["mon"] == [["09:00", "18:00"]] and one["holidays"] == ["2025-10-01"]
    )
    assert call(admin, "GET", "/admin/calendars/nowhere")[0] == 404

    status, conflict = call(admin, "PUT", "/admin/calendars/cn-office", {"version": 0, **OFFICE})
    assert status == 409 and "changed since version 0" in conflict["message"]
    status, replaced = call(
        admin, "PUT", "/admin/calendars/cn-office", {"version": 1, **OFFICE, "holidays": []}
    )
    assert status == 200 and replaced["version"] == 2 and replaced["holidays"] == []
    assert [r.action for r in audit.history("calendar#cn-office")] == ["calendar.put", "calendar.put"]


def test_only_admins_change_calendars_and_bad_ones_are_a_clear_400(api, admin):
    for who in ("agent1", "supervisor"):
        assert call(api(who), "PUT", "/admin/calendars/x", {"version": 0, **OFFICE})[0] == 403, who
    assert call(api("agent1"), "GET", "/admin/calendars")[0] == 403
    assert call(api("supervisor"), "GET", "/admin/calendars")[0] == 200
    status, bad = call(admin, "PUT", "/admin/calendars/x", {"version": 0, **OFFICE, "time_zone": "Mars/Base"})
    assert status == 400 and "time_zone: Value error, unknown time zone 'Mars/Base'" in bad["message"]
    status, bad = call(admin, "PUT", "/admin/calendars/Not%20A%20Name", {"version": 0, **OFFICE})
    assert status in (400, 404)  # never stored under a name rules cannot refer to
    assert call(admin, "GET", "/admin/calendars")[1]["items"] == []


def test_get_calendar_is_cached_per_instance_and_a_missing_one_is_a_key_error(admin, office, monkeypatch):
    now = [5000.0]
    monkeypatch.setattr(calendars, "_clock", lambda: now[0])
    assert calendars.get_calendar("cn-office").holidays[0].isoformat() == "2025-10-01"
    changed = CalendarItem(
        "calendar", "cn-office", definition={**OFFICE, "holidays": []}, updated_at="t", updated_by="x"
    )
    save_versioned(changed, 1, "calendar")
    assert calendars.get_calendar("cn-office").holidays  # still the cached copy
    now[0] += calendars.CACHE_SECONDS + 1
    assert calendars.get_calendar("cn-office").holidays == []
    with pytest.raises(KeyError):
        calendars.get_calendar("nowhere")


# ---- demo data ---------------------------------------------------------------------------------------
def test_the_demo_rules_and_calendar_seed_and_reseed(aws):
    from chalicelib.agents import service as agents
    from infra.local import demo

    for group_id, name, description in demo.SKILL_GROUPS:
        agents.put_group(group_id, name, description)
    demo.seed_routing()
    demo.seed_routing()  # the local stack may seed again: it replaces, never conflicts
    saved = routing.current()
    assert saved.version == 2 and [r.rule_id for r in saved.rules] == [
        r["rule_id"] for r in demo.ROUTING_RULES
    ]
    assert calendars.calendar_view("cn-support")["version"] == 2
    sunday_night = rules.RoutingContext(
        text="我要投诉，快递没收到", channel="wechat", at="2025-09-14T15:00:00Z"
    )
    decision = rules.decide(routing.ruleset(), sunday_night, routing.calendars())
    assert (decision.group, decision.priority, decision.bot_first) == ("complaints", "urgent", False)
    bot_desk = rules.RoutingContext(text="hi", channel="sms", account="bot", at="2025-09-14T15:00:00Z")
    assert rules.decide(routing.ruleset(), bot_desk, routing.calendars()).bot_first is True
    assert decision.tags == ["complaint", "after-hours"]
