"""Conversation actions (notes with @mentions, tags, snooze, ticket links) and the customer 360 /
profile edits, through the API on moto."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from chalicelib.audit import service as audit
from chalicelib.conversations import service as conversations
from chalicelib.identity import service as identity
from chalicelib.messages import iso, utcnow
from tests.support.factories import inbound


def open_conversation(user: str, text: str = "hello", group: str = "presales", channel: str = "sms", **kw):
    """A customer message stored as the router stores it, queued in ``group`` (routing itself is
    not under test here)."""
    msg = inbound(channel, user, text, **kw)
    return conversations.record_inbound(
        identity.resolve(msg).customer, msg, group, mailbox=False
    ).conversation


def body(r):
    return json.loads(r.body)


def events_after(session, cursor):
    r = session.get(f"/events?cursor={cursor}")
    assert r.status_code == 200, r.body
    return body(r)["events"]


def start_feed(session):
    return body(session.get("/events"))["cursor"]


# ---- notes -------------------------------------------------------------------------------------
def test_a_note_is_private_not_a_reply_and_notifies_whom_it_mentions(api, aws):
    c = open_conversation("+15550300001", "where is my parcel?")
    agent1, supervisor = api("agent1"), api("supervisor")
    sup_cursor, a1_cursor = start_feed(supervisor), start_feed(agent1)

    r = agent1.post(
        f"/conversations/{c.conversation_id}/notes", {"text": "@supervisor VIP, see ops@example.com"}
    )
    assert r.status_code == 201, r.body
    note = body(r)["message"]
    assert (note["direction"], note["author_id"], note["mentions"]) == ("note", "agent1", ["supervisor"])

    after = conversations.get(c.conversation_id)
    assert after.first_responded_at is None and after.assignee_id is None
    assert after.preview == "where is my parcel?" and after.last_message_at == c.last_message_at
    assert dict(after.replies_since.as_dict()) == dict(c.replies_since.as_dict())
    from chalicelib.aws import client, queue_url

    queued = client("sqs").receive_message(QueueUrl=queue_url("outbound"), WaitTimeSeconds=0)
    assert not queued.get("Messages")  # nothing goes to the customer

    mentions = [e for e in events_after(supervisor, sup_cursor) if e["kind"] == "note.mention"]
    assert [(e["conversation_id"], e["data"]["seq"], e["data"]["by"]) for e in mentions] == [
        (c.conversation_id, note["seq"], "agent1")
    ]
    updates = [e for e in events_after(agent1, a1_cursor) if e["kind"] == "conversation.updated"]
    assert [e["data"]["change"] for e in updates] == ["note"]

    timeline = body(agent1.get(f"/conversations/{c.conversation_id}"))["messages"]
    assert [m["direction"] for m in timeline] == ["in", "note"]
    assert audit.history(f"conversation#{c.conversation_id}")[0].action == "conversation.note"

    reply = agent1.post(f"/conversations/{c.conversation_id}/reply", {"text": "On its way!"})
    assert reply.status_code == 202
    assert conversations.get(c.conversation_id).first_responded_at is not None  # the reply is the first


def test_a_mention_must_reach_an_agent_who_can_open_the_conversation(api):
    c = open_conversation("+15550300002")
    agent1 = api("agent1")
    r = agent1.post(f"/conversations/{c.conversation_id}/notes", {"text": "@agent2 can you take this?"})
    assert r.status_code == 400 and "agent2" in body(r)["message"]
    r = agent1.post(f"/conversations/{c.conversation_id}/notes", {"text": "@nobody @agent1 just a reminder"})
    assert r.status_code == 201 and "mentions" not in body(r)["message"]  # unknown handle, and myself
    many = " ".join(f"@a{i}" for i in range(11))
    assert agent1.post(f"/conversations/{c.conversation_id}/notes", {"text": many}).status_code == 400


def test_agents_of_another_group_cannot_act_on_a_conversation(api):
    c = open_conversation("+15550300003")
    agent2 = api("agent2")
    cid = c.conversation_id
    assert agent2.post(f"/conversations/{cid}/notes", {"text": "hi"}).status_code == 403
    assert (
        agent2.client.http.put(
            f"/conversations/{cid}/tags", body=json.dumps({"add": ["x"]}), headers=agent2._headers()
        ).status_code
        == 403
    )
    until = iso(utcnow() + timedelta(hours=1))
    assert agent2.post(f"/conversations/{cid}/snooze", {"until": until}).status_code == 403
    assert agent2.post(f"/conversations/{cid}/tickets", {"ticket_id": "TKT-1"}).status_code == 403
    assert (
        agent2.client.http.delete(f"/conversations/{cid}/snooze", headers=agent2._headers()).status_code
        == 403
    )
    assert (
        agent2.client.http.delete(
            f"/conversations/{cid}/tickets/TKT-1", headers=agent2._headers()
        ).status_code
        == 403
    )
    assert api("agent1").post(f"/conversations/{cid}/notes", {"text": "mine"}).status_code == 201
    assert api("agent1").post("/conversations/cnv_missing/notes", {"text": "x"}).status_code == 404


# ---- tags --------------------------------------------------------------------------------------
def put(session, path, payload):
    return session.client.http.put(path, body=json.dumps(payload), headers=session._headers())


def test_tags_are_added_and_removed_and_validated(api):
    c = open_conversation("+15550300004")
    agent1 = api("agent1")
    path = f"/conversations/{c.conversation_id}/tags"
    cursor = start_feed(agent1)
    r = put(agent1, path, {"add": ["VIP", "退款", "shipping"]})
    assert r.status_code == 200 and body(r)["tags"] == sorted(["vip", "退款", "shipping"])
    r = put(agent1, path, {"add": ["late"], "remove": ["shipping"]})
    assert body(r)["tags"] == sorted(["vip", "退款", "late"])
    for bad in (
        {"add": ["<b>"]},
        {"add": ["x" * 41]},
        {"add": ["a"], "remove": ["a"]},
        {},
        {"add": ["a"] * 21},
    ):
        assert put(agent1, path, bad).status_code == 400, bad
    changes = [e["data"] for e in events_after(agent1, cursor) if e["kind"] == "conversation.updated"]
    assert [(d["change"], d["added"], d["removed"]) for d in changes] == [
        ("tags", ["shipping", "vip", "退款"], []),
        ("tags", ["late"], ["shipping"]),
    ]
    assert audit.history(f"conversation#{c.conversation_id}")[0].details == {
        "added": ["late"],
        "removed": ["shipping"],
    }


# ---- snooze ------------------------------------------------------------------------------------
def test_a_snoozed_conversation_leaves_mine_until_the_customer_writes(api):
    c = open_conversation("+15550300005", "hi")
    agent1 = api("agent1")
    cid = c.conversation_id
    assert agent1.post(f"/conversations/{cid}/claim").status_code == 200

    def mine():
        return [x["conversation_id"] for x in body(agent1.get("/conversations?view=mine"))["items"]]

    assert mine() == [cid]
    until = iso(utcnow() + timedelta(hours=2))
    r = agent1.post(f"/conversations/{cid}/snooze", {"until": until})
    assert r.status_code == 200 and body(r)["snoozed_until"] == until
    assert mine() == []

    open_conversation("+15550300005", "any news?")  # the customer writes again
    assert conversations.get(cid).snoozed_until is None
    assert mine() == [cid]

    agent1.post(f"/conversations/{cid}/snooze", {"until": until})
    r = agent1.client.http.delete(f"/conversations/{cid}/snooze", headers=agent1._headers())
    assert r.status_code == 200 and "snoozed_until" not in body(r)
    assert [a.action for a in audit.history(f"conversation#{cid}")][:2] == [
        "conversation.unsnooze",
        "conversation.snooze",
    ]


@pytest.mark.parametrize(
    "until",
    [
        lambda: iso(utcnow() - timedelta(minutes=1)),
        lambda: iso(utcnow() + timedelta(days=31)),
        lambda: "2030-01-01T00:00:00",  # no time zone
        lambda: "tomorrow",
    ],
)
def test_a_snooze_needs_a_sensible_time(api, until):
    c = open_conversation("+15550300006")
    assert (
        api("agent1").post(f"/conversations/{c.conversation_id}/snooze", {"until": until()}).status_code
        == 400
    )


def test_a_closed_conversation_cannot_be_snoozed(api):
    c = open_conversation("+15550300007")
    agent1 = api("agent1")
    assert agent1.post(f"/conversations/{c.conversation_id}/close").status_code == 200
    until = iso(utcnow() + timedelta(hours=1))
    assert agent1.post(f"/conversations/{c.conversation_id}/snooze", {"until": until}).status_code == 409


# ---- tickets -----------------------------------------------------------------------------------
def test_tickets_are_linked_and_unlinked(api):
    c = open_conversation("+15550300008")
    agent1 = api("agent1")
    cid = c.conversation_id
    assert body(agent1.post(f"/conversations/{cid}/tickets", {"ticket_id": "TKT-1001"}))["ticket_ids"] == [
        "TKT-1001"
    ]
    r = agent1.post(f"/conversations/{cid}/tickets", {"ticket_id": "tkt_2"})
    assert body(r)["ticket_ids"] == ["TKT-1001", "tkt_2"]
    assert agent1.post(f"/conversations/{cid}/tickets", {"ticket_id": "../etc"}).status_code == 400
    r = agent1.client.http.delete(f"/conversations/{cid}/tickets/TKT-1001", headers=agent1._headers())
    assert r.status_code == 200 and body(r)["ticket_ids"] == ["tkt_2"]
    r = agent1.client.http.delete(f"/conversations/{cid}/tickets/TKT-1001", headers=agent1._headers())
    assert r.status_code == 404
    assert body(agent1.get(f"/conversations/{cid}"))["conversation"]["ticket_ids"] == ["tkt_2"]


# ---- customers ---------------------------------------------------------------------------------
def patch(session, path, payload):
    return session.client.http.patch(path, body=json.dumps(payload), headers=session._headers())


def test_agents_edit_a_customers_tags_and_attributes_and_it_is_audited(api):
    cus = open_conversation("+15550300009").customer_id
    agent1 = api("agent1")
    r = patch(
        agent1, f"/customers/{cus}", {"tags": {"add": ["VIP", "wholesale"]}, "attributes": {"tier": "gold"}}
    )
    assert r.status_code == 200, r.body
    assert (body(r)["customer"]["tags"], body(r)["customer"]["attributes"]) == (
        ["vip", "wholesale"],
        {"tier": "gold"},
    )
    r = patch(
        agent1,
        f"/customers/{cus}",
        {"tags": {"remove": ["wholesale"]}, "attributes": {"tier": None, "city": "Hangzhou"}},
    )
    assert (body(r)["customer"]["tags"], body(r)["customer"]["attributes"]) == (["vip"], {"city": "Hangzhou"})
    record = audit.history(f"customer#{cus}")[0]
    assert (record.actor, record.action) == ("agent1", "customer.edit")
    assert record.details["attributes_removed"] == ["tier"] and record.details["tags_removed"] == [
        "wholesale"
    ]
    for bad in (
        {},
        {"attributes": {"1bad key": "x"}},
        {"tags": {"add": ["a"], "remove": ["a"]}},
        {"other": 1},
    ):
        assert patch(agent1, f"/customers/{cus}", bad).status_code == 400, bad
    assert patch(agent1, "/customers/cus_missing", {"attributes": {"a": "b"}}).status_code == 404


def test_a_merged_away_customer_cannot_be_edited(api):
    target = open_conversation("+15550300010").customer_id
    source = open_conversation("+15550300011").customer_id
    assert (
        api("supervisor").post(f"/customers/{target}/merge", {"source_customer_id": source}).status_code
        == 200
    )
    r = patch(api("agent1"), f"/customers/{source}", {"tags": {"add": ["x"]}})
    assert r.status_code == 409 and target in body(r)["message"]


def test_the_customer_360_has_profile_identities_conversations_tickets_and_orders(api):
    from chalicelib.messages import CustomerHints

    phone = CustomerHints(phone="+15550300012", verified=("phone",))
    first = open_conversation("+15550300012", "first question", hints=phone)
    agent1 = api("agent1")
    assert agent1.post(f"/conversations/{first.conversation_id}/close").status_code == 200
    second = open_conversation("+15550300012", "second question", channel="sms")
    cus = first.customer_id
    view = body(agent1.get(f"/customers/{cus}"))
    assert view["customer"]["customer_id"] == cus
    assert view["customer"]["phones"] == ["+155****0012"]  # an agent sees contacts masked
    # the SMS sender and the verified phone are one address: listed once, as the channel
    assert {i["identity_key"] for i in view["identities"]} == {"sms#default#+155****0012"}
    assert [c["conversation_id"] for c in view["conversations"]] == [
        second.conversation_id,
        first.conversation_id,
    ]
    assert view["tickets"] == []
    assert view["orders"] == [] and view["orders_error"]["reason"] == "not_configured"
    assert agent1.get("/customers/cus_missing").status_code == 404

    from chalicelib import workspace

    page = workspace.customer_360(cus, limit=1)
    rest = workspace.customer_360(cus, page["next_cursor"], limit=1)
    assert [c["conversation_id"] for c in page["conversations"] + rest["conversations"]] == [
        second.conversation_id,
        first.conversation_id,
    ]
    assert r_ok(agent1.get(f"/customers/{cus}?cursor={page['next_cursor']}"))


def r_ok(r):
    return r.status_code == 200 and "conversations" in body(r)
