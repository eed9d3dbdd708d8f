"""Tickets through the API and the router on moto: creation (conversation, API, e-mail, signed
device alerts), changes with optimistic concurrency and history, roles, sub-tickets solving their
parent, customer-visible progress really queued for the sender, the status question, CSAT."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib import bootstrap, events
from chalicelib.aws import queue_url
from chalicelib.conversations import service as conversations
from chalicelib.messages import OutboundMessage
from chalicelib.router import service as router
from chalicelib.tickets import service as tickets
from chalicelib.tickets.models import Ticket
from infra.local.provision import DEMO_CHANNELS
from tests.support.factories import inbound
from tests.support.queues import drain


@pytest.fixture
def sla_calls() -> Iterator[list[tuple[str, str]]]:
    """What the SLA clock hears (its effects are not under test here): it is replaced as the
    subscriber of ticket changes."""
    calls: list[tuple[str, str]] = []

    def record(e: events.TicketChanged) -> None:
        calls.append((e.ticket.ticket_id, e.reason))

    events.install({**bootstrap.SUBSCRIPTIONS, events.TicketChanged: [record]})
    yield calls
    bootstrap.install()


def body(r: Any) -> Any:
    return json.loads(r.body)


def patch(session: Any, path: str, data: dict[str, Any]) -> Any:
    return session.client.http.request(
        "PATCH", path, headers=session._headers(), body=json.dumps(data).encode()
    )


def outbound() -> list[OutboundMessage]:
    return [OutboundMessage.model_validate_json(m["Body"]) for m in drain(queue_url("outbound"))]


def customer_writes(user: str, text: str, **kw: Any) -> conversations.Stored:
    stored = router.store(inbound("sms", user, text, **kw))
    assert stored is not None
    return stored


def presales_conversation(user: str = "+15550400001", text: str = "how much is the serum? 包裹坏了") -> str:
    """A customer's first message, queued in presales (routing itself is not under test here)."""
    from chalicelib.identity import service as identity

    msg = inbound("sms", user, text)
    return conversations.record_inbound(
        identity.resolve(msg).customer, msg, "presales", mailbox=False
    ).conversation.conversation_id


# ---- creation from a conversation, progress, CSAT ----------------------------------------------
def test_one_click_ticket_from_a_conversation_tells_the_customer_and_collects_csat(api, aws, sla_calls):
    cid = presales_conversation()
    agent1 = api("agent1")
    outbound()  # whatever routing sent (nothing expected); start clean

    r = agent1.post(f"/conversations/{cid}/ticket", {"category": "exchange"})
    assert r.status_code == 201, r.body
    t = body(r)["ticket"]
    assert t["subject"] == "how much is the serum? 包裹坏了"
    assert (t["status"], t["assignee_id"], t["group_id"], t["source"]) == (
        "new",
        "agent1",
        "presales",
        "agent",
    )
    assert t["requester_id"] == conversations.get(cid).customer_id
    assert t["number"] > tickets.NUMBER_BASE and t["ticket_id"] == f"tkt_{t['number']}"
    assert t["conversation_ids"] == [cid] and conversations.get(cid).ticket_ids == {t["ticket_id"]}
    assert t["language"] == "zh-CN"

    sent = outbound()
    assert [(m.conversation_id, m.channel, m.channel_user_id, m.agent_id) for m in sent] == [
        (cid, "sms", "+15550400001", "system")
    ]
    assert f"#{t['number']}" in sent[0].text and "已创建" in sent[0].text
    stored = conversations.Message.get(cid, sent[0].seq)
    assert (stored.status, stored.direction, stored.author_id) == ("queued", "out", "system")
    c = conversations.get(cid)
    assert c.first_responded_at is None and c.assignee_id is None  # a notice is not an agent's reply

    r = patch(agent1, f"/tickets/{t['ticket_id']}", {"version": t["version"], "status": "solved"})
    assert r.status_code == 200, r.body
    solved = body(r)["ticket"]
    assert solved["status"] == "solved" and solved["solved_at"]
    assert tickets.get(t["ticket_id"]).csat_sent_at
    texts = [m.text for m in outbound()]
    assert texts == [
        f"您的工单 #{t['number']}（how much is the serum? 包裹坏了）已处理完成。",
        "请为本次服务打分：回复 1-5（5 = 非常满意）。",
    ]

    customer_writes("+15550400001", "5")
    after = tickets.get(t["ticket_id"])
    assert after.csat_score == 5
    assert [m.text for m in outbound()] == ["感谢您的评价！"]
    kinds = [e["kind"] for e in body(agent1.get(f"/tickets/{t['ticket_id']}"))["history"]]
    assert kinds == ["created", "notified", "changed", "notified", "notified", "csat"]
    assert (t["ticket_id"], "created") in sla_calls and (t["ticket_id"], "solved") in sla_calls

    customer_writes("+15550400001", "4")  # only one answer per survey
    assert tickets.get(t["ticket_id"]).csat_score == 5


