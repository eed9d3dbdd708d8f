"""Conversation state, the agent's side: queue agent replies (within the channel's reply rules),
claim and close, notes, the inbox's queries, delivery reports. Every write that could race is
conditional. The customer's side (inbound messages, opening a conversation) is ``inbound``; its
names are re-exported here, the capability's public face.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist, UpdateError
from pynamodb.expressions.update import Action

from chalicelib import events
from chalicelib.agents import ranking
from chalicelib.config import settings
from chalicelib.conversations.inbound import (
    BOT_ACTIVE,
    PREVIEW_CHARS,
    ConversationClosed,
    Placement,
    Stored,
    activity_dims,
    already_stored,
    append_system_event,
    channel_key,
    condition_failed,
    dedupe_marker_key,
    mailbox_key,
    new_conversation_id,
    preview_of,
    record_inbound,
    seconds_between,
    spoken_by_agent,
    stored_where,
)
from chalicelib.conversations.models import CLOSED, OPEN, Conversation, Message
from chalicelib.db import as_dict
from chalicelib.errors import Conflict, NotFound
from chalicelib.events import Activity
from chalicelib.identity.models import Customer
from chalicelib.messages import DeliveryStatus, iso, utcnow


class NotAllowed(Conflict):
    """A conditional write refused the action (e.g. someone else owns the conversation)."""


def dequeue_actions() -> list[Action]:
    """Take a conversation out of its queue within an UpdateItem, copying which queue it was in
    (or "") to ``dequeued_from`` first, so the caller can count it out (assignment.left_queue)."""
    return [
        Conversation.dequeued_from.set(Conversation.queue_key | ""),
        Conversation.queue_key.remove(),
        Conversation.queue_rank.remove(),
        Conversation.queued_at.remove(),
    ]


def get(conversation_id: str, *, consistent: bool = False) -> Conversation:
    """``consistent``: a strongly consistent read, for a request that goes on to write the
    conversation under a condition (its later consistent reads are then answered by the identity
    map instead of asking DynamoDB again)."""
    try:
        return Conversation.get(conversation_id, consistent_read=consistent)
    except DoesNotExist as exc:
        raise NotFound(conversation_id) from exc


@dataclass(frozen=True)
class ReplyRules:
    """A channel's limits on agent replies (see ChannelAdapter.reply_window/replies_per_inbound)."""

    window_seconds: int | None = None
    per_inbound: int | None = None
    template: bool = False  # an approved template may go out whatever the window


class ReplyWindowClosed(Conflict):
    """Free text is no longer allowed on this channel; a template is needed. ``details`` carries
    ``last_inbound_at``; whoever knows the channel adds its ``templates`` (outbound.reply)."""

    code = "template_required"

    def __init__(self, channel: str, account: str, last_inbound_at: str | None) -> None:
        when = last_inbound_at or "never"
        super().__init__(
            f"the {channel} reply window has closed (the customer last wrote {when})",
            details={"last_inbound_at": last_inbound_at},
        )
        self.channel, self.account, self.last_inbound_at = channel, account, last_inbound_at


class ReplyLimitReached(Conflict):
    """The channel allows no more replies until the customer writes again."""

    code = "reply_limit_reached"


def check_reply_rules(
    conversation: Conversation, channel: str, account: str, rules: ReplyRules, now: datetime
) -> None:
    """Raise ReplyWindowClosed / ReplyLimitReached if the channel's rules forbid a reply now. Pure."""
    key = channel_key(channel, account)
    if rules.window_seconds is not None and not rules.template:
        last = as_dict(conversation.inbound_at).get(key)
        if not last or last < iso(now - timedelta(seconds=rules.window_seconds)):
            raise ReplyWindowClosed(channel, account, last)
    if (
        rules.per_inbound is not None
        and int(as_dict(conversation.replies_since).get(key) or 0) >= rules.per_inbound
    ):
        raise ReplyLimitReached(f"{channel} allows {rules.per_inbound} replies per customer message")


