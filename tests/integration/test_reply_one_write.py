"""An agent's reply is one TransactWriteItems (the conversation's next place and the message, all or
nothing) when the request already read the conversation; a race with anything that moved the
conversation since that read falls back to the two-write reply, and a refusal stays a refusal."""

from __future__ import annotations

import pytest

from chalicelib.conversations import service as conversations
from chalicelib.conversations.models import Conversation
from chalicelib.identity import service as identity
from tests.support.ddbcount import DynamoCounter
from tests.support.factories import inbound

TARGET = ("sms", "default", "+15550990001")


def _waiting(text: str = "is it in stock?") -> Conversation:
    msg = inbound("sms", TARGET[2], text)
    return conversations.record_inbound(
        identity.resolve(msg).customer, msg, "presales", mailbox=False
    ).conversation


def _reply(
    known: Conversation | None, agent: str = "agent1", text: str = "yes"
) -> tuple[Conversation, object, bool]:
    return conversations.append_reply(
        known.conversation_id if known else "",
        agent,
        text,
        TARGET,
        may_take_over=False,
        mailbox=False,
        known=known,
    )


def test_a_reply_to_a_conversation_read_in_the_request_is_one_request(aws):
    known = conversations.get(_waiting().conversation_id, consistent=True)
    counter = DynamoCounter()
    counter.install()
    try:
        with counter.window() as tally:
            after, _message, first = _reply(known)
    finally:
        counter.uninstall()
    # The reply is one transaction (the conversation and the message); the analytics count leaves
    # through the analytics queue (chalicelib/analytics/outbox.py), no DynamoDB request here.
    assert tally.requests == {"TransactWriteItems": 1}
    assert len(tally.items) == 2
    stored = conversations.get(known.conversation_id, consistent=True)
    assert (stored.next_seq, stored.assignee_id, stored.queue_key, stored.preview) == (
        2,
        "agent1",
        None,
        "yes",
    )
    assert (after.next_seq, after.assignee_id, after.queue_key, after.dequeued_from) == (
        2,
        "agent1",
        None,
        stored.dequeued_from,
    )
    assert first and after.first_responded_at == stored.first_responded_at
    assert [(m.seq, m.direction) for m in conversations.messages_of(known.conversation_id)] == [
        (1, "in"),
        (2, "out"),
    ]


def test_a_customer_message_between_the_read_and_the_reply_puts_the_reply_after_it(aws):
    known = conversations.get(_waiting().conversation_id, consistent=True)
    _waiting("hello? anyone?")  # the same customer writes again: next_seq moves on
    after, _message, _ = _reply(known)
    seqs = [(m.seq, m.direction) for m in conversations.messages_of(known.conversation_id)]
    assert seqs == [(1, "in"), (2, "in"), (3, "out")]
    assert after.next_seq == 3


def test_a_conversation_someone_else_claimed_meanwhile_is_still_refused(aws):
    known = conversations.get(_waiting().conversation_id, consistent=True)
    _reply(conversations.get(known.conversation_id, consistent=True), agent="agent2", text="mine")
    with pytest.raises(conversations.NotAllowed):
        _reply(known, agent="agent1")
    closed = conversations.close(known.conversation_id, "agent2")
    with pytest.raises(conversations.NotAllowed):
        _reply(closed, agent="agent2")
    assert [m.text for m in conversations.messages_of(known.conversation_id) if m.direction == "out"] == [
        "mine"
    ]