def test_a_csat_answer_that_opens_a_conversation_is_not_a_new_question(api, aws, sla_calls):
    cid = presales_conversation("+15550400002", "hello")
    agent1 = api("agent1")
    t = body(agent1.post(f"/conversations/{cid}/ticket", {"notify": False}))["ticket"]
    assert patch(agent1, f"/tickets/{t['ticket_id']}", {"version": 0, "status": "solved"}).status_code == 200
    conversations.close(cid, "agent1")
    outbound()

    stored = customer_writes("+15550400002", "4分")
    assert stored.new_conversation
    assert tickets.get(t["ticket_id"]).csat_score == 4
    assert conversations.get(stored.conversation.conversation_id).status == "closed"


# ---- changes, history, concurrency, roles ------------------------------------------------------
def test_two_agents_patching_the_same_version_one_gets_409_and_history_has_before_after(api, aws, sla_calls):
    agent1, supervisor = api("agent1"), api("supervisor")
    r = agent1.post(
        "/tickets", {"subject": "Refund for order 77", "group_id": "presales", "category": "refund"}
    )
    assert r.status_code == 201, r.body
    tid = body(r)["ticket"]["ticket_id"]

    first = patch(
        agent1, f"/tickets/{tid}", {"version": 0, "priority": "high", "custom_fields": {"amount": 30}}
    )
    second = patch(supervisor, f"/tickets/{tid}", {"version": 0, "priority": "urgent"})
    assert (first.status_code, second.status_code) == (200, 409), (first.body, second.body)
    assert body(second)["error"] == "conflict"
    now = body(first)["ticket"]
    assert (now["priority"], now["version"], now["custom_fields"]) == ("high", 1, {"amount": 30.0})

    r = patch(
        supervisor,
        f"/tickets/{tid}",
        {
            "version": 1,
            "status": "open",
            "assignee_id": "agent1",
            "tags": {"add": ["VIP"]},
            "order_number": "77",
        },
    )
    assert r.status_code == 200, r.body
    changed = [e for e in body(agent1.get(f"/tickets/{tid}"))["history"] if e["kind"] == "changed"]
    assert changed[0]["changes"]["priority"] == {"from": "normal", "to": "high"}
    assert changed[1]["actor"] == "supervisor"
    assert changed[1]["changes"]["status"] == {"from": "new", "to": "open"}
    assert changed[1]["changes"]["tags"] == {"from": [], "to": ["vip"]}
    assert changed[1]["changes"]["assignee_id"] == {"from": None, "to": "agent1"}
    assert (tid, "priority") in sla_calls and (tid, "status") in sla_calls

    assert patch(agent1, f"/tickets/{tid}", {"version": 2, "status": "new"}).status_code == 400  # transition
    assert (
        patch(agent1, f"/tickets/{tid}", {"version": 2, "custom_fields": {"colour": "x"}}).status_code == 400
    )
    assert patch(agent1, f"/tickets/{tid}", {"version": 2, "assignee_id": "nobody"}).status_code == 400
    assert patch(agent1, "/tickets/tkt_1", {"version": 0, "status": "open"}).status_code == 404


