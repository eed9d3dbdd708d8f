"""Auto-tags on the message path (issue 18): a customer's words set tags with their reasons on the
360 view, and a tag an agent removed stays removed."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.identity.models import Customer
from chalicelib.router import service as router
from tests.support.factories import inbound


def _customer_360(agent: Any, customer_id: str) -> dict[str, Any]:
    r = agent.get(f"/customers/{customer_id}")
    assert r.status_code == 200, r.body
    return json.loads(r.body)["customer"]


def test_a_customer_message_sets_auto_tags_with_reasons_and_a_removed_one_stays_removed(api: Any) -> None:
    first = router.store(inbound("sms", "+15550300001", "這個太貴了，有沒有優惠券？"))
    customer_id = first.conversation.customer_id
    agent = api("agent1")

    tags = _customer_360(agent, customer_id)["auto_tags"]
    assert set(tags) == {"price-sensitive"}
    price = tags["price-sensitive"]
    assert price["source"] == "rules" and price["confidence"] >= 0.6 and price["label_zh"] == "价格敏感"
    assert {r["phrase"] for r in price["reasons"]} >= {"太贵"}
    assert price["reasons"][0]["message_id"] == f"{first.conversation.conversation_id}#{first.message.seq}"

    # a message that earns nothing rewrites nothing (a rewrite would change "at")
    router.store(inbound("sms", "+15550300001", "ok thanks"))
    assert _customer_360(agent, customer_id)["auto_tags"] == tags

    r = agent.client.http.delete(
        f"/customers/{customer_id}/auto-tags/price-sensitive", headers=agent._headers()
    )
    assert r.status_code == 200, r.body
    assert json.loads(r.body)["suppressed_tags"] == ["price-sensitive"]

    router.store(
        inbound("sms", "+15550300001", "still too expensive, any discount? and my last one arrived broken")
    )
    customer = _customer_360(agent, customer_id)
    assert set(customer["auto_tags"]) == {"after-sales-focused"}  # price-sensitive is not set again
    assert customer["suppressed_tags"] == ["price-sensitive"]


def test_removing_an_unknown_auto_tag_is_a_400_and_an_unknown_customer_a_404(api: Any) -> None:
    agent = api("agent1")
    customer_id = router.store(inbound("sms", "+15550300002", "hello")).conversation.customer_id
    r = agent.client.http.delete(f"/customers/{customer_id}/auto-tags/vip", headers=agent._headers())
    assert r.status_code == 400
    assert Customer.get(customer_id).suppressed_tags is None
    r = agent.client.http.delete("/customers/nobody/auto-tags/high-value", headers=agent._headers())
    assert r.status_code == 404
    r = api(None).client.http.delete(f"/customers/{customer_id}/auto-tags/high-value", headers={})
    assert r.status_code == 401
