"""Proactive notices on the running local stack (issue 18): a customer known from an SMS (signed
with twilio's validator) gets exactly one order.shipped notice on SMS however often the event is
resent — stored in their conversation and sent by the local sender — and after they text STOP the
next event is suppressed with its reason."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from infra.local import simulate
from tests.e2e.conftest import LocalStack, login
from tests.e2e.test_local_stack import creds, messages, poll
from tests.e2e.test_quality_story import conversation_showing

pytestmark = pytest.mark.e2e
RULE = {"rule_id": "shipped", "event": "order.shipped", "template": {"en": "Order {order_id} has shipped"}}


def test_one_notice_however_often_the_event_is_resent_and_stop_suppresses_the_next(local_stack: LocalStack):
    admin, supervisor = login(local_stack, "admin"), login(local_stack, "supervisor")
    current = admin.get("/admin/proactive-rules").json()
    saved = admin.session.put(
        f"{admin.base}/api/admin/proactive-rules",
        json={
            "version": current["version"],
            "rules": [RULE],
            "limits": {"quiet_hours": None, "daily_cap": 5},
        },
        timeout=30,
    )
    assert saved.status_code == 200, saved.text

    phone = "+1555" + str(uuid.uuid4().int)[:7]
    text = f"when does my order ship {uuid.uuid4().hex[:8]}"
    assert (
        simulate.sms_request(local_stack.target, creds("sms"), sender=phone, text=text).send().status_code
        == 200
    )
    cid = conversation_showing(supervisor, text)["conversation_id"]

    order = f"A-{uuid.uuid4().hex[:6]}"
    event: dict[str, Any] = {
        "type": "order.shipped",
        "event_id": f"ship-{order}",
        "customer": {"phone": phone},
        "data": {"order_id": order},
    }
    answers = [admin.post("/business-events", event) for _ in range(3)]
    assert [a.status_code for a in answers] == [202, 202, 202]
    assert answers[0].json()["status"] == "sent" and answers[0].json()["conversation_id"] == cid
    assert [a.json().get("duplicate") for a in answers[1:]] == [True, True]

    def notice_sent() -> list[dict[str, Any]]:
        out = [m for m in messages(supervisor, cid) if m["direction"] == "out"]
        return out if out and all(m["status"] in ("sent", "sent_local") for m in out) else []

    [notice] = poll("the notice sent on SMS", notice_sent)
    assert notice["text"] == f"Order {order} has shipped" and notice["channel"] == "sms"

    assert (
        simulate.sms_request(local_stack.target, creds("sms"), sender=phone, text="STOP").send().status_code
        == 200
    )
    poll("the STOP message stored", lambda: any(m.get("text") == "STOP" for m in messages(supervisor, cid)))
    second = admin.post("/business-events", {**event, "event_id": f"ship2-{order}"}).json()
    assert (second["status"], second["reason"]) == ("suppressed", "sms: opted_out")
    assert admin.get(f"/business-events/ship2-{order}").json()["status"] == "suppressed"
    assert len([m for m in messages(supervisor, cid) if m["direction"] == "out"]) == 1