def test_agents_see_their_groups_and_own_tickets_supervisors_all(api, aws, sla_calls):
    agent1, agent2, supervisor = api("agent1"), api("agent2"), api("supervisor")
    pre = body(agent1.post("/tickets", {"subject": "pre", "group_id": "presales"}))["ticket"]["ticket_id"]
    after = body(agent2.post("/tickets", {"subject": "after", "group_id": "aftersales"}))["ticket"][
        "ticket_id"
    ]
    mine = body(agent2.post("/tickets", {"subject": "mine", "group_id": "presales", "assignee_id": "agent2"}))

    assert agent1.get(f"/tickets/{after}").status_code == 403
    assert patch(agent1, f"/tickets/{after}", {"version": 0, "status": "open"}).status_code == 403
    assert agent1.post(f"/tickets/{after}/comments", {"text": "psst"}).status_code == 403
    assert (
        agent1.post(f"/tickets/{after}/subtickets", {"group_id": "presales", "subject": "x"}).status_code
        == 403
    )
    assert supervisor.get(f"/tickets/{after}").status_code == 200
    assert agent2.get(f"/tickets/{mine['ticket']['ticket_id']}").status_code == 200  # assigned to them

    def ids(session: Any, query: str) -> set[str]:
        r = session.get(f"/tickets?{query}")
        assert r.status_code == 200, r.body
        return {t["ticket_id"] for t in body(r)["items"]}

    assert ids(agent2, "view=mine") == {mine["ticket"]["ticket_id"]}
    assert ids(agent1, "view=group") == {pre, mine["ticket"]["ticket_id"]}
    assert agent1.get("/tickets?view=group&group=aftersales").status_code == 403
    assert ids(agent1, "view=status&status=new") == {pre, mine["ticket"]["ticket_id"]}
    assert ids(supervisor, "view=status&status=new") >= {pre, after, mine["ticket"]["ticket_id"]}
    assert ids(supervisor, "view=overdue") == set()  # no SLA clock runs in this test
    assert agent1.get("/tickets?view=nope").status_code == 400

    Ticket(pre).update(actions=[Ticket.due_key.set("due"), Ticket.sla_next_due.set("2000-01-01T00:00:00Z")])
    assert ids(agent1, "view=overdue") == {pre}
    assert ids(agent2, "view=overdue") == set()

    page = body(supervisor.get("/tickets?view=status&status=new&limit=1"))
    assert len(page["items"]) == 1 and page["next_cursor"]
    nxt = body(supervisor.get(f"/tickets?view=status&status=new&limit=1&cursor={page['next_cursor']}"))
    assert nxt["items"][0]["ticket_id"] != page["items"][0]["ticket_id"]


# ---- comments ----------------------------------------------------------------------------------
def test_internal_comments_stay_inside_public_replies_reach_the_customer(api, aws, sla_calls):
    cid = presales_conversation("+15550400003", "my parcel arrived broken")
    agent1 = api("agent1")
    tid = body(agent1.post(f"/conversations/{cid}/ticket", {"notify": False}))["ticket"]["ticket_id"]
    outbound()

    r = agent1.post(f"/tickets/{tid}/comments", {"text": "called the warehouse"})
    assert r.status_code == 201 and body(r)["event"]["public"] is False
    assert outbound() == []

    r = agent1.post(f"/tickets/{tid}/comments", {"text": "A replacement ships today.", "public": True})
    assert r.status_code == 201, r.body
    sent = outbound()
    assert [(m.conversation_id, m.agent_id, m.channel) for m in sent] == [(cid, "agent1", "sms")]
    assert sent[0].text.endswith("A replacement ships today.") and tickets.get(tid).number is not None
    t = tickets.get(tid)
    assert t.status == "open" and t.first_responded_at and t.last_public_reply_at
    assert conversations.get(cid).first_responded_at is not None  # an agent's reply, as in the inbox
    assert (tid, "public_reply") in sla_calls

    conversations.close(cid, "agent1")  # none open: the customer's last channel still gets it
    r = agent1.post(f"/tickets/{tid}/comments", {"text": "Tracking: SF123", "public": True})
    assert r.status_code == 201, r.body
    assert [m.conversation_id for m in outbound()] == [cid]

    orphan = body(agent1.post("/tickets", {"subject": "no customer", "group_id": "presales"}))["ticket"]
    assert (
        agent1.post(f"/tickets/{orphan['ticket_id']}/comments", {"text": "hi", "public": True}).status_code
        == 409
    )


