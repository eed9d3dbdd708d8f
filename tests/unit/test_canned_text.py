"""Canned replies without AWS: filling in variables, validating bodies, ranking search results."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from chalicelib.canned.bodies import CannedReplyBody, CannedReplyChanges
from chalicelib.canned.text import (
    IN_BODY,
    IN_TAGS,
    IN_TITLE,
    SHORTCUT_EXACT,
    SHORTCUT_PREFIX,
    Searchable,
    rank,
    render,
    score,
    unknown_variables,
    variables_in,
)


# ---- render ---------------------------------------------------------------------------------------
def test_render_fills_customer_agent_and_order_variables():
    out = render(
        "Hi {{customer.name}}, I'm {{ agent.name }}. Order {{order.number}} is {{Order.Status}}.",
        {
            "customer.name": "王小明",
            "agent.name": "Agent One",
            "order.number": "SO1",
            "order.status": "shipped",
        },
    )
    assert out.text == "Hi 王小明, I'm Agent One. Order SO1 is shipped."
    assert out.missing == ()


def test_render_leaves_variables_without_a_value_visible_and_lists_them_once():
    out = render(
        "{{customer.name}}: {{order.number}} / {{order.number}}", {"customer.name": None, "order.number": ""}
    )
    assert out.text == "{{customer.name}}: {{order.number}} / {{order.number}}"
    assert out.missing == ("customer.name", "order.number")


def test_render_inserts_values_as_plain_text_and_never_expands_them_again():
    out = render("Dear {{customer.name}}", {"customer.name": "{{agent.name}} <b>&", "agent.name": "X"})
    assert out.text == "Dear {{agent.name}} <b>&"


def test_render_evaluates_nothing_that_is_not_a_plain_variable():
    body = "{{ 7*7 }} {{customer.__class__}} {% if x %}y{% endif %} ${customer.name} {{customer.name}}"
    out = render(body, {"customer.name": "Ann"})
    assert out.text == "{{ 7*7 }} {{customer.__class__}} {% if x %}y{% endif %} ${customer.name} Ann"
    assert out.missing == ()  # not variable names at all: left alone, not even reported


def test_variables_in_and_unknown_variables():
    body = "{{customer.name}} {{ order.number }} {{customer.name}} {{custmer.name}}"
    assert variables_in(body) == ["customer.name", "order.number", "custmer.name"]
    assert unknown_variables(body) == ["custmer.name"]


# ---- request bodies -------------------------------------------------------------------------------
def test_a_body_with_an_unknown_variable_is_refused_naming_the_known_ones():
    with pytest.raises(ValidationError) as err:
        CannedReplyBody(title="t", body="Hi {{customer.nmae}}")
    assert "customer.nmae" in str(err.value) and "{{customer.name}}" in str(err.value)


def test_shortcuts_are_folded_so_a_full_width_chinese_ime_shortcut_is_the_same():
    assert CannedReplyBody(title="t", body="b", shortcut="／ＲＥＦＵＮＤ").shortcut == "/refund"
    assert CannedReplyBody(title="t", body="b", shortcut="/退款").shortcut == "/退款"
    for bad in ("refund", "/a b", "/" + "x" * 40, "/a/b"):
        with pytest.raises(ValidationError):
            CannedReplyBody(title="t", body="b", shortcut=bad)


def test_scope_and_group_must_agree():
    with pytest.raises(ValidationError):
        CannedReplyBody(title="t", body="b", scope="team")
    with pytest.raises(ValidationError):
        CannedReplyBody(title="t", body="b", group_id="presales")
    assert CannedReplyBody(title="t", body="b", scope="team", group_id="all").group_id == "all"
    with pytest.raises(ValidationError):
        CannedReplyChanges(group_id="presales")
    assert CannedReplyChanges(shortcut="").shortcut == ""  # removes it


def test_tags_are_trimmed_and_deduplicated():
    assert CannedReplyBody(title="t", body="b", tags=[" 退款 ", "退款", "", "vip"]).tags == ["退款", "vip"]


# ---- search ---------------------------------------------------------------------------------------
REFUND = Searchable("Refund policy", "Refunds take 7 days", "/refund", ("after-sales",), use_count=1)
REFUND_FAST = Searchable("Fast refund", "Done within the hour", "/refund-fast", (), use_count=9)
SHIPPING = Searchable("Shipping times", "We ship in 24h; refund if late", "/ship", ("logistics",))
TAGGED = Searchable("Late parcel", "Sorry for the wait", None, ("refund-request",))
CHINESE = Searchable("物流查询", "您的订单{{order.number}}已发货，顺丰运单号见下", "/wuliu", ("物流",))


def test_shortcut_matches_rank_first_exact_before_prefix():
    assert score(REFUND, "/refund")[0] == SHORTCUT_EXACT
    assert score(REFUND, "refund")[0] == SHORTCUT_EXACT  # the slash is optional
    assert score(REFUND_FAST, "/ref")[0] == SHORTCUT_PREFIX
    assert score(REFUND_FAST, "Fast")[0] == IN_TITLE
    assert score(TAGGED, "refund")[0] == IN_TAGS
    assert score(SHIPPING, "refund")[0] == IN_BODY


def test_rank_orders_by_kind_of_match_then_use_count_and_drops_non_matches():
    docs = [(d, d.title) for d in (SHIPPING, TAGGED, REFUND_FAST, REFUND, CHINESE)]
    assert rank(docs, "refund") == ["Refund policy", "Fast refund", "Late parcel", "Shipping times"]
    assert rank(docs, "/ref") == ["Fast refund", "Refund policy"]  # both prefixes: more used first
    assert rank(docs, "nothing like it") == []


def test_search_is_case_insensitive_and_needs_every_term():
    assert score(SHIPPING, "SHIP 24H") is not None
    assert score(SHIPPING, "ship parcel") is None


def test_chinese_matches_by_substring_in_title_body_and_tags():
    assert score(CHINESE, "物流")[0] == IN_TITLE
    assert score(CHINESE, "顺丰")[0] == IN_BODY
    assert score(CHINESE, "/wu")[0] == SHORTCUT_PREFIX
    assert score(CHINESE, "退货") is None


def test_an_empty_query_lists_everything_most_used_first():
    docs = [(d, d.title) for d in (SHIPPING, REFUND, REFUND_FAST)]
    assert rank(docs, "  ") == ["Fast refund", "Refund policy", "Shipping times"]
