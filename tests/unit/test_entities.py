"""Entities in customer messages, zh and en formats, with spans in the text as sent."""

from __future__ import annotations

import pytest

from chalicelib.assist.entities import extract


def found(text: str) -> list[tuple[str, str, str]]:
    return [(e.type, e.value, text[e.start : e.end]) for e in extract(text)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("订单号：20231105889123 还没发货", ("order_number", "20231105889123", "20231105889123")),
        ("my order #A12345-77 is late", ("order_number", "A12345-77", "A12345-77")),
        ("我的订单 202401050012345 还没到", ("order_number", "202401050012345", "202401050012345")),
        ("手机13812345678", ("phone", "+8613812345678", "13812345678")),
        ("电话 +86 138 1234 5678", ("phone", "+8613812345678", "+86 138 1234 5678")),
        ("call me at +1 415 555 0132", ("phone", "+14155550132", "+1 415 555 0132")),
        ("邮箱 Zhang.San@example.com", ("email", "zhang.san@example.com", "Zhang.San@example.com")),
        ("快递单号是SF1234567890123", ("tracking_number", "SF1234567890123", "SF1234567890123")),
        (
            "ｓｆ１２３４５６７８９０１２３",
            ("tracking_number", "SF1234567890123", "ｓｆ１２３４５６７８９０１２３"),
        ),
        ("tracking 1Z999AA10123456784", ("tracking_number", "1Z999AA10123456784", "1Z999AA10123456784")),
        ("付了¥1,299.00", ("amount", "1299.00 CNY", "¥1,299.00")),
        ("一共100块", ("amount", "100 CNY", "100块")),
        ("charged $45.50 twice", ("amount", "45.50 USD", "$45.50")),
        ("3月5日下的单", ("date", "3月5日", "3月5日")),
        ("ordered on March 5, 2024", ("date", "march 5, 2024", "March 5, 2024")),
        ("序列号: C02XK1ABJG5H", ("serial", "C02XK1ABJG5H", "C02XK1ABJG5H")),
        ("IMEI 356938035643809", ("serial", "356938035643809", "356938035643809")),
    ],
)
def test_entities_are_recognised_and_normalised(text, expected):
    assert expected in found(text)


def test_plain_text_has_no_entities():
    assert found("你好，请问这款有黑色的吗？") == []
    assert found("Can I change the size to M?") == []