def append_reply(
    conversation_id: str,
    agent_id: str,
    text: str,
    target: tuple[str, str, str],
    *,
    may_take_over: bool,
    mailbox: bool,
    rules: ReplyRules = ReplyRules(),
    known: Conversation | None = None,
    quality: dict[str, Any] | None = None,
) -> tuple[Conversation, Message, bool]:
    """Store an agent's reply as the next message (status queued). The replying agent becomes the
    owner if nobody owns the conversation. The channel's reply window and per-message limit are
    part of the write's condition, so two agents racing cannot exceed them.
    ``known``: the conversation as this request read it; then the conversation's update and the
    message go in one TransactWriteItems (see ``_reply_in_one_write``).
    ``quality``: the reply's quality score card, stored on the message (chalicelib.quality).
    Returns (conversation, message, first_response)."""
    now_dt = utcnow()
    now = iso(now_dt)
    channel, account, _ = target
    key = channel_key(channel, account)
    conversation = Conversation(conversation_id)
    owner_ok = Conversation.assignee_id.does_not_exist() | (Conversation.assignee_id == agent_id)
    condition = (Conversation.status == OPEN) & owner_ok if not may_take_over else Conversation.status == OPEN
    extra: list[Action] = []
    if rules.window_seconds is not None and not rules.template:
        condition &= Conversation.inbound_at[key] >= iso(now_dt - timedelta(seconds=rules.window_seconds))
    if rules.per_inbound is not None:
        condition &= Conversation.replies_since[key].does_not_exist() | (
            Conversation.replies_since[key] < rules.per_inbound
        )
        extra.append(Conversation.replies_since[key].set((Conversation.replies_since[key] | 0) + 1))
    actions = [
        *extra,
        Conversation.last_message_at.set(now),
        Conversation.first_responded_at.set(Conversation.first_responded_at | now),
        Conversation.assignee_id.set(Conversation.assignee_id | agent_id),
        Conversation.owner_key.set(Conversation.assignee_id | agent_id),
        Conversation.assigned_at.set(Conversation.assigned_at | now),
        *dequeue_actions(),
        Conversation.preview.set(text[:PREVIEW_CHARS]),
    ]

    def refused(exc: Exception) -> Exception:
        current = Conversation.get(conversation_id, consistent_read=True)
        if current.status == OPEN and (may_take_over or current.assignee_id in (None, agent_id)):
            check_reply_rules(current, channel, account, rules, now_dt)  # raises the precise reason
        return NotAllowed("conversation is closed or owned by another agent")

    if known is not None:
        counted = key if rules.per_inbound is not None else None
        done = _reply_in_one_write(
            known, actions, condition, target, text, agent_id, now, mailbox, counted, refused, quality
        )
        if done is not None:
            return _reply_counted(*done, agent_id, channel)
    try:
        conversation.update(actions=[*actions, Conversation.next_seq.add(1)], condition=condition)
    except UpdateError as exc:
        if condition_failed(exc):
            raise refused(exc) from exc
        raise
    message = save_outbound(conversation, target, text, agent_id, now, mailbox=mailbox, quality=quality)
    first = conversation.first_responded_at == now
    return _reply_counted(conversation, message, first, agent_id, channel)


def _reply_counted(
    conversation: Conversation, message: Message, first: bool, agent_id: str, channel: str
) -> tuple[Conversation, Message, bool]:
    """Announce the stored reply to the analytics (a first one with its response time and whether
    it met the first-response deadline)."""
    seconds: dict[str, int] = {}
    flags: dict[str, bool] = {}
    answered = conversation.first_responded_at
    if first and answered:
        seconds["first_response"] = seconds_between(conversation.created_at, answered)
        if conversation.first_response_due:
            flags["sla_met"] = answered <= conversation.first_response_due
    events.publish(
        Activity(
            f"msg#{conversation.conversation_id}#{int(message.seq)}",
            "message_out",
            message.created_at,
            activity_dims(conversation, channel, agent_id),
            seconds,
            flags,
        )
    )
    return conversation, message, first


