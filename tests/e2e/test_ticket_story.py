"""The seeds' ticket story on the running local stack: a customer reports a damaged parcel on
WeChat (signed with wechatpy); the agent turns the conversation into a ticket with one click (its
SLA clock starts on Step Functions); the public reply and the progress go out on WeChat; solving
the ticket sends the satisfaction survey, and the customer's "5" on WeChat lands on the ticket."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import requests

from infra.local import simulate
from tests.e2e.conftest import Api, LocalStack, login
from tests.e2e.test_local_stack import creds, messages, poll, queued_conversation

pytestmark = pytest.mark.e2e


def patch(api: Api, path: str, body: Any) -> requests.Response:
    return api.session.patch(f"{api.base}/api{path}", json=body, timeout=30)


def wechat(stack: LocalStack, user: str, text: str) -> None:
    request = simulate.wechat_request(stack.target, creds("wechat"), user=user, text=text)
    assert request.send().status_code == 200


def test_damaged_parcel_becomes_a_ticket_with_an_sla_progress_and_csat_on_wechat(local_stack: LocalStack):
    run = uuid.uuid4().hex[:8]
    user = f"o_ticket_{run}"
    agent = login(local_stack, "supervisor")
    text = f"包裹到了但是破损了，里面的杯子碎了 {run}"
    wechat(local_stack, user, text)
    conversation = queued_conversation(agent, text)
    cid = conversation["conversation_id"]

    made = agent.post(f"/conversations/{cid}/ticket", {"category": "delivery", "priority": "high"})
    assert made.status_code == 201, made.text
    ticket = made.json()["ticket"]
    tid = ticket["ticket_id"]
    assert ticket["requester_id"] == conversation["customer_id"] and cid in ticket["conversation_ids"]
    assert ticket["sla_first_response_due"] and ticket["sla_resolution_due"]  # the clock runs
    assert ticket["status"] in ("new", "open")

    reply = agent.post(f"/tickets/{tid}/comments", {"text": "很抱歉！我们24小时内为您补发。", "public": True})
    assert reply.status_code == 201, reply.text

    def sent_on_wechat(expected: str) -> dict[str, Any] | None:
        out = [m for m in messages(agent, cid) if m["direction"] == "out" and m.get("channel") == "wechat"]
        sent = [m for m in out if m["status"] == "sent_local"]
        return next((m for m in sent if expected in (m.get("text") or "")), None)

    poll("the public reply to go out on WeChat", lambda: sent_on_wechat("24小时内为您补发"))

    current = agent.get(f"/tickets/{tid}").json()["ticket"]
    assert current["first_responded_at"]
    solved = patch(agent, f"/tickets/{tid}", {"version": current["version"], "status": "solved"})
    assert solved.status_code == 200, solved.text
    stale = patch(agent, f"/tickets/{tid}", {"version": current["version"], "status": "open"})
    assert stale.status_code == 409  # someone saving over a newer version is refused

    poll("the CSAT survey on WeChat", lambda: sent_on_wechat("1-5"))
    wechat(local_stack, user, "5")

    def rated() -> dict[str, Any] | None:
        t = agent.get(f"/tickets/{tid}").json()["ticket"]
        return t if t.get("csat_score") == 5 else None

    final = poll("the CSAT answer on the ticket", rated)
    assert final["status"] == "solved" and final["sla_state"] == "met"
    assert final["sla_outcomes"] == {"first_response": "met", "resolution": "met"}
    history = [e["kind"] for e in agent.get(f"/tickets/{tid}").json()["history"]]
    assert "created" in history and "csat" in history
