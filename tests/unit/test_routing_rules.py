"""Routing rules, pure: every kind of condition, order, stop, disabled rules, tags, business hours,
catastrophic regexes, and what a save refuses."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from pydantic import ValidationError

from chalicelib.calendars.hours import BusinessHours
from chalicelib.routing.rules import (
    MAX_RULES,
    InvalidRules,
    RoutingContext,
    Rule,
    RuleSet,
    RuleSetUpdate,
    check_references,
    decide,
    dump,
    referenced,
)

MONDAY_10_SH = datetime(2025, 9, 15, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
MONDAY_22_SH = datetime(2025, 9, 15, 14, 0, tzinfo=UTC)  # 22:00 in Shanghai
OFFICE = BusinessHours(
    name="cn-office",
    time_zone="Asia/Shanghai",
    weekly={d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
)


def rule(rule_id: str, match: dict | None = None, **actions) -> Rule:
    stop = actions.pop("stop", False)
    enabled = actions.pop("enabled", True)
    return Rule(
        rule_id=rule_id,
        name=rule_id.title(),
        match=match or {},
        actions=actions,
        stop_processing=stop,
        enabled=enabled,
    )


def ctx(text: str = "", **kw) -> RoutingContext:
    return RoutingContext(text=text, **({"channel": "wechat", "at": MONDAY_10_SH} | kw))


def matches(r: Rule, c: RoutingContext, calendars: dict | None = None) -> bool:
    return decide([r], c, calendars or {}).matched == [r.rule_id]


# ---- conditions ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("I want a REFUND please", True),
        ("refund?", True),
        ("Is this refundable?", False),  # whole words only
        ("nonrefund", False),
        ("ＲＥＦＵＮＤ", True),  # full-width letters, as Chinese keyboards type them
        ("我要refund", True),  # Latin words inside Chinese text have no spaces around them
        ("我要退款，谢谢", True),  # CJK keywords match inside words
        ("退货", False),
        ("money back", True),  # phrases
        ("moneyback", False),
        ("", False),
    ],
)
def test_keywords_match_any_whole_word_case_insensitively_and_cjk_inside_words(text, expected):
    r = rule("refunds", {"keywords": ["refund", "退款", "money back"]}, group="aftersales")
    assert matches(r, ctx(text)) is expected


def test_a_regex_is_searched_case_insensitively():
    r = rule("orders", {"regex": r"order\s*#?\d{6,}"}, tags=["has-order"])
    assert matches(r, ctx("Where is ORDER #1234567?"))
    assert not matches(r, ctx("where is my order"))


def test_channels_accounts_tiers_and_tags():
    assert matches(rule("c", {"channels": ["sms", "wechat"]}, priority="high"), ctx())
    assert not matches(rule("c", {"channels": ["sms"]}, priority="high"), ctx())
    assert matches(rule("a", {"accounts": ["shop2"]}, priority="high"), ctx(account="shop2"))
    assert not matches(rule("a", {"accounts": ["shop2"]}, priority="high"), ctx())
    vip = rule("t", {"tiers": ["VIP", "gold"]}, group="vip")
    assert (
        matches(vip, ctx(tier="vip")) and not matches(vip, ctx(tier="standard")) and not matches(vip, ctx())
    )
    tagged = rule("g", {"tags": ["Wholesale", "b2b"]}, group="presales")
    assert matches(tagged, ctx(tags=["b2b", "newsletter"]))
    assert not matches(tagged, ctx(tags=["newsletter"]))


def test_business_hours_open_and_closed():
    calendars = {"cn-office": OFFICE}
    day = rule("day", {"business_hours": {"state": "open", "calendar": "cn-office"}}, group="presales")
    night = rule("night", {"business_hours": {"state": "closed", "calendar": "cn-office"}}, bot_first=True)
    assert matches(day, ctx(at=MONDAY_10_SH), calendars) and not matches(day, ctx(at=MONDAY_22_SH), calendars)
    assert matches(night, ctx(at=MONDAY_22_SH), calendars) and not matches(
        night, ctx(at=MONDAY_10_SH), calendars
    )


def test_a_condition_on_a_missing_calendar_does_not_hold():
    night = rule("night", {"business_hours": {"state": "closed", "calendar": "gone"}}, bot_first=True)
    assert not matches(night, ctx(at=MONDAY_22_SH), {})


def test_every_present_condition_must_hold():
    r = rule("vip-refund", {"keywords": ["refund"], "channels": ["wechat"], "tiers": ["vip"]}, group="vip")
    assert matches(r, ctx("refund", tier="vip"))
    assert not matches(r, ctx("refund", tier="vip", channel="sms"))
    assert not matches(r, ctx("hello", tier="vip"))
    assert not matches(r, ctx("refund"))


def test_a_rule_without_conditions_matches_everything_and_empty_lists_are_no_condition():
    assert matches(rule("catch-all", priority="normal"), ctx("anything"))
    assert matches(rule("empty", {"keywords": [], "channels": []}, priority="normal"), ctx("anything"))


# ---- order, stop, disabled, accumulation ---------------------------------------------------------
def test_the_first_matching_rule_that_sets_a_field_wins_it_and_tags_accumulate():
    rules = [
        rule("tag-only", {"keywords": ["refund"]}, tags=["refund"]),
        rule("first", {"keywords": ["refund"]}, group="aftersales", tags=["money", "refund"]),
        rule("second", {"keywords": ["refund"]}, group="complaints", priority="high", tags=["angry"]),
        rule("third", priority="low", bot_first=True),
    ]
    d = decide(rules, ctx("refund now"), {})
    assert (d.group, d.priority, d.bot_first) == ("aftersales", "high", True)
    assert d.tags == ["refund", "money", "angry"]
    assert d.matched == ["tag-only", "first", "second", "third"]


def test_stop_processing_ends_the_evaluation():
    rules = [
        rule("spam", {"keywords": ["casino"]}, tags=["spam"], stop=True),
        rule("catch-all", group="presales"),
    ]
    assert decide(rules, ctx("best casino bonus"), {}).model_dump() == {
        "group": None,
        "priority": None,
        "bot_first": False,
        "tags": ["spam"],
        "matched": ["spam"],
    }
    assert decide(rules, ctx("hello"), {}).group == "presales"


def test_disabled_rules_are_skipped():
    rules = [rule("off", group="vip", enabled=False), rule("on", group="presales")]
    d = decide(rules, ctx(), {})
    assert d.group == "presales" and d.matched == ["on"]


def test_an_explicit_bot_first_false_from_an_earlier_rule_wins():
    rules = [rule("vip-human", {"tiers": ["vip"]}, bot_first=False), rule("night-bot", bot_first=True)]
    assert decide(rules, ctx(tier="vip"), {}).bot_first is False
    assert decide(rules, ctx(), {}).bot_first is True


def test_no_rules_decide_nothing():
    assert decide(RuleSet(), ctx("refund"), {}).model_dump() == {
        "group": None,
        "priority": None,
        "bot_first": False,
        "tags": [],
        "matched": [],
    }


# ---- catastrophic patterns -------------------------------------------------------------------------
def test_a_catastrophic_regex_returns_in_bounded_time_and_counts_as_no_match():
    evil = rule("evil", {"regex": r"(a|aa)+$"}, group="vip")
    fine = rule("fine", {"keywords": ["aaaa"]}, tags=["seen"])
    text = "a" * 60 + "!"
    started = time.monotonic()
    d = decide([evil, fine], ctx(text), {})
    assert time.monotonic() - started < 1.0
    assert d.group is None and d.matched == []  # "aaaa" is not a whole word here, evil timed out
    assert decide([evil, fine], ctx("aaaa"), {}).matched == ["evil", "fine"]  # a short text is fine


def test_many_catastrophic_regexes_share_one_time_budget():
    evil = [rule(f"evil{i}", {"regex": r"(a|aa)+$"}, group="vip") for i in range(40)]
    started = time.monotonic()
    d = decide([*evil, rule("last", group="presales")], ctx("a" * 60 + "!"), {})
    assert time.monotonic() - started < 0.8  # 40 timeouts one after the other take well over a second
    assert d.group == "presales" and d.matched == ["last"]


# ---- validation ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"rule_id": "x", "name": "X", "match": {"regex": "(unclosed"}, "actions": {"tags": ["a"]}},
            "does not compile",
        ),
        (
            {"rule_id": "x", "name": "X", "match": {"regex": "a" * 501}, "actions": {"tags": ["a"]}},
            "at most 500",
        ),
        ({"rule_id": "x", "name": "X", "actions": {}}, "no action"),
        ({"rule_id": "x", "name": "X", "actions": {"priority": "asap"}}, "priority"),
        ({"rule_id": "Bad Id", "name": "X", "actions": {"tags": ["a"]}}, "rule_id"),
        (
            {
                "rule_id": "x",
                "name": "X",
                "match": {"business_hours": {"state": "maybe", "calendar": "c"}},
                "actions": {"tags": ["a"]},
            },
            "state",
        ),
        ({"rule_id": "x", "name": "X", "match": {"colour": "red"}, "actions": {"tags": ["a"]}}, "colour"),
    ],
)
def test_bad_rules_are_refused_with_a_clear_reason(body, message):
    with pytest.raises(ValidationError, match=message):
        Rule.model_validate(body)


def test_rule_ids_are_unique_and_the_list_is_bounded():
    with pytest.raises(ValidationError, match="used twice"):
        RuleSetUpdate(version=0, rules=[rule("a", group="x"), rule("a", group="y")])
    with pytest.raises(ValidationError, match=f"at most {MAX_RULES}"):
        RuleSetUpdate(version=0, rules=[rule(f"r{i}", group="x") for i in range(MAX_RULES + 1)])


def test_references_to_unknown_channels_groups_and_calendars_are_listed():
    rules = [
        rule("a", {"channels": ["wechat", "pager"]}, group="presales"),
        rule("b", {"business_hours": {"state": "open", "calendar": "nope"}}, group="vip"),
    ]
    assert referenced(rules) == ({"presales", "vip"}, {"nope"})
    with pytest.raises(InvalidRules) as err:
        check_references(rules, channels={"wechat", "sms"}, groups={"presales"}, calendars={"cn-office"})
    assert str(err.value) == (
        "rule 'a': unknown channel 'pager'; rule 'b': unknown skill group 'vip'; "
        "rule 'b': unknown calendar 'nope'"
    )
    check_references(rules[:1], channels={"wechat", "pager"}, groups={"presales"}, calendars=set())


def test_rules_round_trip_through_their_stored_form():
    rules = [
        rule(
            "a",
            {"keywords": ["退款"], "business_hours": {"state": "open", "calendar": "c"}},
            group="x",
            stop=True,
        )
    ]
    stored = dump(rules)
    assert stored[0]["match"] == {"keywords": ["退款"], "business_hours": {"state": "open", "calendar": "c"}}
    assert RuleSet(version=2, rules=stored).rules == rules
