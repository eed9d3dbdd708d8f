"""Assist on the message path: each customer message gets its sentiment, escalation signals and
entities; a customer getting angrier marks the conversation and tells the agent and supervisors;
a routing rule can act on the first message's risk."""

from __future__ import annotations

import json

from chalicelib.conversations import service as conversations
from chalicelib.feed.models import FeedEvent
from chalicelib.router import service as router
from tests.support.factories import inbound


def kinds(audience: str, conversation_id: str) -> list[str]:
    return [e.kind for e in FeedEvent.query(audience) if e.conversation_id == conversation_id]


def test_each_customer_message_is_analysed_and_rising_anger_reaches_the_supervisors(api):
    cid = router.store(inbound("sms", "+15550400001", "在吗")).conversation.conversation_id
    agent1 = api("agent1")
    assert agent1.post(f"/conversations/{cid}/reply", {"text": "您好"}).status_code == 202
    router.store(inbound("sms", "+15550400001", "订单号 20231105889123 都一个星期了还没发货，太慢了"))
    router.store(inbound("sms", "+15550400001", "到底什么时候发？？？问了三遍了"))

    customer = [m for m in conversations.messages_of(cid) if m.direction == "in"]
    assert customer[0].assist["sentiment"]["label"] == "neutral"
    second = customer[1].assist
    assert second["sentiment"]["label"] == "negative" and "long_wait" in second["sentiment"]["signals"]
    assert {"type": "order_number", "value": "20231105889123"}.items() <= second["entities"][0].items()
    assert "repeated" in customer[2].assist["sentiment"]["signals"]

    conversation = conversations.get(cid)
    assert conversation.mood == "rising_anger"
    assert "conversation.anger" in kinds("supervisors", cid)
    assert {"assist.analysis", "conversation.anger"} <= set(kinds("agent#agent1", cid))
    view = json.loads(agent1.get(f"/conversations/{cid}").body)
    assert view["conversation"]["mood"] == "rising_anger"

    router.store(inbound("sms", "+15550400001", "好的收到了，谢谢你们"))
    assert conversations.get(cid).mood is None  # calmed down


def test_a_routing_rule_raises_priority_and_picks_the_senior_group_for_a_high_risk_first_message(api):
    admin = api("admin")
    rules = [
        {
            "rule_id": "angry-to-seniors",
            "name": "Escalation risk to after-sales, urgent",
            "match": {"risks": ["high"]},
            "actions": {"group": "aftersales", "priority": "urgent"},
        }
    ]
    r = admin.client.http.request(
        "PUT",
        "/admin/routing-rules",
        headers=admin._headers(),
        body=json.dumps({"version": 0, "rules": rules}),
    )
    assert r.status_code == 200, r.body
    calm = router.store(inbound("sms", "+15550400002", "请问有黑色的吗")).conversation
    angry = router.store(inbound("sms", "+15550400003", "再不退款我就打12315投诉你们")).conversation
    assert (angry.group_id, angry.priority) == ("aftersales", "urgent")
    assert calm.priority == "normal"
    bad = {**rules[0], "match": {"risks": ["extreme"]}}
    r = admin.client.http.request(
        "PUT",
        "/admin/routing-rules",
        headers=admin._headers(),
        body=json.dumps({"version": 1, "rules": [bad]}),
    )
    assert r.status_code == 400