def _reply_in_one_write(
    known: Conversation,
    actions: list[Action],
    condition: Any,
    target: tuple[str, str, str],
    text: str,
    agent_id: str,
    now: str,
    mailbox: bool,
    counted: str | None,
    refused: Callable[[Exception], Exception],
    quality: dict[str, Any] | None = None,
) -> tuple[Conversation, Message, bool] | None:
    """The reply as one TransactWriteItems: the conversation's update takes the place after
    ``known.next_seq`` and the message is put there, all or nothing (one request where an UpdateItem
    and a PutItem were two). The write also requires the fields the returned state is derived from
    (next_seq, owner, queue) to be as ``known`` has them; if any moved meanwhile, None: the caller
    makes the two-write reply, which reads what the update stored."""
    from pynamodb.exceptions import TransactWriteError

    from chalicelib import db

    seq = int(known.next_seq or 0)
    unchanged = (
        Conversation.next_seq == seq if known.next_seq is not None else Conversation.next_seq.does_not_exist()
    )
    for attr, value in (
        (Conversation.assignee_id, known.assignee_id),
        (Conversation.queue_key, known.queue_key),
    ):
        unchanged &= attr == value if value is not None else attr.does_not_exist()
    after = Conversation.from_raw_data(known.serialize(null_check=False))
    owner = known.assignee_id or agent_id
    after.next_seq, after.last_message_at, after.preview = seq + 1, now, text[:PREVIEW_CHARS]
    after.first_responded_at = known.first_responded_at or now
    after.assignee_id, after.owner_key, after.assigned_at = owner, owner, known.assigned_at or now
    after.dequeued_from, after.queue_key, after.queue_rank, after.queued_at = (
        known.queue_key or "",
        None,
        None,
        None,
    )
    if counted is not None:  # the channel limits replies per customer message: one more
        since = as_dict(known.replies_since)
        after.replies_since = {**since, counted: int(since.get(counted) or 0) + 1}
    message = outbound_message(after, target, text, agent_id, now, mailbox=mailbox, quality=quality)
    try:
        with db.transact_write() as tx:
            tx.update(
                Conversation(known.conversation_id),
                actions=[*actions, Conversation.next_seq.set(seq + 1)],
                condition=condition & unchanged,
            )
            tx.save(message, condition=Message.seq.does_not_exist())
    except TransactWriteError as exc:
        reasons = exc.cancellation_reasons or []
        # PynamoDB sends the puts before the updates: [the message, the conversation]
        if len(reasons) != 2 or reasons[1] is None or reasons[1].code != "ConditionalCheckFailed":
            raise
        current = Conversation.get(known.conversation_id, consistent_read=True)
        if (current.next_seq, current.assignee_id, current.queue_key) != (
            known.next_seq,
            known.assignee_id,
            known.queue_key,
        ):
            return None  # it moved since this request read it: the two-write reply
        raise refused(exc) from exc
    return after, message, after.first_responded_at == now


def save_outbound(
    conversation: Conversation,
    target: tuple[str, str, str],
    text: str,
    author_id: str,
    now: str,
    *,
    mailbox: bool,
    quick_replies: list[dict[str, str]] | None = None,
    quality: dict[str, Any] | None = None,
) -> Message:
    """Store an outbound message (status queued) at the sequence number ``conversation`` — the state
    an UpdateItem that took the number returned — now holds, with what the channel's sender needs
    to answer in context: the last inbound's reply context (reply tokens) and time."""
    message = outbound_message(
        conversation,
        target,
        text,
        author_id,
        now,
        mailbox=mailbox,
        quick_replies=quick_replies,
        quality=quality,
    )
    message.save(condition=Message.seq.does_not_exist())
    return message


def outbound_message(
    conversation: Conversation,
    target: tuple[str, str, str],
    text: str,
    author_id: str,
    now: str,
    *,
    mailbox: bool,
    quick_replies: list[dict[str, str]] | None = None,
    quality: dict[str, Any] | None = None,
) -> Message:
    """The outbound message ``save_outbound`` stores (not saved)."""
    channel, account, user_id = target
    reply_context = as_dict(conversation.last_reply_context) if channel == conversation.last_channel else {}
    last_inbound = as_dict(conversation.inbound_at).get(channel_key(channel, account))
    if last_inbound:
        reply_context["last_inbound_at"] = last_inbound
    return Message(
        conversation.conversation_id,
        conversation.next_seq,
        direction="out",
        channel=channel,
        account=account,
        channel_user_id=user_id,
        type="text",
        text=text,
        author_id=author_id,
        created_at=now,
        status="queued",
        reply_context=reply_context or None,
        mailbox_key=mailbox_key(channel, account, user_id) if mailbox else None,
        quick_replies=quick_replies or None,
        quality=quality,
    )


