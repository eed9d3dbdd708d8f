"""Sentiment and escalation signals of customer messages (pure; the sentence embedder runs on CPU)."""

from __future__ import annotations

import pytest

from chalicelib.assist import evaluate
from chalicelib.assist.sentiment import analyse, lexical


@pytest.mark.parametrize(
    ("text", "signal"),
    [
        ("再不处理我就打12315", "regulator"),
        ("我要投诉你们", "complaint"),
        ("我已经找了律师", "legal"),
        ("不解决我就发微博曝光", "media"),
        ("这是我第三次问了", "repeated"),
        ("I've asked 3 times already", "repeated"),
        ("WHERE IS MY ORDER", "all_caps"),
        ("都一个星期了还没发货", "long_wait"),
        ("It's been 10 days", "long_wait"),
        ("人工！人工！", "exclaim"),
    ],
)
def test_escalation_signals_are_recognised_in_zh_and_en(text, signal):
    assert signal in lexical(text).signals


def test_a_complaint_is_negative_and_high_risk_whatever_the_tone():
    s = analyse("您好，麻烦帮我转投诉部门，谢谢")
    assert (s.label, s.risk) == ("negative", "high")


def test_negated_praise_counts_against_and_contrast_weighs_the_second_half():
    assert lexical("不太满意").label() == "negative"
    assert lexical("not happy with this").label() == "negative"
    assert lexical("谢谢，但是到现在还没发货，太慢了").label() == "negative"
    assert lexical("不错不错").label() == "positive"


def test_the_same_question_again_is_a_repeat():
    s = lexical("我的快递到哪了？", previous=["我的快递到哪了", "在吗"])
    assert "repeated" in s.signals


def test_a_long_wait_since_the_last_answer_is_a_signal():
    assert "long_wait" in lexical("在吗", waited_seconds=2 * 3600).signals
    assert "long_wait" not in lexical("在吗", waited_seconds=60).signals


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("谢谢，问题解决了", "positive"),
        ("Thanks a lot, that fixed it", "positive"),
        ("请问这款有黑色的吗", "neutral"),
        ("Do you ship to Canada?", "neutral"),
        ("你们这服务态度真的太差了", "negative"),
        ("Worst customer service ever", "negative"),
    ],
)
def test_everyday_messages_get_their_label(text, label):
    assert analyse(text).label == label


def test_the_labelled_set_meets_its_targets_in_cross_validation():
    r = evaluate.cross_validate(evaluate.DATA)
    assert r["n"] >= 200
    assert r["accuracy"] >= 0.85 and r["negative_recall"] >= 0.90, r["errors"]
