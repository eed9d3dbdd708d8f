"""Each erasure handler finds what its table holds of a customer by keys and indexes and removes it
(chalicelib/privacy/registry.py): tickets and their history, score cards, bot sessions, unanswered
questions in the KB stats, outgoing webhook payloads, change records in the audit trail; anonymous
counters and other customers' data stay. ``erasure.run`` directly (the job is tested end to end in
test_erasure.py)."""

from __future__ import annotations

import json

import boto3

from chalicelib.audit import service as audit
from chalicelib.bot.models import BotSession, session_key
from chalicelib.kb.models import Stat
from chalicelib.messages import iso, utcnow
from chalicelib.privacy import erasure
from chalicelib.quality.models import ScoreCard
from chalicelib.router import service as router
from chalicelib.tickets.models import Ticket, TicketEvent
from chalicelib.webhooks.models import Subscription, WebhookMessage
from tests.support.factories import inbound

WORDS = "the hinge of my wardrobe snapped off"
OTHER = "does the sofa come in green"


def _customer(phone: str, text: str) -> tuple[str, str]:
    stored = router.store(inbound("sms", phone, text))
    assert stored is not None
    return stored.conversation.customer_id, stored.conversation.conversation_id


def _stored_text() -> str:
    ddb, parts = boto3.client("dynamodb"), []
    for table in ddb.list_tables()["TableNames"]:
        for page in ddb.get_paginator("scan").paginate(TableName=table):
            parts += [json.dumps(i, ensure_ascii=False) for i in page["Items"]]
    return "\n".join(parts)


def _seed(customer_id: str, conversation_id: str, text: str, tag: str) -> None:
    now = iso(utcnow())
    Ticket(
        f"tkt_{tag}",
        subject=f"ticket about {text}",
        requester_id=customer_id,
        created_at=now,
        updated_at=now,
        csat_score=2,
        csat_comment=f"csat {tag}",
    ).save()
    Ticket(
        f"tkt_{tag}_child",
        subject=f"child {tag}",
        requester_id=customer_id,
        parent_id=f"tkt_{tag}",
        created_at=now,
        updated_at=now,
    ).save()
    TicketEvent(f"tkt_{tag}", f"{now}#1", kind="comment", actor="agent1", text=f"comment {tag}").save()
    ScoreCard(
        f"card#{conversation_id}",
        conversation_id=conversation_id,
        closed_at=now,
        day=now[:10],
        score=80,
        penalties=[{"rule_id": f"quote {tag}"}],
    ).save()
    BotSession(session_key(conversation_id), conversation_id=conversation_id, question=text).save()
    Stat(f"miss#{now[:10]}", f"{now}#{tag}", question=text, language="en").save()
    Subscription("subscriptions", "message.created#ep1").save()
    WebhookMessage(
        "endpoint#ep1",
        f"message#{tag}",
        msg_id=tag,
        event_type="message.created",
        payload={"data": {"conversation_id": conversation_id, "text": text}},
        created_at=now,
        updated_at=now,
    ).save()
    audit.record(f"customer#{customer_id}", "agent1", "edit_customer", {"attributes": f"attr {tag}"})
    audit.viewed("agent1", "customer", [customer_id])


def test_every_handler_removes_what_its_table_holds_of_the_customer_and_nothing_of_others(aws) -> None:
    gone, gone_conv = _customer("+14155550101", WORDS)
    kept, kept_conv = _customer("+14155550102", OTHER)
    _seed(gone, gone_conv, WORDS, "gone")
    _seed(kept, kept_conv, OTHER, "kept")
    before = _stored_text()
    for marker in (WORDS, "csat gone", "child gone", "comment gone", "quote gone", "attr gone"):
        assert marker in before, marker

    erased = erasure.run(gone)

    after = _stored_text()
    for marker in (WORDS, "csat gone", "child gone", "comment gone", "quote gone", "attr gone", "4155550101"):
        assert marker not in after, marker
    for marker in (OTHER, "csat kept", "child kept", "comment kept", "quote kept", "attr kept", "4155550102"):
        assert marker in after, marker
    assert erased["tickets"] == 2 and erased["ticket-events"] == 1 and erased["quality"] == 1
    assert erased["state"] == 1 and erased["kb-stats"] == 1 and erased["webhooks"] == 1
    actions = [r.action for r in audit.history(f"customer#{gone}")]
    assert "edit_customer" not in actions and {"view", "customer.erased"} <= set(actions)
    assert erasure.run(gone)["messages"] == 0  # a redelivered job finds nothing left


def test_a_stored_message_expires_after_the_retention_period_and_a_loaded_one_keeps_its_own(aws) -> None:
    import time

    from chalicelib.conversations.models import Message

    _, cid = _customer("+14155550103", "is the shop open on sunday")
    [stored] = [m for m in Message.query(cid) if m.direction == "in"]
    two_years = 730 * 86400
    assert abs(stored.expires_at - (time.time() + two_years)) < 120
    assert Message.get(cid, stored.seq).expires_at == stored.expires_at


def test_an_erasure_is_announced_to_webhook_endpoints_with_ids_only(aws, monkeypatch) -> None:
    from chalicelib.webhooks import service as webhooks

    monkeypatch.setenv("OMNIFLOW_WEBHOOKS_ALLOW_LOOPBACK", "1")  # no DNS here: a receiver on this machine
    endpoint = webhooks.create_endpoint("http://127.0.0.1:9/hooks", ["customer.erased"], "admin")
    webhooks.reset()
    gone, _ = _customer("+14155550104", "cancel my membership please")
    erasure.run(gone)
    sent = [
        m for m in WebhookMessage.query(f"endpoint#{endpoint['endpoint_id']}") if m.sk.startswith("message#")
    ]
    assert [(m.event_type, m.payload["data"]["customer_id"]) for m in sent] == [("customer.erased", gone)]
    assert "membership" not in json.dumps(sent[0].payload) and "4155550104" not in json.dumps(sent[0].payload)
