"""Proactive notices from business events (issue 18): exactly one notice however often an event is
resent, STOP suppresses the next with its reason, quiet hours hold a notice until they end, and
bad input changes nothing."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest

from chalicelib.conversations import service as conversations
from chalicelib.conversations.models import Message
from chalicelib.proactive import service as proactive
from chalicelib.proactive.models import BusinessEvent
from chalicelib.router import service as router
from tests.support.factories import inbound

SHIPPED = {
    "rule_id": "shipped",
    "event": "order.shipped",
    "template": {
        "zh-CN": "您的订单 {order_id} 已发货，快递单号 {tracking}",
        "en": "Order {order_id} shipped ({tracking})",
    },
}


def _put_rules(admin: Any, limits: dict[str, Any] | None = None, version: int = 0) -> Any:
    body = {"version": version, "rules": [SHIPPED], "limits": limits or {"quiet_hours": None, "daily_cap": 3}}
    r = admin.client.http.put("/admin/proactive-rules", body=json.dumps(body), headers=admin._headers())
    return r


def _event(admin: Any, event_id: str, phone: str, **extra: Any) -> Any:
    body = {
        "type": "order.shipped",
        "event_id": event_id,
        "customer": {"phone": phone},
        "data": {"order_id": "A-1001", "tracking": "SF123"},
        **extra,
    }
    return admin.post("/business-events", body)


def _outbound(aws: dict[str, str]) -> list[dict[str, Any]]:
    got = boto3.client("sqs").receive_message(
        QueueUrl=aws["OMNIFLOW_OUTBOUND_QUEUE_URL"], MaxNumberOfMessages=10
    )
    return [json.loads(m["Body"]) for m in got.get("Messages", [])]


def _notices(customer_id: str) -> list[Message]:
    return [
        m
        for c in conversations.conversations_of(customer_id)
        for m in conversations.messages_of(c.conversation_id)
        if m.author_id == "proactive"
    ]


def test_an_event_resent_three_times_sends_one_notice_and_stop_suppresses_the_next(
    api: Any, aws: dict[str, str]
) -> None:
    admin = api("admin")
    assert _put_rules(admin).status_code == 200
    customer_id = router.store(inbound("sms", "+15550400001", "where is my parcel")).conversation.customer_id

    answers = [_event(admin, "evt-1", "+15550400001") for _ in range(3)]
    assert [r.status_code for r in answers] == [202, 202, 202]
    first, *again = (json.loads(r.body) for r in answers)
    assert (first["status"], first["channel"], first["customer_id"]) == ("sent", "sms", customer_id)
    assert all(a["duplicate"] and a["seq"] == first["seq"] for a in again)
    [notice] = _notices(customer_id)
    assert notice.text == "您的订单 A-1001 已发货，快递单号 SF123" and notice.direction == "out"
    assert [o["text"] for o in _outbound(aws)] == [notice.text]  # queued once for the sender
    assert json.loads(admin.get("/business-events/evt-1").body)["status"] == "sent"

    router.store(inbound("sms", "+15550400001", "STOP"))
    r = _event(admin, "evt-2", "+15550400001")
    second = json.loads(r.body)
    assert (second["status"], second["reason"]) == ("suppressed", "sms: opted_out")
    assert len(_notices(customer_id)) == 1

    router.store(inbound("sms", "+15550400001", "start"))
    third = json.loads(_event(admin, "evt-3", "+15550400001", language="en").body)
    assert third["status"] == "sent"
    assert [n.text for n in _notices(customer_id)][-1] == "Order A-1001 shipped (SF123)"


def test_quiet_hours_hold_a_notice_until_they_end(
    api: Any, aws: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    admin = api("admin")
    now = datetime.now(UTC)
    quiet = {
        "start": (now - timedelta(hours=1)).strftime("%H:%M"),
        "end": (now + timedelta(hours=1)).strftime("%H:%M"),
        "timezone": "UTC",
    }
    assert _put_rules(admin, {"quiet_hours": quiet, "daily_cap": 3}).status_code == 200
    customer_id = router.store(inbound("sms", "+15550400002", "hi")).conversation.customer_id

    held = json.loads(_event(admin, "evt-q", "+15550400002").body)
    assert held["status"] == "held" and held["reason"] == "quiet_hours"
    assert datetime.fromisoformat(held["due_at"]) > now
    assert proactive.release_due() == 0  # not yet
    assert _notices(customer_id) == []

    later = datetime.fromisoformat(held["due_at"]) + timedelta(minutes=1)
    monkeypatch.setattr(proactive, "utcnow", lambda: later)
    assert proactive.release_due() == 1
    assert proactive.release_due() == 0  # released once
    rec = BusinessEvent.get("event#evt-q", "event")
    assert rec.status == "sent" and rec.held_key is None
    assert len(_notices(customer_id)) == 1


def test_the_daily_cap_and_unknown_customers_suppress_with_their_reason(api: Any) -> None:
    admin = api("admin")
    assert _put_rules(admin, {"quiet_hours": None, "daily_cap": 1}).status_code == 200
    router.store(inbound("sms", "+15550400003", "hi"))
    assert json.loads(_event(admin, "cap-1", "+15550400003").body)["status"] == "sent"
    capped = json.loads(_event(admin, "cap-2", "+15550400003").body)
    assert capped["status"] == "suppressed" and capped["reason"].startswith("daily_cap")
    nobody = json.loads(_event(admin, "who-1", "+15550499999").body)
    assert (nobody["status"], nobody["reason"]) == ("suppressed", "unknown_customer")


def test_bad_events_and_stale_rules_are_refused_and_change_nothing(api: Any) -> None:
    admin, agent = api("admin"), api("agent1")
    assert _put_rules(admin).status_code == 200
    assert _put_rules(admin).status_code == 409  # version 0 is stale now
    rules = json.loads(admin.get("/admin/proactive-rules").body)
    assert rules["version"] == 1 and [r["rule_id"] for r in rules["rules"]] == ["shipped"]
    for body in (
        {"type": "order.shipped", "event_id": "bad-1", "customer": {}},
        {"type": "Order Shipped", "event_id": "bad-2", "customer": {"phone": "+15550400004"}},
        {"type": "order.shipped", "event_id": "bad 3", "customer": {"phone": "+15550400004"}},
        {"type": "order.shipped", "event_id": "bad-4", "customer": {"phone": "<script>"}},
        {"type": "order.shipped", "event_id": "bad-5", "customer": {"phone": "+15550400004"}, "extra": 1},
    ):
        r = admin.post("/business-events", body)
        assert r.status_code == 400, (body, r.body)
    assert admin.get("/business-events/bad-1").status_code == 404
    assert _event(agent, "agent-1", "+15550400004").status_code == 403
    assert api(None).post("/business-events", {}).status_code == 401
