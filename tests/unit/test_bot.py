"""The bot's pure parts: reading customers, the flow state machine, per-channel formatting and the
handoff / answer decisions."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from pydantic import ValidationError

from chalicelib.bot import flows
from chalicelib.bot import text as bot_text
from chalicelib.bot.flows import DEFAULT_FLOWS, Flow, FlowState, advance, expired, find, retry, start
from chalicelib.bot.format import Reply, plain, render
from chalicelib.bot.knowledge import Found, Hit, as_article, as_found
from chalicelib.bot.turn import after_search, failed_again, handoff_now, picked

NOW = datetime(2025, 6, 10, 9, 30, tzinfo=UTC)


def flow(flow_id: str) -> Flow:
    return next(f for f in DEFAULT_FLOWS if f.flow_id == flow_id)


# ---- reading customers -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "message", ["人工", "转人工！", "我要找人工客服", "給我真人", "AGENT please", "can I talk to a human"]
)
def test_asking_for_a_person_in_chinese_or_english_is_recognised(message):
    assert bot_text.wants_human(message)
    assert handoff_now(message) == "asked"


@pytest.mark.parametrize(
    "message", ["七天无理由退货怎么申请", "agents of shield merch", "humane society donation"]
)
def test_ordinary_questions_are_not_handoff_requests(message):
    assert handoff_now(message) is None


@pytest.mark.parametrize(
    "message", ["你们这什么破机器人", "垃圾客服 气死我了", "this is useless", "worst service ever"]
)
def test_anger_hands_off(message):
    assert handoff_now(message) == "negative"


def test_a_plain_complaint_about_a_product_is_answered_not_escalated():
    assert handoff_now("衣服质量不好，想退货") is None


def test_a_picture_without_text_goes_to_a_person():
    assert handoff_now("", "image") == "media"


@pytest.mark.parametrize(
    ("message", "expected"),
    [("是", True), ("解决了，谢谢", True), ("yes!", True), ("Thanks", True), ("OK", True),
     ("没有", False), ("没用", False), ("no", False), ("didn't help", False), ("还是不行", False),
     ("那运费怎么算", None), ("how long does shipping take?", None)],
)  # fmt: skip
def test_yes_and_no_to_did_this_solve_it(message, expected):
    assert bot_text.yes_no(message) is expected


@pytest.mark.parametrize(
    ("message", "number"),
    [("我的订单 SO-2 到哪了", "SO-2"), ("so-2", "SO-2"), ("订单号：DD20240501", "DD20240501"),
     ("２０２４０５０１１２３４", "202405011234"), ("order #A12345 please", "A12345")],
)  # fmt: skip
def test_order_numbers_are_found_in_what_customers_type(message, number):
    assert bot_text.order_number_in(message) == number


@pytest.mark.parametrize("message", ["我的快递到哪了", "3天前买的", "where is it", "订单"])
def test_no_order_number_is_invented(message):
    assert bot_text.order_number_in(message) is None


@pytest.mark.parametrize(
    ("message", "days_ago"),
    [("3天前", 3), ("三天前买的", 3), ("上周", 7), ("昨天", 1), ("2 weeks ago", 14), ("two weeks ago", 14),
     ("2025-06-01", 9), ("6月1日", 9), ("a few days ago", 3)],
)  # fmt: skip
def test_purchase_dates_are_read_from_colloquial_answers(message, days_ago):
    assert bot_text.purchase_date(message, NOW.date()) == NOW.date() - timedelta(days=days_ago)


def test_an_unreadable_date_is_none():
    assert bot_text.purchase_date("不记得了", NOW.date()) is None


@pytest.mark.parametrize(
    ("message", "picked"), [("2", 2), ("２", 2), ("第3个", 3), ("#1", 1), ("4", None), ("22", None)]
)
def test_numbered_choices(message, picked):
    assert bot_text.choice(message, 3) == picked


# ---- flows -------------------------------------------------------------------------------------------
def test_a_flow_starts_on_its_trigger_words_in_either_language():
    assert find(DEFAULT_FLOWS, "我的快递到哪了？").flow_id == "order-status"
    assert find(DEFAULT_FLOWS, "Where is my order??").flow_id == "order-status"
    assert find(DEFAULT_FLOWS, "你们营业时间是几点").flow_id == "opening-hours"
    assert find(DEFAULT_FLOWS, "这个能退吗").flow_id == "refund-conditions"
    assert find(DEFAULT_FLOWS, "我的工单处理进度").flow_id == "ticket-progress"
    assert find(DEFAULT_FLOWS, "怎么开发票") is None


def test_order_status_asks_for_the_number_then_acts_with_it():
    f = flow("order-status")
    first = start(f, "我的快递到哪了", "zh-CN", NOW)
    assert first.kind == "ask" and "订单号" in (first.prompt or "")
    done = advance(f, first.state, "SO-2", "zh-CN", NOW)
    assert done.kind == "act" and done.action == "order_status" and done.slots == {"order_number": "SO-2"}


def test_a_number_given_with_the_question_is_not_asked_again():
    turn = start(flow("order-status"), "where is my order SO-2", "en", NOW)
    assert turn.kind == "act" and turn.slots == {"order_number": "SO-2"}


def test_bad_input_is_retried_then_the_flow_fails():
    f = flow("order-status")
    state = start(f, "我的订单呢", "zh-CN", NOW).state
    for _ in range(f.max_retries):
        turn = advance(f, state, "不知道", "zh-CN", NOW)
        assert turn.kind == "ask" and turn.retried and "没能识别" in (turn.prompt or "")
        state = turn.state
    assert advance(f, state, "还是不知道", "zh-CN", NOW).kind == "failed"


def test_cancel_words_end_a_flow():
    f = flow("refund-conditions")
    state = start(f, "这个能退吗", "zh-CN", NOW).state
    assert advance(f, state, "算了", "zh-CN", NOW).kind == "cancelled"
    assert advance(f, state, "cancel", "en", NOW).kind == "cancelled"


def test_refund_flow_collects_what_and_when_then_answers_from_the_policy():
    f = flow("refund-conditions")
    t1 = start(f, "这个能退吗", "zh-CN", NOW)
    t2 = advance(f, t1.state, "一件羽绒服", "zh-CN", NOW)
    assert t2.kind == "ask" and t2.state.step_id == "ask-when"
    t3 = advance(f, t2.state, "三天前", "zh-CN", NOW)
    assert t3.kind == "act" and t3.action == "policy_article"
    assert t3.slots == {"item": "一件羽绒服", "bought_on": "2025-06-07"}


def test_a_silent_flow_times_out():
    f = flow("order-status")
    state = start(f, "where is my order", "en", NOW).state
    assert not expired(f, state, NOW + timedelta(seconds=f.timeout_seconds - 1))
    assert expired(f, state, NOW + timedelta(seconds=f.timeout_seconds + 1))


def test_an_action_that_cannot_use_a_slot_asks_for_it_again():
    f = flow("order-status")
    state = FlowState("order-status", "answer", {"order_number": "SO-9"}, 0, NOW.isoformat())
    again = retry(f, state, "en", NOW, forget="order_number")
    assert (
        again.kind == "ask"
        and again.state.step_id == "ask-number"
        and "order_number" not in again.state.slots
    )


def test_flow_state_round_trips_as_json():
    state = FlowState("order-status", "ask-number", {"x": "1"}, 1, NOW.isoformat())
    assert FlowState.from_json(state.to_json()) == state
    assert FlowState.from_json(None) is None


def _flow(steps: list[dict[str, object]], **kw: object) -> dict[str, object]:
    return {"flow_id": "x", "name": "x", "triggers": ["a"], "steps": steps, **kw}


HOURS = {"step_id": "s", "action": "opening_hours"}


@pytest.mark.parametrize(
    "bad",
    [
        _flow([{"step_id": "s", "ask": {"en": "?"}}]),  # an ask without slot/expect, and no action
        _flow([HOURS], triggers=[]),
        _flow([HOURS], flow_id="X Y"),
        _flow([{"step_id": "s", "action": "policy_article"}]),  # no article to answer from
        _flow([{"step_id": "s", "action": "launch_rocket"}]),
        _flow([HOURS], timeout_seconds=5),
        _flow([HOURS, HOURS]),
    ],
)
def test_flow_definitions_are_validated(bad):
    with pytest.raises(ValidationError):
        Flow.model_validate(bad)


def test_flow_ids_in_a_set_are_unique():
    with pytest.raises(ValidationError):
        flows.FlowSet(flows=[flow("opening-hours"), flow("opening-hours")])


# ---- formatting per channel --------------------------------------------------------------------------
ARTICLE = Reply(
    "**七天无理由退货**\n\n签收后 **7 天内** 可申请。\n\n- 进入订单详情\n- 点击 *申请售后*\n\n详见 [退货政策](https://shop.example/returns)。",
    footer="这个回答解决您的问题了吗？",
)


def test_sms_gets_plain_text_without_markdown():
    text = render(ARTICLE, "sms").text
    assert "**" not in text and "*" not in text and "[" not in text
    assert "• 进入订单详情" in text and "退货政策 (https://shop.example/returns)" in text
    assert text.endswith("这个回答解决您的问题了吗？")


def test_sms_is_kept_to_a_few_segments_and_keeps_the_question():
    long = Reply("很长的说明。" * 200, footer="这个回答解决您的问题了吗？")
    text = render(long, "sms").text
    assert len(text) <= 200 and text.endswith("这个回答解决您的问题了吗？") and "…" in text


def test_web_keeps_markdown_and_offers_buttons():
    rendered = render(Reply("猜您想问：", options=("如何开发票", "运费怎么算", "退货")), "web")
    assert rendered.text == "猜您想问："
    assert rendered.quick_replies == (
        {"title": "如何开发票", "payload": "1"},
        {"title": "运费怎么算", "payload": "2"},
        {"title": "退货", "payload": "3"},
    )
    assert "**7 天内**" in render(ARTICLE, "web").text


def test_wechat_gets_links_it_can_show_and_numbered_options():
    text = render(ARTICLE, "wechat").text
    assert '<a href="https://shop.example/returns">退货政策</a>' in text and "**" not in text
    options = render(
        Reply("猜您想问：", options=("如何开发票", "运费怎么算"), option_hint="回复数字选择"), "wechat"
    )
    assert (
        options.text == "猜您想问：\n\n1. 如何开发票\n2. 运费怎么算\n回复数字选择"
        and options.quick_replies == ()
    )


def test_plain_text_bodies_are_not_read_as_markdown():
    tickets = Reply("您的工单进度：\n#10001（漏水）：处理中", markdown=False)
    assert render(tickets, "sms").text == "您的工单进度：\n#10001（漏水）：处理中"


def test_markdown_headings_and_images_become_text():
    assert plain("# 退货\n![图](x.png)\n> 注意") == "【退货】\n图\n注意"


# ---- answer or not -----------------------------------------------------------------------------------
HITS = tuple(Hit(f"a{i}", f"title {i}", score=1.0 - i / 10) for i in range(5))


def test_the_bot_answers_only_when_the_engine_names_an_answer():
    assert after_search(Found(HITS, "a0", 0.9)).kind == "answer"
    plan = after_search(Found(HITS))
    assert plan.kind == "suggest" and [h.article_id for h in plan.options] == ["a0", "a1", "a2"]
    assert after_search(Found()).kind == "nothing"
    assert after_search(Found(HITS), min_score=2.0).kind == "nothing"


def test_picking_from_did_you_mean_by_number_or_title():
    offered = [{"article_id": "a1", "title": "如何开发票"}, {"article_id": "a2", "title": "运费怎么算"}]
    assert picked("2", offered) == "a2"
    assert picked("如何开发票", offered) == "a1"
    assert picked("3", offered) is None and picked("2", []) is None


def test_repeated_failure_hands_off_on_the_second():
    assert not failed_again(1) and failed_again(2)


def test_search_answers_are_read_from_models_or_dicts():
    found = as_found(
        {"results": [{"article_id": "a", "title": "T", "snippet": "s", "score": 0.5}], "answer": None}
    )
    assert found.results[0].title == "T" and found.answer is None
    found = as_found({"results": [], "answer": {"article_id": "b", "confidence": 0.9}})
    assert found.answer == "b" and found.confidence == 0.9
    assert as_article({"article": {"article_id": "a", "title": "T", "body": "B", "version": 3}}).version == 3
    assert as_article(None) is None


def test_when_reads_naturally():
    at = datetime(2025, 6, 9, 1, 0, tzinfo=UTC)
    from zoneinfo import ZoneInfo

    assert bot_text.when(at, "zh-CN", ZoneInfo("Asia/Shanghai")) == "6月9日 周一 09:00"
    assert bot_text.when(at, "en", ZoneInfo("Asia/Shanghai")) == "Mon 09 Jun 09:00"
    assert date(2025, 6, 9).weekday() == 0


# ---- the peak-day lever: the bot first once a queue is long ----------------------------------------
def test_a_queue_condition_puts_the_bot_first_only_while_the_queue_is_long():
    from chalicelib.routing.rules import RoutingContext, Rule, check_references, decide, referenced

    peak = Rule.model_validate(
        {
            "rule_id": "peak",
            "name": "Bot first when pre-sales falls behind",
            "match": {"queue": {"group": "presales", "waiting_at_least": 20}},
            "actions": {"bot_first": True},
        }
    )

    def bot_first(waiting: int) -> bool:
        ctx = RoutingContext(text="hi", channel="web", at=NOW, waiting={"presales": waiting})
        return decide([peak], ctx, {}).bot_first

    assert not bot_first(19) and bot_first(20) and bot_first(500)
    assert not decide([peak], RoutingContext(text="hi", channel="web", at=NOW), {}).bot_first
    assert referenced([peak])[0] == {"presales"}
    with pytest.raises(ValueError, match="unknown skill group 'presales'"):
        check_references([peak], channels={"web"}, groups=set(), calendars=set())
    with pytest.raises(ValidationError):
        Rule.model_validate(
            {**peak.model_dump(), "match": {"queue": {"group": "presales", "waiting_at_least": 0}}}
        )