def close(conversation_id: str, agent_id: str) -> Conversation:
    """Close the conversation and free the customer's open-conversation slot."""
    now = iso(utcnow())
    conversation = Conversation(conversation_id)
    try:
        conversation.update(
            actions=[
                Conversation.status.set(CLOSED),
                Conversation.closed_at.set(now),
                Conversation.closed_by.set(agent_id),
                *dequeue_actions(),
                Conversation.owner_key.remove(),
                Conversation.bot_key.remove(),
            ],
            condition=Conversation.status == OPEN,
        )
    except UpdateError as exc:
        if condition_failed(exc):
            raise NotAllowed("conversation is already closed") from exc
        raise
    try:
        Customer(conversation.customer_id).update(
            actions=[Customer.open_conversation_id.remove()],
            condition=Customer.open_conversation_id == conversation_id,
        )
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
    events.publish(
        Activity(
            f"close#{conversation_id}#{now}",
            "conversation_closed",
            now,
            activity_dims(conversation, conversation.last_channel),
            {"resolution": seconds_between(conversation.created_at, now)}
            | (
                {"handle": seconds_between(conversation.assigned_at, now)} if conversation.assigned_at else {}
            ),
        )
    )
    events.publish(
        events.Announced(
            "conversation.closed",
            {
                "conversation_id": conversation_id,
                "customer_id": conversation.customer_id,
                "closed_by": agent_id,
                "closed_at": now,
            },
        )
    )
    return conversation


def set_status(conversation_id: str, seq: int, status: str, **fields: Any) -> None:
    """Record an outbound message's delivery state (queued → sent/sent_local/failed)."""
    actions: list[Action] = [Message.status.set(status)]
    for name, value in fields.items():
        attr = getattr(Message, name)
        actions.append(attr.set(value) if value is not None else attr.remove())
    Message(conversation_id, seq).update(actions=actions, condition=Message.seq.exists())


def messages_of(conversation_id: str, limit: int = 500) -> list[Message]:
    return list(Message.query(conversation_id, limit=limit))


def conversations_of(customer_id: str, limit: int = 20) -> list[Conversation]:
    return list(Conversation.by_customer.query(customer_id, scan_index_forward=False, limit=limit))


def queue(
    group_id: str, kind: str = "chat", limit: int = 50, cursor: dict[str, Any] | None = None
) -> tuple[list[Conversation], Any]:
    """A group's waiting conversations of one channel type, in the order they will be served."""
    result = Conversation.by_queue.query(
        ranking.queue_key(group_id, kind), limit=limit, last_evaluated_key=cursor
    )
    items = list(result)
    return items, result.last_evaluated_key


def owned_by(
    agent_id: str, limit: int = 50, cursor: dict[str, Any] | None = None
) -> tuple[list[Conversation], Any]:
    result = Conversation.by_owner.query(
        agent_id, scan_index_forward=False, limit=limit, last_evaluated_key=cursor
    )
    items = list(result)
    return items, result.last_evaluated_key


def add_note(conversation_id: str, author_id: str, text: str, *, mentions: set[str] | None = None) -> Message:
    """Store a private note (direction "note") as the conversation's next message, open or closed.
    Never sent and not a reply: no first response, reply window, limit, owner or preview change.
    (``conversations.actions.add_note`` adds @mention checks, feed events and the audit record.)"""
    conversation = Conversation(conversation_id)
    try:
        conversation.update(
            actions=[Conversation.next_seq.add(1)], condition=Conversation.conversation_id.exists()
        )
    except UpdateError as exc:
        if condition_failed(exc):
            raise NotFound(f"conversation {conversation_id}") from exc
        raise
    return save_note(conversation_id, int(conversation.next_seq), author_id, text, mentions=mentions)


def save_note(
    conversation_id: str, seq: int, author_id: str, text: str, *, mentions: set[str] | None = None
) -> Message:
    """Store a private note at ``seq``, a place the caller's own conversation write took
    (``Conversation.next_seq.add(1)`` among its actions: one write fewer than ``add_note``)."""
    note = Message(
        conversation_id,
        seq,
        direction="note",
        type="text",
        text=text,
        author_id=author_id,
        created_at=iso(utcnow()),
        mentions=mentions or None,
    )
    note.save(condition=Message.seq.does_not_exist())
    return note


