"""Conversations: exactly once, in order, one open conversation per customer, one owner."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from chalicelib.conversations import service as conversations
from chalicelib.conversations.models import Conversation
from chalicelib.identity.models import Customer
from chalicelib.router import service as router
from tests.support.factories import inbound


def test_a_redelivered_message_is_stored_once(aws):
    msg = inbound("wechat", "openid-1", "hello", msg_id="MSG-1")
    first = router.store(msg, receive_count=1)
    assert router.store(msg, receive_count=2) is None  # redelivery: the marker is found first
    again = router.store(msg, receive_count=1)  # even without the hint, the transaction refuses it
    assert again is not None and again.duplicate
    assert [m.text for m in conversations.messages_of(first.conversation.conversation_id)] == ["hello"]


def test_messages_keep_their_order_within_a_conversation(aws):
    for i in range(20):
        router.store(inbound("sms", "+15550001234", f"part {i}"))
    cid = Customer.get(
        router.store(inbound("sms", "+15550001234", "last")).conversation.customer_id
    ).open_conversation_id
    texts = [m.text for m in conversations.messages_of(cid)]
    assert texts == [f"part {i}" for i in range(20)] + ["last"]


def test_one_open_conversation_continues_across_channels_and_a_closed_one_is_not_reopened(aws):
    from chalicelib.messages import CustomerHints

    phone = CustomerHints(phone="+15557654321", verified=("phone",))
    sms = router.store(inbound("sms", "+15557654321", "on sms", hints=phone))
    web = router.store(inbound("web", "v_1", "on the website", hints=phone))
    assert web.conversation.conversation_id == sms.conversation.conversation_id
    assert web.conversation.channels == {"sms", "web"}
    conversations.close(sms.conversation.conversation_id, "agent1")
    later = router.store(inbound("sms", "+15557654321", "back again", hints=phone))
    assert later.new_conversation
    assert later.conversation.conversation_id != sms.conversation.conversation_id
    assert (
        Customer.get(later.conversation.customer_id).open_conversation_id
        == later.conversation.conversation_id
    )


def test_a_new_conversation_waits_in_the_group_its_first_message_asks_for(aws):
    """No routing rule saved: intent detection picks the group (seed 002: after-sales questions
    must not land in pre-sales)."""
    from chalicelib.agents import service as agents

    for group in ("presales", "aftersales", "technical", "logistics", "complaints"):
        agents.put_group(group, group.title())
    cases = {
        "+15550000002": ("我上周买的耳机坏了，能换货吗", "aftersales"),
        "+15550000003": ("How much is the blue jacket? Any discount this week?", "presales"),
        "+15550000004": ("我的快递三天了还没到，单号查不到", "logistics"),
        "+15550000005": ("The app keeps crashing when I log in", "technical"),
    }
    stored = {phone: router.store(inbound("sms", phone, text)) for phone, (text, _) in cases.items()}
    assert {p: s.conversation.group_id for p, s in stored.items()} == {p: g for p, (_, g) in cases.items()}
    after = stored["+15550000002"].conversation
    assert after.routed_by["intent"].startswith("aftersales")
    queued = [c.conversation_id for c in conversations.queue("aftersales")[0]]
    assert queued == [after.conversation_id]


def test_exactly_one_agent_wins_a_claim_race(aws):
    cid = router.store(inbound("sms", "+15550000004")).conversation.conversation_id

    from chalicelib.assignment import service as assignment

    def claim(agent: str) -> str | None:
        try:
            assignment.claim(cid, agent)
            return agent
        except conversations.NotAllowed:
            return None

    with ThreadPoolExecutor(8) as pool:
        winners = [w for w in pool.map(claim, [f"agent{i}" for i in range(8)]) if w]
    assert len(winners) == 1
    conversation = Conversation.get(cid)
    assert conversation.assignee_id == winners[0] and conversation.queue_key is None
    assert [c.conversation_id for c in conversations.owned_by(winners[0])[0]] == [cid]


def test_closing_twice_is_refused(aws):
    cid = router.store(inbound("sms", "+15550000005")).conversation.conversation_id
    conversations.close(cid, "agent1")
    with pytest.raises(conversations.NotAllowed):
        conversations.close(cid, "agent1")


def test_a_router_that_died_between_the_marker_and_the_message_is_completed_at_the_same_place(aws):
    # An older router wrote the marker and the message separately; one died between the two.
    import time

    from chalicelib.conversations import inbound as inbound_path
    from chalicelib.conversations.models import Message
    from chalicelib.messages import iso, utcnow

    msg = inbound("sms", "+15550000006", "half-written", msg_id="SM-crash")
    cid = router.store(inbound("sms", "+15550000006", "before")).conversation.conversation_id
    taken = inbound_path._advance(cid, msg, iso(utcnow()))
    Message(
        inbound_path.dedupe_marker_key(msg.dedupe_key),
        0,
        created_at=iso(utcnow()),
        stored_at=f"{cid}#{int(taken.next_seq)}",
        expires_at=int(time.time()) + 3600,
    ).save()
    router.store(inbound("sms", "+15550000006", "after"))
    redelivered = router.store(msg, receive_count=2)  # SQS redelivers it: the marker alone is no proof
    assert redelivered is not None and redelivered.message is not None
    assert int(redelivered.message.seq) == int(taken.next_seq)
    assert [m.text for m in conversations.messages_of(cid)] == ["before", "half-written", "after"]
    assert router.store(msg, receive_count=3) is None


def test_a_router_that_dies_while_storing_leaves_nothing_and_the_redelivery_stores_the_message_once(
    aws, monkeypatch
):
    from chalicelib import db
    from chalicelib.conversations.models import Message

    msg = inbound("sms", "+15550000016", "lost in flight", msg_id="SM-crash-2")
    cid = router.store(inbound("sms", "+15550000016", "before")).conversation.conversation_id

    def die(self):
        raise RuntimeError("Lambda timed out")

    monkeypatch.setattr(db._MappedTransactWrite, "_commit", die)
    with pytest.raises(RuntimeError):
        router.store(msg)
    monkeypatch.undo()
    with pytest.raises(Message.DoesNotExist):  # marker and message are one write: neither is there
        Message.get(f"dedupe#{msg.dedupe_key}", 0)
    assert router.store(msg, receive_count=2) is not None
    router.store(inbound("sms", "+15550000016", "after"))
    assert router.store(msg, receive_count=3) is None
    assert [m.text for m in conversations.messages_of(cid)] == ["before", "lost in flight", "after"]
