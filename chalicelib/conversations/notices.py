"""Notices the company sends first (proactive service): stored in the customer's open conversation
like any outbound message, or — when none is open — in a conversation of their own, recorded closed,
so a notice never puts anything in an agent's queue; the customer's reply opens a conversation as
usual and the 360 view shows the notice before it."""

from __future__ import annotations

from pynamodb.exceptions import UpdateError

from chalicelib.conversations.inbound import channel_key, condition_failed, new_conversation_id
from chalicelib.conversations.models import CLOSED, OPEN, Conversation, Message
from chalicelib.conversations.service import PREVIEW_CHARS, save_outbound
from chalicelib.identity.models import Customer
from chalicelib.messages import iso, utcnow

AUTHOR = "proactive"


def store_notice(
    customer: Customer, target: tuple[str, str, str], text: str, *, group_id: str, mailbox: bool
) -> tuple[Conversation, Message]:
    """Store a notice as the next outbound message (status queued) of the customer's open
    conversation, else of a new closed conversation. One UpdateItem (or PutItem) + one PutItem."""
    now = iso(utcnow())
    if customer.open_conversation_id:
        conversation = Conversation(customer.open_conversation_id)
        try:
            conversation.update(
                actions=[
                    Conversation.next_seq.add(1),
                    Conversation.last_message_at.set(now),
                    Conversation.preview.set(text[:PREVIEW_CHARS]),
                ],
                condition=Conversation.status == OPEN,
            )
            return conversation, save_outbound(conversation, target, text, AUTHOR, now, mailbox=mailbox)
        except UpdateError as exc:
            if not condition_failed(exc):
                raise  # closed meanwhile: the notice gets a conversation of its own
    channel, account, user_id = target
    conversation = Conversation(
        new_conversation_id(),
        customer_id=customer.customer_id,
        status=CLOSED,
        group_id=group_id,
        created_at=now,
        last_message_at=now,
        closed_at=now,
        closed_by=AUTHOR,
        last_channel=channel,
        last_account=account,
        last_channel_user_id=user_id,
        channels={channel},
        preview=text[:PREVIEW_CHARS],
        replies_since={channel_key(channel, account): 0},
        next_seq=1,
    )
    conversation.save(condition=Conversation.conversation_id.does_not_exist())
    return conversation, save_outbound(conversation, target, text, AUTHOR, now, mailbox=mailbox)