DELIVERY_RANK = {"delivered": 1, "read": 2, "failed": 3}


def platform_ref(channel: str, account: str, platform_message_id: str) -> str:
    return f"{channel}#{account}#{platform_message_id}"


def record_delivery(channel: str, account: str, report: DeliveryStatus) -> int:
    """Apply a platform's delivery report to the message it is about (found by the platform's id on
    a sparse index). Reports only move forward (delivered → read); a failure is also the message's
    status. Returns how many messages were updated (0 for a message we did not send)."""
    rank = DELIVERY_RANK[report.state]
    lower = [state for state, r in DELIVERY_RANK.items() if r < rank]
    updated = 0
    for key in Message.by_platform_ref.query(platform_ref(channel, account, report.platform_message_id)):
        actions: list[Action] = [Message.delivery.set(report.state), Message.delivery_at.set(iso(utcnow()))]
        if report.state == "failed":
            error = report.error or "the platform reported a failure"
            actions += [Message.status.set("failed"), Message.error.set(error)]
        condition = Message.delivery.does_not_exist()
        if lower:
            condition |= Message.delivery.is_in(*lower)
        try:
            Message(key.conversation_id, key.seq).update(actions=actions, condition=condition)
            updated += 1
        except UpdateError as exc:
            if not condition_failed(exc):
                raise
    return updated


# ---- the bot's hold (chalicelib/bot) ---------------------------------------------------------------


def hand_over_from_bot(conversation_id: str, summary: dict[str, Any]) -> Conversation | None:
    """The bot lets go: the conversation joins its group's queue (in the order it arrived), its
    first-response deadline starts now, and ``summary`` (what the bot tried) is kept for the agent.
    Conditional on the bot still holding it; None when it no longer does (another delivery, an
    agent, a close got there first)."""
    now = iso(utcnow())
    current = Conversation.get(conversation_id, consistent_read=True)
    kind = current.channel_type or ranking.CHAT
    due = iso(utcnow() + timedelta(seconds=settings().first_response_seconds))
    conversation = Conversation(conversation_id)
    try:
        conversation.update(
            actions=[
                Conversation.bot_key.remove(),
                Conversation.bot_status.set("handed_off"),
                Conversation.bot_summary.set(summary),
                Conversation.queue_key.set(ranking.queue_key(current.group_id, kind)),
                Conversation.queue_rank.set(
                    ranking.queue_rank(current.priority, bool(current.vip), current.created_at)
                ),
                Conversation.queued_at.set(now),
                Conversation.first_response_due.set(due),
            ],
            condition=(Conversation.bot_key == BOT_ACTIVE)
            & (Conversation.status == OPEN)
            & Conversation.assignee_id.does_not_exist(),
        )
    except UpdateError as exc:
        if condition_failed(exc):
            return None
        raise
    return conversation


def end_bot_hold(conversation_id: str, outcome: str, summary: dict[str, Any] | None = None) -> bool:
    """The bot's part is over without a handoff (``outcome`` "resolved" or "abandoned", or
    "taken_over" by an agent). False when the bot no longer held it."""
    conversation = Conversation(conversation_id)
    actions: list[Action] = [Conversation.bot_key.remove(), Conversation.bot_status.set(outcome)]
    if summary is not None:
        actions.append(Conversation.bot_summary.set(summary))
    try:
        conversation.update(actions=actions, condition=Conversation.bot_key == BOT_ACTIVE)
    except UpdateError as exc:
        if condition_failed(exc):
            return False
        raise
    return True


def held_by_bot_since(before: str, limit: int = 100) -> list[str]:
    """Conversations the bot holds whose last message is older than ``before`` (one Query on the
    sparse by_bot index): what the abandoned-conversation sweep ends."""
    return [
        c.conversation_id
        for c in Conversation.by_bot.query(BOT_ACTIVE, Conversation.last_message_at < before, limit=limit)
    ]


__all__ = [
    "BOT_ACTIVE",
    "PREVIEW_CHARS",
    "ConversationClosed",
    "Placement",
    "Stored",
    "already_stored",
    "append_system_event",
    "channel_key",
    "dedupe_marker_key",
    "mailbox_key",
    "new_conversation_id",
    "preview_of",
    "record_inbound",
    "spoken_by_agent",
    "stored_where",
]  # re-exported for callers
