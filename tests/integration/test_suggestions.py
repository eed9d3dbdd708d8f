"""Suggested replies: KB articles for the customer's last turns pushed on the feed, articles and
canned replies for the composer (search-as-you-type), acceptance counted."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.feed.models import FeedEvent
from chalicelib.router import service as router
from tests.support.factories import inbound

INVOICE = {
    "title": "发票抬头或税号填错了怎么办",
    "body": (
        "发票开出后抬头或税号有误，可在「我的订单 → 发票详情 → 申请换开」提交正确信息，3 个工作日内重新开具。"
    ),
    "language": "zh-CN",
    "questions": ["发票抬头写错了", "税号填错了能改吗"],
    "status": "published",
}
SHIPPING = {
    "title": "International shipping times",
    "body": "We ship to 40 countries with DHL Express; orders arrive in 5-10 business days.",
    "language": "en",
    "questions": ["How long does shipping take?"],
    "status": "published",
}


def body_of(response: Any) -> Any:
    return json.loads(response.body)


def test_suggestions_follow_the_customer_and_the_composer_and_count_what_was_used(api):
    supervisor, agent1 = api("supervisor"), api("agent1")
    invoice = body_of(supervisor.post("/kb/articles", INVOICE))["article_id"]
    body_of(supervisor.post("/kb/articles", SHIPPING))
    reply = body_of(
        agent1.post(
            "/canned-replies", {"title": "发票换开", "body": "您好，发票抬头可以在订单详情里申请换开哦"}
        )
    )
    cid = router.store(inbound("sms", "+15550500001", "在吗")).conversation.conversation_id
    assert agent1.post(f"/conversations/{cid}/reply", {"text": "您好"}).status_code == 202
    router.store(inbound("sms", "+15550500001", "我的发票"))
    router.store(inbound("sms", "+15550500001", "抬头写错了，能改吗"))  # the last line alone says little

    pushed = [e for e in FeedEvent.query("agent#agent1") if e.kind == "assist.suggestions"]
    assert pushed and pushed[-1].data["articles"][0] == invoice

    composer = body_of(agent1.get(f"/conversations/{cid}/suggestions"))
    assert composer["source"] == "conversation" and composer["articles"][0]["article_id"] == invoice
    assert composer["canned"][0]["reply_id"] == reply["reply_id"]
    typed = body_of(agent1.get(f"/conversations/{cid}/suggestions?q=shipping%20time"))
    assert typed["source"] == "typeahead" and typed["articles"][0]["title"] == SHIPPING["title"]

    used = f"/conversations/{cid}/suggestions/used"
    assert agent1.post(used, {"kind": "article", "item_id": invoice}).status_code == 200
    assert agent1.post(used, {"kind": "canned", "item_id": reply["reply_id"]}).status_code == 200
    assert agent1.post(used, {"kind": "poem", "item_id": "x"}).status_code == 400
    assert api("agent2").post(used, {"kind": "article", "item_id": invoice}).status_code == 403
    assert api("agent2").get(f"/conversations/{cid}/suggestions").status_code == 403

    report = body_of(supervisor.get("/reports/suggestions"))["kinds"]
    assert report["article"]["used"] == 1 and report["article"]["shown"] >= 3
    assert report["canned"] == {"shown": 1, "used": 1, "acceptance_rate": 1.0}
    assert agent1.get("/reports/suggestions").status_code == 403