# ---- customer messages -------------------------------------------------------------------------
def test_a_customer_asking_for_the_status_gets_their_open_tickets_from_the_bot(api, aws, sla_calls):
    cid = presales_conversation("+15550400004", "我要换货")
    agent1 = api("agent1")
    t = body(agent1.post(f"/conversations/{cid}/ticket", {"subject": "换货", "notify": False}))["ticket"]
    patch(
        agent1,
        f"/tickets/{t['ticket_id']}",
        {
            "version": 0,
            "status": "pending_customer",
        },
    )
    outbound()

    customer_writes("+15550400004", "我的工单进度怎么样？")
    sent = outbound()
    assert [m.agent_id for m in sent] == ["bot"]
    assert sent[0].text == f"您的工单进度：\n#{t['number']}（换货）：处理中"  # the question reopened it
    after = tickets.get(t["ticket_id"])
    assert after.status == "open" and after.last_customer_reply_at  # a linked conversation: a reply
    assert (t["ticket_id"], "customer_reply") in sla_calls
    customer = body(agent1.get(f"/customers/{after.requester_id}"))
    assert [x["ticket_id"] for x in customer["tickets"]] == [t["ticket_id"]]  # the customer 360

    customer_writes("+15550400099", "where is my order?")  # another customer, no tickets:
    assert outbound() == []  # the bot stays quiet and the question waits for an agent


def test_an_email_to_the_support_address_creates_a_ticket_and_a_numbered_reply_joins_it(
    api, aws, sla_calls, monkeypatch
):
    monkeypatch.setenv("OMNIFLOW_TICKET_ADDRESSES", "support, billing")
    mail = inbound(
        "email",
        "li@example.cn",
        "The kettle stopped working.",
        account="support",
        reply_context={"subject": "Kettle broken", "message_id": "<m1@example.cn>"},
    )
    stored = router.store(mail)
    assert stored is not None
    cid = stored.conversation.conversation_id
    created = tickets.tickets_of(stored.conversation.customer_id)
    assert [(t.subject, t.source, t.description, t.conversation_ids) for t in created] == [
        ("Kettle broken", "email", "The kettle stopped working.", {cid})
    ]
    number = created[0].number
    assert conversations.get(cid).ticket_ids == {created[0].ticket_id}
    assert router.store(mail, receive_count=2) is None  # a redelivery creates nothing more
    assert len(tickets.tickets_of(stored.conversation.customer_id)) == 1

    conversations.close(cid, "agent1")
    reply = inbound(
        "email",
        "li@example.cn",
        "Still broken.",
        account="support",
        reply_context={"subject": f"Re: [#{number}] x"},
    )
    again = router.store(reply)
    assert again is not None and again.new_conversation
    assert len(tickets.tickets_of(stored.conversation.customer_id)) == 1
    t = tickets.get(created[0].ticket_id)
    assert t.conversation_ids == {cid, again.conversation.conversation_id}
    assert [e.kind for e in tickets.history(t.ticket_id)][-1] == "customer_reply"

    other = router.store(
        inbound("email", "li@example.cn", "hi", account="sales", reply_context={"subject": "Q"})
    )
    assert other is not None and len(tickets.tickets_of(stored.conversation.customer_id)) == 1


# ---- device alerts -----------------------------------------------------------------------------
KEYS: dict[str, str] = json.loads(DEMO_CHANNELS["app"]["keys"])
KEY_ID, SECRET = next(iter(KEYS.items()))


def signed(payload: bytes, secret: str = SECRET) -> dict[str, str]:
    timestamp, nonce = str(int(time.time())), secrets.token_urlsafe(18)
    mac = hmac.new(secret.encode(), f"{timestamp}\n{nonce}\n".encode() + payload, hashlib.sha256)
    return {
        "content-type": "application/json",
        "x-omniflow-key": KEY_ID,
        "x-omniflow-timestamp": timestamp,
        "x-omniflow-nonce": nonce,
        "x-omniflow-signature": mac.hexdigest(),
    }


