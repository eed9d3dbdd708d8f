"""Auto-tags from customers' messages: which tags, why, and how sure (chalicelib/insight/tags.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from chalicelib.insight import evaluate
from chalicelib.insight.tags import (
    AFTER_SALES,
    COMPLAINT_RISK,
    HIGH_VALUE,
    PRICE_SENSITIVE,
    THRESHOLD,
    Message,
    OrderFacts,
    infer,
)


def tags_of(*texts: str, orders: OrderFacts | None = None) -> dict[str, list[str]]:
    found = infer([Message(text, f"m{i}") for i, text in enumerate(texts)], orders)
    return {t.tag: [r.phrase for r in t.reasons] for t in found}


def test_traditional_and_simplified_chinese_set_the_same_tag_with_the_phrase_as_reason() -> None:
    assert tags_of("太貴了，有折扣嗎") == tags_of("太贵了，有折扣吗")
    assert set(tags_of("太貴了，有折扣嗎")[PRICE_SENSITIVE]) == {"太贵", "折扣"}


def test_the_reason_names_the_message_that_set_the_tag() -> None:
    (tag,) = infer([Message("你好", "m1"), Message("my kettle is defective", "m2")])
    assert tag.tag == AFTER_SALES and tag.source == "rules" and tag.confidence >= THRESHOLD
    assert tag.reasons[0].message_id == "m2" and tag.reasons[0].phrase == "defective"


@pytest.mark.parametrize(
    "text",
    [
        "不贵，挺好的",
        "not expensive at all",
        "我不想投诉，问问发货",
        "no complaints here",
        "没有坏，问问颜色",
    ],
)
def test_a_negated_phrase_sets_nothing(text: str) -> None:
    assert tags_of(text) == {}


def test_a_weak_cue_alone_sets_nothing_but_two_do() -> None:
    assert tags_of("how much is it?") == {}
    assert PRICE_SENSITIVE not in tags_of("价格多少")
    assert PRICE_SENSITIVE in tags_of("cheaper somewhere else")


def test_the_longest_phrase_wins_where_cues_overlap() -> None:
    assert tags_of("the price dropped, can you refund the difference?") == {
        PRICE_SENSITIVE: ["refund the difference", "price dropped"]
    }
    assert tags_of("I'll return to the store tomorrow") == {}


def test_full_width_and_upper_case_are_folded() -> None:
    assert AFTER_SALES in tags_of("ＲＥＦＵＮＤ please")


def test_high_value_comes_from_order_facts_only() -> None:
    assert HIGH_VALUE not in tags_of("I am a VIP, I spend a lot here")
    assert tags_of("hi", orders=OrderFacts(order_count=2, total_spent=9000)) == {
        HIGH_VALUE: ["total_spent=9000"]
    }
    assert tags_of("hi", orders=OrderFacts(order_count=1, total_spent=10)) == {}


def test_assist_signals_on_a_message_read_as_complaint_risk() -> None:
    (tag,) = infer([Message("ok", "m1", sentiment=-0.9, risk="high")])
    assert tag.tag == COMPLAINT_RISK and tag.source == "signals" and tag.reasons[0].message_id == "m1"
    assert infer([Message("ok", "m1", sentiment=-0.9)]) == []  # a sentiment alone needs company
    assert [t.tag for t in infer([Message("ok", "m1", sentiment=-0.9), Message("太差了", "m2")])] == [
        COMPLAINT_RISK
    ]


def test_precision_on_the_held_out_set_reaches_90_percent() -> None:
    figures = evaluate.evaluate(Path(evaluate.DATA).with_name("heldout.jsonl"))
    assert figures["all"]["precision"] >= 0.9
    assert figures["all"]["recall"] >= 0.6
