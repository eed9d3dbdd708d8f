"""The bot on moto, through the router as a customer's message really flows: first contact where a
routing rule says ``bot_first``, answers from the knowledge base through the outbound queue,
"did you mean" with buttons, a flow that asks for the order number and answers from the orders
connector (a real HTTP server), one-step handoff with the summary the agent sees through the
API, counters, the admin flows API, the widget's rate-limited suggestions, exactly once under
redelivery."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import boto3
import pytest

from chalicelib.aws import queue_url
from chalicelib.bot import knowledge
from chalicelib.bot import service as bot
from chalicelib.bot import suggest as bot_suggest
from chalicelib.channels import mailbox
from chalicelib.channels.web import issue_token
from chalicelib.conversations import service as conversations
from chalicelib.conversations.models import Conversation
from chalicelib.identity import service as identity
from chalicelib.messages import CustomerHints, OutboundMessage, utcnow
from chalicelib.orders import service as orders
from chalicelib.router import service as router
from chalicelib.routing import service as routing_rules
from chalicelib.routing.rules import RuleSetUpdate
from infra.local.provision import DEMO_CHANNELS
from tests.support.factories import inbound
from tests.support.kb import MemoryKB, demo_kb
from tests.support.order_api import AUTH, Shop, shop_fixture  # noqa: F401 — the shop fixture
from tests.support.queues import drain


@pytest.fixture
def kb(team: dict[str, str]) -> Iterator[MemoryKB]:
    """The demo knowledge base, and a routing rule that puts the bot first on SMS, web and WeChat."""
    rules = RuleSetUpdate.model_validate(
        {
            "version": 0,
            "rules": [
                {
                    "rule_id": "bot-first",
                    "name": "Bot first",
                    "match": {"channels": ["sms", "web", "wechat"]},
                    "actions": {"bot_first": True},
                }
            ],
        }
    )
    routing_rules.save(rules, "admin")
    base = demo_kb()
    knowledge.use(base)
    yield base
    knowledge.use(None)


def outbound() -> list[OutboundMessage]:
    return [OutboundMessage.model_validate_json(m["Body"]) for m in drain(queue_url("outbound"))]


def says(user: str, text: str, channel: str = "sms", **kw: Any) -> conversations.Stored:
    stored = router.store(inbound(channel, user, text, **kw))
    assert stored is not None
    return stored


def reply_to(user: str, text: str, channel: str = "sms", **kw: Any) -> str:
    says(user, text, channel, **kw)
    (sent,) = outbound()
    assert sent.agent_id == "bot"
    return sent.text


def conversation(stored: conversations.Stored) -> Conversation:
    return Conversation.get(stored.conversation.conversation_id, consistent_read=True)


def counters() -> dict[str, dict[str, int]]:
    return bot.stats(utcnow().date().isoformat())


def test_the_bot_answers_a_bot_first_conversation_from_the_article_and_does_not_queue_it(aws, kb):
    stored = says("+15550900001", "咋退货啊")
    (sent,) = outbound()
    assert sent.agent_id == "bot" and sent.channel == "sms"
    assert "七天无理由退货怎么申请" in sent.text and "7 天内" in sent.text  # from the article
    assert "**" not in sent.text and "解决您的问题了吗" in sent.text  # plain text for SMS, then the question
    c = conversation(stored)
    assert c.bot_status == "active" and c.queue_key is None and c.first_response_due is None
    assert [m.author_id for m in conversations.messages_of(c.conversation_id)] == [c.customer_id, "bot"]
    figures = counters()
    assert figures["outcomes"]["conversations"] == 1 and figures["outcomes"]["answered"] == 1
    assert kb.recorded == {("art-return", "shown"): 1, ("art-return", "bot_answers"): 1}


def test_an_edited_article_changes_the_next_answer(aws, kb):
    assert "7 天内" in reply_to("+15550900002", "七天无理由退货怎么申请")
    kb.edit("art-return", "签收后 15 天内可申请退货（活动期间延长）。")
    assert "15 天内" in reply_to("+15550900002", "退货流程")


def test_not_sure_offers_three_buttons_on_web_and_a_pick_answers(aws, kb):
    says("v_bot_1", "订单问题", "web")
    (offer,) = outbound()
    assert offer.text.startswith("猜您想问")
    thread = mailbox.thread("web", "default", "v_bot_1")
    buttons = thread[-1]["quick_replies"]
    assert [b["payload"] for b in buttons] == ["1", "2", "3"] and len({b["title"] for b in buttons}) == 3
    picked_title = buttons[1]["title"]
    answer = reply_to("v_bot_1", "2", "web")
    assert picked_title in answer and "解决您的问题了吗" in answer


def test_numbered_options_on_sms_and_yes_resolves_and_closes(aws, kb):
    offer = reply_to("+15550900003", "订单问题")
    assert "\n1. " in offer and "\n3. " in offer and "回复数字选择" in offer
    answer = reply_to("+15550900003", "1")
    assert "解决" in answer
    stored = says("+15550900003", "解决了，谢谢")
    (glad,) = outbound()
    assert "很高兴" in glad.text
    c = conversation(stored)
    assert c.status == "closed" and c.bot_status == "resolved" and c.closed_by == "bot" and c.bot_key is None
    assert counters()["outcomes"]["resolved"] == 1
    assert sum(n for (_, counter), n in kb.recorded.items() if counter == "helpful") == 1


def test_nothing_found_says_so_and_offers_a_person_then_repeated_failure_hands_off(aws, kb):
    first = reply_to("+15550900004", "火星上能送货吗")
    assert "没有找到" in first and "人工" in first
    stored = says("+15550900004", "月球呢")
    (handoff,) = outbound()
    assert "转接人工" in handoff.text
    c = conversation(stored)
    assert c.bot_status == "handed_off" and c.queue_key and c.first_response_due
    assert c.bot_summary["reason"] == "repeated_failure" and c.bot_summary["question"] == "火星上能送货吗"


def configure_orders(shop: Shop) -> None:
    secret = {"url": shop.url, "auth_header": "Authorization", "auth_value": AUTH, "timeout_seconds": 2}
    boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name=orders.secret_name(), SecretString=json.dumps(secret)
    )
    orders.reset()


def test_the_order_flow_asks_for_the_number_and_answers_from_the_orders_connector(aws, kb, shop):
    configure_orders(shop)
    hints = CustomerHints(phone="+15550900005", verified=("phone",))
    ask = reply_to("+15550900005", "我的快递到哪了", hints=hints)
    assert "订单号" in ask and shop.requests == []
    retry = reply_to("+15550900005", "不记得了", hints=hints)
    assert "没能识别订单号" in retry
    answer = reply_to("+15550900005", "so-2", hints=hints)
    assert answer.startswith("订单 SO-2：已发货（SF Express SF1234567890 运输中）")
    (seen,) = shop.requests
    assert seen["query"] == {"phone": ["+15550900005"]} and seen["headers"]["Authorization"] == AUTH
    assert counters()["flow#order-status"] == {"started": 1, "completed": 1}


def test_an_unknown_order_number_is_asked_again_never_answered(aws, kb, shop):
    configure_orders(shop)
    hints = CustomerHints(phone="+15550900006", verified=("phone",))
    again = reply_to("+15550900006", "where is my order SO-99?", hints=hints)
    assert "couldn't find order SO-99" in again and "order number" in again


def test_asking_for_a_person_hands_off_in_one_step_with_the_summary_the_agent_sees(aws, kb, api):
    reply_to("+15550900007", "咋退货啊")
    reply_to("+15550900007", "我的快递到哪了")  # a flow in progress
    stored = says("+15550900007", "转人工")
    (handoff,) = outbound()
    assert "无需重复" in handoff.text
    c = conversation(stored)
    assert c.bot_status == "handed_off" and c.bot_key is None
    assert c.queue_key == f"{c.group_id}#chat" and c.queued_at
    view = json.loads(api("supervisor").get(f"/conversations/{c.conversation_id}").body)
    summary = view["conversation"]["bot_summary"]
    assert summary["reason"] == "asked" and summary["question"] == "咋退货啊"
    assert [a["article_id"] for a in summary["articles_shown"]] == ["art-return"]
    assert summary["flow"]["flow_id"] == "order-status" and summary["flow"]["step_id"] == "ask-number"
    notes = [m for m in view["messages"] if m["direction"] == "note"]
    assert notes and notes[-1]["author_id"] == "bot" and "咋退货啊" in notes[-1]["text"]
    assert "七天无理由退货怎么申请" in notes[-1]["text"] and "order-status" in notes[-1]["text"]
    queue = json.loads(
        api("agent1" if c.group_id == "presales" else "agent2").get("/conversations?view=queue").body
    )
    assert c.conversation_id in [i["conversation_id"] for i in queue["items"]]
    assert kb.recorded[("art-return", "handoffs")] == 1
    # After the handoff the bot stays out: the next message waits for the agent.
    says("+15550900007", "你好？")
    assert outbound() == []


def test_a_redelivered_message_is_answered_exactly_once(aws, kb):
    msg = inbound("sms", "+15550900008", "怎么开发票")
    router.store(msg)
    router.store(msg, receive_count=2)
    assert len(outbound()) == 1
    # The first attempt stored the message and died before the bot answered: the redelivery answers.
    late = inbound("sms", "+15550900008", "运费多少")
    customer = identity.resolve(late).customer
    conversations.record_inbound(customer, late, "presales", mailbox=False)
    router.store(late, receive_count=2)
    router.store(late, receive_count=3)
    (answer,) = outbound()
    assert "99 元包邮" in answer.text


def test_admins_edit_the_flows_as_one_versioned_set(aws, kb, api):
    admin, agent = api("admin"), api("agent1")
    current = json.loads(admin.get("/admin/bot-flows").body)
    assert current["version"] == 0 and {f["flow_id"] for f in current["flows"]} >= {
        "order-status",
        "opening-hours",
    }
    flows = current["flows"]
    hours = next(f for f in flows if f["flow_id"] == "opening-hours")
    hours["triggers"] = ["几点关门", "closing time"]
    r = admin.client.http.put(
        "/admin/bot-flows", headers=admin._headers(), body=json.dumps({"version": 0, "flows": flows})
    )
    assert r.status_code == 200, r.body and json.loads(r.body)["version"] == 1
    stale = admin.client.http.put(
        "/admin/bot-flows", headers=admin._headers(), body=json.dumps({"version": 0, "flows": flows})
    )
    assert stale.status_code == 409
    bad = admin.client.http.put(
        "/admin/bot-flows",
        headers=admin._headers(),
        body=json.dumps(
            {"version": 1, "flows": [{"flow_id": "x", "name": "x", "triggers": ["a"], "steps": []}]}
        ),
    )
    assert bad.status_code == 400
    denied = agent.client.http.put(
        "/admin/bot-flows", headers=agent._headers(), body=json.dumps({"version": 1, "flows": flows})
    )
    assert denied.status_code == 403
    answer = reply_to("+15550900009", "你们几点关门")
    assert "服务时间" in answer  # the saved trigger, answered from the calendar (or says it cannot)


def test_a_token_bucket_allows_a_burst_then_refills_at_its_rate(aws):
    for i in range(3):
        bot_suggest.take("t", "visitor", burst=3, rate=1.0, now=1000.0 + i * 0.01)
    with pytest.raises(bot_suggest.RateLimited) as limited:
        bot_suggest.take("t", "visitor", burst=3, rate=1.0, now=1000.1)
    assert 0.5 < limited.value.retry_after <= 1.0
    bot_suggest.take("t", "visitor", burst=3, rate=1.0, now=1001.2)  # a second later: one token back
    bot_suggest.take("t", "someone-else", burst=3, rate=1.0, now=1000.1)  # buckets are per visitor


def test_the_widget_gets_suggestions_as_the_visitor_types_rate_limited_per_visitor(aws, kb, api, monkeypatch):
    monkeypatch.setattr(bot_suggest, "RATE", 0.01)  # the test client is slower than a typing visitor
    anonymous = api(None)
    secret = DEMO_CHANNELS["web"]["visitor_secret"]
    token = issue_token({"v": "v_typing", "site": "default", "exp": 4_000_000_000}, secret)
    auth = {"authorization": f"Bearer {token}", "origin": "https://shop.example"}
    r = anonymous.get("/bot/suggest?site=default&q=%E5%8F%91%E7%A5%A8", headers=auth)
    assert r.status_code == 200, r.body
    assert r.headers["Access-Control-Allow-Origin"] == "https://shop.example"
    data = json.loads(r.body)
    assert data["suggestions"][0]["article_id"] == "art-invoice"
    assert anonymous.get("/bot/suggest?site=default&q=x", headers=auth).status_code == 400
    assert anonymous.get("/bot/suggest?site=default&q=%E5%8F%91%E7%A5%A8").status_code == 401
    forged = {"authorization": f"Bearer {issue_token({'v': 'v', 'site': 'default', 'exp': 4e9}, 'wrong')}"}
    assert anonymous.get("/bot/suggest?site=default&q=%E5%8F%91%E7%A5%A8", headers=forged).status_code == 401
    statuses = [
        anonymous.get("/bot/suggest?site=default&q=%E8%BF%90%E8%B4%B9", headers=auth) for _ in range(12)
    ]
    limited = [s for s in statuses if s.status_code == 429]
    assert limited and "Retry-After" in limited[0].headers
    other = issue_token({"v": "v_other", "site": "default", "exp": 4_000_000_000}, secret)
    ok = anonymous.get(
        "/bot/suggest?site=default&q=%E8%BF%90%E8%B4%B9", headers={"authorization": f"Bearer {other}"}
    )
    assert ok.status_code == 200  # another visitor has a bucket of their own


def test_the_widget_reads_a_clicked_suggestion_as_plain_text_and_only_a_web_article(
    aws, kb, api, monkeypatch
):
    anonymous = api(None)
    token = issue_token(
        {"v": "v_reader", "site": "default", "exp": 4_000_000_000}, DEMO_CHANNELS["web"]["visitor_secret"]
    )
    auth = {"authorization": f"Bearer {token}"}
    r = anonymous.get("/bot/suggest?site=default&article=art-return", headers=auth)
    assert r.status_code == 200, r.body
    article = json.loads(r.body)["article"]
    assert article["article_id"] == "art-return" and article["title"] == "七天无理由退货怎么申请"
    assert "7 天内" in article["text"] and "**" not in article["text"] and "• 进入订单详情" in article["text"]
    assert kb.recorded[("art-return", "views")] == 1
    assert anonymous.get("/bot/suggest?site=default&article=art-none", headers=auth).status_code == 404
    assert anonymous.get("/bot/suggest?site=default&article=a%2Fb", headers=auth).status_code == 400
    assert anonymous.get("/bot/suggest?site=default&article=art-return").status_code == 401
    sms_only = {**kb.get_article("art-return"), "channels": ["sms"]}
    monkeypatch.setattr(kb, "get_article", lambda article_id: sms_only)
    assert anonymous.get("/bot/suggest?site=default&article=art-return", headers=auth).status_code == 404
    assert kb.recorded[("art-return", "views")] == 1


def test_a_conversation_left_with_the_bot_ends_abandoned(aws, kb):
    stored = says("+15550900010", "怎么开发票")
    outbound()
    assert bot.sweep_abandoned(utcnow() + timedelta(seconds=bot.idle_seconds() - 60)) == 0
    assert bot.sweep_abandoned(utcnow() + timedelta(seconds=bot.idle_seconds() + 60)) == 1
    c = conversation(stored)
    assert c.status == "closed" and c.bot_status == "abandoned"
    assert c.bot_summary["articles_answered"] == ["art-invoice"]  # the articles it used
    assert counters()["outcomes"]["abandoned"] == 1
    assert bot.sweep_abandoned(utcnow() + timedelta(hours=2)) == 0


def test_without_a_bot_rule_conversations_queue_for_agents_as_before(aws, team):
    stored = says("+15550900011", "咋退货啊")
    assert outbound() == []
    c = conversation(stored)
    assert c.bot_status is None and c.queue_key is not None and c.first_response_due


@pytest.fixture
def quiet_sla() -> Iterator[None]:
    """The SLA clock stops hearing ticket changes (not under test here)."""
    from chalicelib import bootstrap, events

    events.install({**bootstrap.SUBSCRIPTIONS, events.TicketChanged: []})
    yield
    bootstrap.install()


def test_ticket_progress_lists_the_customers_open_tickets(aws, kb, quiet_sla):
    from chalicelib.tickets import service as tickets

    customer = identity.resolve(inbound("sms", "+15550900012", "hi")).customer
    made = tickets.create_from_bot(customer.customer_id, "洗衣机漏水", None, None)
    outbound()
    answer = reply_to("+15550900012", "我的工单处理进度怎么样")
    assert f"#{made.number}" in answer and "洗衣机漏水" in answer and "解决您的问题了吗" in answer
    assert len(outbound()) == 0  # the tickets' own status answer stays quiet: one answer, the bot's


def test_refund_conditions_ask_what_and_when_then_answer_from_the_policy_article(aws, kb):
    assert "什么商品" in reply_to("+15550900013", "这个能退吗")
    assert "什么时候买的" in reply_to("+15550900013", "一件羽绒服")
    assert "没能识别日期" in reply_to("+15550900013", "忘了")
    answer = reply_to("+15550900013", "3天前")
    assert "7 天内" in answer and "羽绒服" in answer and "3 天前" in answer  # the policy, and what they said
    assert counters()["flow#refund-conditions"]["completed"] == 1


def test_opening_hours_come_from_the_business_hours_calendar(aws, kb):
    from chalicelib.calendars import service as calendars
    from chalicelib.calendars.hours import CalendarUpdate

    always = {
        "time_zone": "UTC",
        "weekly": {d: [["00:00", "24:00"]] for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
    }
    calendars.put_calendar("cn-support", CalendarUpdate.model_validate({"version": 0, **always}), "admin")
    assert "We're open now. Today's hours: 00:00–24:00" in reply_to(
        "+15550900014", "what are your opening hours?"
    )


def test_cancel_ends_a_flow_and_the_next_question_is_searched(aws, kb):
    assert "订单号" in reply_to("+15550900015", "我的快递到哪了")
    assert "已取消" in reply_to("+15550900015", "算了")
    assert "如何开发票" in reply_to("+15550900015", "怎么开发票")


def test_supervisors_read_the_days_counters(aws, kb, api):
    reply_to("+15550900016", "怎么开发票")
    r = api("supervisor").get("/reports/bot")
    assert r.status_code == 200
    data = json.loads(r.body)
    assert (
        data["counters"]["outcomes"]["answered"] == 1
        and data["counters"]["channel#sms"]["conversations"] == 1
    )
    assert api("agent1").get("/reports/bot").status_code == 403


def test_the_bot_answers_from_the_real_knowledge_base_and_counts_its_usage(aws, kb, api):
    """chalicelib.kb itself (publish through its API, its search, its live read, its counters)."""
    from chalicelib.kb import stats as kb_stats

    knowledge.use(None)
    editor = api("supervisor")
    article = {
        "title": "发票抬头、税号填错了怎么修改",
        "body": "发票开出后抬头或税号有误，可在「我的订单 → 发票详情 → 申请换开」提交正确信息，"
        "3 个工作日内重新开具。",
        "language": "zh-CN",
        "questions": ["发票抬头写错了", "税号填错了能改吗"],
        "tags": ["发票"],
        "status": "published",
    }
    made = editor.post("/kb/articles", article)
    assert made.status_code == 201, made.body
    article_id = json.loads(made.body)["article_id"]
    answer = reply_to("+15550900017", "发票抬头写错了咋办")
    assert "申请换开" in answer and "解决您的问题了吗" in answer
    editor.client.http.put(
        f"/kb/articles/{article_id}",
        headers=editor._headers(),
        body=json.dumps(
            {"body": "抬头填错了：在 App「发票 → 换开」里提交，1 个工作日内重开。", "status": "published"}
        ),
    )
    assert "1 个工作日内重开" in reply_to("+15550900017", "税号填错了能改吗")
    total = kb_stats.article_stats(article_id)["total"]
    assert total["bot_answers"] == 2 and total["shown"] == 2
    assert "没有找到" in reply_to("+15550900018", "你们老板叫什么名字")  # never invented


def test_an_angry_customer_or_a_picture_goes_straight_to_a_person(aws, kb):
    stored = says("+15550900019", "你们这什么破机器人，气死我了")
    (handoff,) = outbound()
    assert "转接人工" in handoff.text and conversation(stored).bot_summary["reason"] == "negative"
    picture = says("+15550900020", "", type="image")
    outbound()
    assert conversation(picture).bot_summary["reason"] == "media"


def test_an_agent_who_steps_in_takes_the_conversation_from_the_bot(aws, kb, api):
    stored = says("+15550900021", "怎么开发票")
    outbound()
    cid = stored.conversation.conversation_id
    r = api("supervisor").post(f"/conversations/{cid}/reply", {"text": "您好，我来帮您看看。"})
    assert r.status_code == 202, r.body
    outbound()
    says("+15550900021", "好的谢谢")
    assert outbound() == []  # the bot stays out once an agent owns the conversation
    c = Conversation.get(cid, consistent_read=True)
    assert c.bot_status == "taken_over" and c.bot_key is None
    assert counters()["outcomes"]["taken_over"] == 1
    from chalicelib.feed.models import FeedEvent

    heard = [e.kind for e in FeedEvent.query("agent#supervisor")]
    assert "message.new" in heard  # the agent who stepped in hears of the customer's message


def test_a_handoff_while_the_agents_are_away_says_when_they_answer(aws, kb):
    from chalicelib.calendars import service as calendars
    from chalicelib.calendars.hours import CalendarUpdate

    never_today = {"time_zone": "UTC", "weekly": {}, "special_days": {}}
    tomorrow = (utcnow() + timedelta(days=1)).date().isoformat()
    never_today["special_days"] = {tomorrow: [["09:00", "17:00"]]}
    calendars.put_calendar(
        "cn-support", CalendarUpdate.model_validate({"version": 0, **never_today}), "admin"
    )
    text = reply_to("+15550900022", "agent please")
    assert "We're closed right now" in text and "09:00" in text and "they can see what you asked" in text


def test_the_bot_takes_first_contact_once_the_queue_passes_the_threshold(aws, team):
    from chalicelib.assignment.models import STATS, QueueItem

    rules = {
        "version": 0,
        "rules": [
            {
                "rule_id": "peak",
                "name": "Peak day: bot first",
                "match": {"queue": {"group": "presales", "waiting_at_least": 2}},
                "actions": {"bot_first": True},
            },
            {"rule_id": "all", "name": "Pre-sales", "actions": {"group": "presales"}},
        ],
    }
    routing_rules.save(RuleSetUpdate.model_validate(rules), "admin")
    knowledge.use(demo_kb())
    quiet = conversation(says("+15550900030", "你好"))
    assert quiet.bot_status is None and quiet.queue_key == "presales#chat"  # one waiting: agents
    busy = conversation(says("+15550900031", "你好"))
    assert busy.bot_status is None  # the rule looked at 1 waiting
    assert int(QueueItem.get("presales#chat", STATS).waiting) == 2
    third = conversation(says("+15550900032", "怎么开发票"))
    assert third.bot_status == "active" and third.queue_key is None  # the bot takes it
    (answer,) = [m for m in outbound() if m.agent_id == "bot"]
    assert "如何开发票" in answer.text


def test_a_lone_score_is_left_to_the_satisfaction_survey(aws, kb):
    says("+15550900033", "5")
    assert outbound() == []  # no "nothing found" to a CSAT answer; the tickets' survey takes it