def test_a_device_alert_needs_the_app_signature_and_is_deduplicated(api, aws, sla_calls):
    anonymous = api(None)
    alert = {
        "alert_id": "a-1",
        "serial": "SN-001",
        "fault_code": "E42",
        "priority": "high",
        "customer": {"id": "u-7", "name": "Li Lei"},
    }
    raw = json.dumps(alert).encode()

    forged = anonymous.client.http.post("/tickets/alerts", body=raw, headers=signed(raw, secret="wrong"))
    assert forged.status_code == 401, forged.body
    unsigned = anonymous.client.http.post(
        "/tickets/alerts", body=raw, headers={"content-type": "application/json"}
    )
    assert unsigned.status_code == 401
    from chalicelib.identity.models import Identity

    assert Identity.count("device#SN-001") == 0
    assert Ticket.count("tkt_10001") == 0 and tickets.new_number() == 10001  # no number was spent

    r = anonymous.client.http.post("/tickets/alerts", body=raw, headers=signed(raw))
    assert r.status_code == 201, r.body
    tid = body(r)["ticket_id"]
    t = tickets.get(tid)
    assert (t.device_serial, t.priority, t.category, t.subject) == (
        "SN-001",
        "high",
        "device_fault",
        "Device fault E42",
    )
    owner = Identity.get("device#SN-001").customer_id
    assert t.requester_id == owner == Identity.get("app#default#u-7").customer_id

    again = anonymous.client.http.post("/tickets/alerts", body=raw, headers=signed(raw))
    assert (again.status_code, body(again)["ticket_id"], body(again)["created"]) == (200, tid, False)

    second = json.dumps({"alert_id": "a-2", "serial": "SN-001"}).encode()
    r = anonymous.client.http.post("/tickets/alerts", body=second, headers=signed(second))
    assert r.status_code == 201 and tickets.get(body(r)["ticket_id"]).requester_id == owner  # by serial

    bad = json.dumps({"alert_id": "a-3"}).encode()
    assert anonymous.client.http.post("/tickets/alerts", body=bad, headers=signed(bad)).status_code == 400


# ---- sub-tickets -------------------------------------------------------------------------------
def test_sub_tickets_show_progress_and_solve_the_parent_when_all_are_done(api, aws, sla_calls):
    cid = presales_conversation("+15550400005", "refund and coupon please")
    agent1, agent2, supervisor = api("agent1"), api("agent2"), api("supervisor")
    parent = body(agent1.post(f"/conversations/{cid}/ticket", {"notify": False}))["ticket"]
    pid = parent["ticket_id"]
    outbound()

    kids = []
    for group, subject, who in (("aftersales", "refund", "agent2"), ("presales", "coupon", "agent1")):
        r = agent1.post(
            f"/tickets/{pid}/subtickets", {"group_id": group, "subject": subject, "assignee_id": who}
        )
        assert r.status_code == 201, r.body
        kids.append(body(r)["ticket"])
    assert all(k["parent_id"] == pid and k["requester_id"] == parent["requester_id"] for k in kids)
    assert {(k["ticket_id"], "created") for k in kids} <= set(sla_calls)  # each its own SLA

    view = body(agent1.get(f"/tickets/{pid}"))
    assert view["ticket"]["progress"] == {"total": 2, "done": 0, "percent": 0, "complete": False}
    assert {c["subject"] for c in view["children"]} == {"refund", "coupon"}
    assert [c["conversation_id"] for c in view["conversations"]] == [cid]

    assert agent2.get(f"/tickets/{kids[0]['ticket_id']}").status_code == 200  # their department's part
    assert (
        patch(agent2, f"/tickets/{kids[0]['ticket_id']}", {"version": 0, "status": "solved"}).status_code
        == 200
    )
    assert tickets.get(pid).status == "new"
    assert body(agent1.get(f"/tickets/{pid}"))["ticket"]["progress"]["done"] == 1
    assert outbound() == []  # sub-tickets are internal: the customer hears of the parent

    assert (
        patch(agent1, f"/tickets/{kids[1]['ticket_id']}", {"version": 0, "status": "closed"}).status_code
        == 200
    )
    done = tickets.get(pid)
    assert done.status == "solved" and (done.children_total, done.children_done) == (2, 2)
    assert any("已处理完成" in m.text or "solved" in m.text for m in outbound())  # the parent's progress

    assert (
        patch(supervisor, f"/tickets/{pid}", {"version": done.version, "status": "closed"}).status_code == 200
    )
    r = agent1.post(f"/tickets/{pid}/subtickets", {"group_id": "presales", "subject": "late"})
    assert r.status_code == 409  # a closed parent takes no more parts
    assert tickets.get(pid).children_total == 2


def test_ticket_changes_reach_the_console_feed(api, aws):
    agent1 = api("agent1")
    start = body(agent1.get("/events"))["cursor"]
    t = tickets.create(
        subject="Replace a broken cup",
        actor="agent1",
        source="api",
        group_id="presales",
        assignee_id="agent1",
    )
    tickets.update(t.ticket_id, "agent1", {"priority": "urgent"}, notify_customer=False)
    events = body(agent1.get(f"/events?cursor={start}"))["events"]
    seen = [(e["kind"], e["data"]["reason"]) for e in events if e["data"].get("ticket_id") == t.ticket_id]
    assert seen[:1] == [("ticket.updated", "created")] and ("ticket.updated", "priority") in seen
