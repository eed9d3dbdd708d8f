"""Messages to a ticket's customer that no agent typed (progress, CSAT survey, status answers),
through the same outbound path as agents' replies: stored as the next message of a conversation
(status ``queued``) and put on the outbound FIFO queue, where the sender delivers it on the channel.

Which conversation: the one asked for (e.g. where the customer just wrote), else a linked open
conversation, else the customer's open conversation, else their most recent one (its channel is the
customer's last channel; the message joins that closed conversation's timeline). The channel's
reply rules are respected: outside WeChat's 48 h window, for instance, nothing is sent and the
caller records why. Unlike an agent's reply, such a message takes no owner, is no first response and
leaves the preview alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pynamodb.exceptions import DoesNotExist, UpdateError
from pynamodb.expressions.update import Action

from chalicelib import channels
from chalicelib.conversations import service as conversations
from chalicelib.conversations.models import OPEN, Conversation, Message
from chalicelib.identity import service as identity
from chalicelib.messages import iso, utcnow
from chalicelib.outbound import service as outbound


@dataclass(frozen=True)
class Notice:
    sent: bool
    conversation_id: str | None = None
    seq: int | None = None
    channel: str | None = None
    reason: str | None = None  # why nothing was sent


def _get(conversation_id: str) -> Conversation | None:
    try:
        return Conversation.get(conversation_id, consistent_read=True)
    except DoesNotExist:
        return None


def pick_conversation(
    customer_id: str | None, linked: list[str] | set[str] | None = None, prefer: str | None = None
) -> Conversation | None:
    """Where a message to the customer goes (see the module docstring). GetItems, one Query at most."""
    if prefer and (c := _get(prefer)) is not None:
        return c
    for cid in sorted(linked or ()):
        c = _get(cid)
        if c is not None and c.status == OPEN:
            return c
    if not customer_id:
        return None
    try:
        customer = identity.get_customer(customer_id)
    except KeyError:
        return None
    if customer.open_conversation_id and (c := _get(customer.open_conversation_id)) is not None:
        return c
    recent = list(Conversation.by_customer.query(customer.customer_id, scan_index_forward=False, limit=1))
    return recent[0] if recent else None


def send(
    customer_id: str | None,
    text: str,
    *,
    author: str = "system",
    linked: list[str] | set[str] | None = None,
    prefer: str | None = None,
    quick_replies: list[dict[str, str]] | None = None,
) -> Notice:
    """Queue ``text`` to the customer; never raises for an unreachable customer (Notice.reason).
    ``quick_replies`` ride along on the stored message (buttons where the channel shows them)."""
    conversation = pick_conversation(customer_id, linked, prefer)
    if conversation is None:
        return Notice(False, reason="the customer has no conversation to write to")
    try:
        target = outbound.choose_target(conversation)
    except outbound.NoSuchChannel as exc:
        return Notice(False, conversation.conversation_id, reason=str(exc))
    adapter = channels.get(target[0])
    if not adapter.can_reply:
        return Notice(False, conversation.conversation_id, reason=f"cannot write on {target[0]}")
    rules = outbound.reply_rules(adapter, target[1], None)
    now_dt = utcnow()
    try:
        conversations.check_reply_rules(conversation, target[0], target[1], rules, now_dt)
    except (conversations.ReplyWindowClosed, conversations.ReplyLimitReached) as exc:
        return Notice(False, conversation.conversation_id, channel=target[0], reason=str(exc))
    message = _append(conversation, author, text, target, adapter.mailbox, rules, now_dt, quick_replies)
    if message is None:
        return Notice(False, conversation.conversation_id, channel=target[0], reason="reply limit reached")
    outbound.enqueue(conversation, message, target, text, author)
    return Notice(True, conversation.conversation_id, int(message.seq), target[0])


def _append(
    conversation: Conversation,
    author: str,
    text: str,
    target: tuple[str, str, str],
    mailbox: bool,
    rules: conversations.ReplyRules,
    now_dt: datetime,
    quick_replies: list[dict[str, str]] | None = None,
) -> Message | None:
    """The next sequence number (conditional: the conversation exists, the channel's per-message
    limit holds), then the message. None if the limit was reached meanwhile."""
    channel, account, _ = target
    key = conversations.channel_key(channel, account)
    now = iso(utcnow())
    condition = Conversation.conversation_id.exists()
    extra: list[Action] = []
    if rules.per_inbound is not None:
        condition &= Conversation.replies_since[key].does_not_exist() | (
            Conversation.replies_since[key] < rules.per_inbound
        )
        extra.append(Conversation.replies_since[key].set((Conversation.replies_since[key] | 0) + 1))
    updated = Conversation(conversation.conversation_id)
    try:
        updated.update(
            actions=[*extra, Conversation.next_seq.add(1), Conversation.last_message_at.set(now)],
            condition=condition,
        )
    except UpdateError as exc:
        if getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException":
            return None
        raise
    message = conversations.save_outbound(
        updated, target, text, author, now, mailbox=mailbox, quick_replies=quick_replies
    )
    return message
