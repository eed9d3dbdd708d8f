"""Pure ticket rules: transitions, parent progress, custom fields, templates, keyword flow, CSAT."""

from __future__ import annotations

import pytest

from chalicelib.tickets import rules
from chalicelib.tickets.models import STATUSES


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("new", "open"),
        ("new", "solved"),
        ("open", "pending_customer"),
        ("pending_customer", "open"),
        ("on_hold", "solved"),
        ("solved", "open"),  # reopened
        ("solved", "closed"),
    ],
)
def test_allowed_transitions(current: str, target: str) -> None:
    rules.check_transition(current, target)


@pytest.mark.parametrize(
    ("current", "target"),
    [
        ("closed", "open"),
        ("closed", "solved"),
        ("solved", "pending_customer"),
        ("open", "new"),
        ("open", "bogus"),
    ],
)
def test_refused_transitions(current: str, target: str) -> None:
    with pytest.raises(rules.InvalidTransition):
        rules.check_transition(current, target)


def test_every_status_has_transitions_defined_and_closed_is_final() -> None:
    assert set(rules.TRANSITIONS) == set(STATUSES)
    assert rules.TRANSITIONS["closed"] == frozenset()
    assert all(s not in targets for s, targets in rules.TRANSITIONS.items())  # no self-loops


def test_done_delta_counts_only_crossing_into_or_out_of_done() -> None:
    assert rules.done_delta("open", "solved") == 1
    assert rules.done_delta("new", "closed") == 1
    assert rules.done_delta("solved", "closed") == 0
    assert rules.done_delta("solved", "open") == -1
    assert rules.done_delta("open", "on_hold") == 0


def test_parent_progress_and_when_it_solves() -> None:
    assert rules.progress(3, 1) == {"total": 3, "done": 1, "percent": 33, "complete": False}
    assert rules.progress(2, 2)["complete"] is True
    assert rules.progress(None, None) == {"total": 0, "done": 0, "percent": 0, "complete": False}
    assert rules.parent_should_solve("open", 2, 2)
    assert not rules.parent_should_solve("open", 2, 1)
    assert not rules.parent_should_solve("solved", 2, 2)  # already done: nothing to do
    assert not rules.parent_should_solve("new", 0, 0)


def test_custom_fields_follow_the_category_schema() -> None:
    assert rules.validate_custom_fields("refund", {"amount": 12, "reason": "broken"}) == {
        "amount": 12.0,
        "reason": "broken",
    }
    assert rules.validate_custom_fields("refund", {"amount": None}) == {"amount": None}  # removal
    with pytest.raises(ValueError, match="no field"):
        rules.validate_custom_fields("refund", {"colour": "red"})
    with pytest.raises(ValueError, match="must be a float"):
        rules.validate_custom_fields("refund", {"amount": "12"})
    with pytest.raises(ValueError, match="must be a bool"):
        rules.validate_custom_fields("repair", {"warranty": 1})
    assert rules.validate_custom_fields("other", {"anything": "x"}) == {"anything": "x"}
    with pytest.raises(ValueError):
        rules.validate_custom_fields(None, {"bad name": "x"})


def test_templates_per_language() -> None:
    text = rules.render("status.solved", "zh-CN", number=10042, subject="换货")
    assert text == "您的工单 #10042（换货）已处理完成。"
    assert rules.render("status.solved", "en", number=7, subject="Exchange") == (
        "Your ticket #7 (Exchange) has been solved."
    )
    assert rules.render("csat", "fr") == rules.render("csat", "en")  # unknown language → English
    long = rules.render("created", "en", number=1, subject="x" * 100)
    assert "x" * 29 + "…" in long
    every = {k for k in rules.TEMPLATES}
    assert all(set(rules.TEMPLATES[k]) == set(rules.LANGUAGES) for k in every)
    assert {f"status.{s}" for s in STATUSES if s != "new"} <= every


def test_status_summary_lists_each_ticket_or_says_there_is_none() -> None:
    answer = rules.status_summary(
        [
            {"number": 10042, "subject": "换货", "status": "open"},
            {"number": 10043, "subject": "退款", "status": "pending_customer"},
        ],
        "zh-CN",
    )
    assert answer == "您的工单进度：\n#10042（换货）：处理中\n#10043（退款）：等待您的回复"
    assert "no open tickets" in rules.status_summary([], "en")


@pytest.mark.parametrize(
    "text",
    [
        "我的工单进度怎么样了？",
        "订单状态",
        "查一下进度",
        "What's the status of my ticket?",
        "any update on my ticket",
        "Where is my order??",
        "where is my parcel",
        "order status please",
    ],
)
def test_status_questions_are_recognized(text: str) -> None:
    assert rules.is_status_question(text)


@pytest.mark.parametrize(
    "text",
    ["hello", "I want to buy the serum", "", "my ticket", "x" * 60 + " where is my order " + "y" * 30],
)
def test_other_messages_are_not_status_questions(text: str) -> None:
    assert not rules.is_status_question(text)


@pytest.mark.parametrize(
    ("text", "score"),
    [("5", 5), (" 1 ", 1), ("５", 5), ("4分", 4), ("3 stars", 3), ("4/5", 4), ("2.", 2), ("5！", 5)],
)
def test_csat_answers(text: str, score: int) -> None:
    assert rules.parse_csat(text) == score


@pytest.mark.parametrize("text", ["0", "6", "10", "5 but slow", "five", "", None, "12345"])
def test_not_csat_answers(text: str | None) -> None:
    assert rules.parse_csat(text) is None


def test_ticket_number_in_subject_language_and_default_subject() -> None:
    assert rules.ticket_number_in("Re: [#10042] 换货") == 10042
    assert rules.ticket_number_in("Order #10042") is None
    assert rules.language_of("我的包裹坏了") == "zh-CN"
    assert rules.language_of("my parcel is broken") == "en"
    assert rules.default_subject("the parcel arrived broken\nsecond line") == "the parcel arrived broken"
    assert rules.default_subject("   ") == "Customer request"


def test_diff_reports_only_what_moves() -> None:
    current = {"status": "new", "tags": ["a", "b"], "assignee_id": None}
    assert rules.diff(current, {"status": "new", "tags": ["b", "a"], "assignee_id": "agent1"}) == {
        "assignee_id": {"from": None, "to": "agent1"}
    }
