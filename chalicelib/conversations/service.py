"""Conversation state: append inbound messages in order and exactly once, queue agent replies,
claim and close. Every write that could race is conditional.

Cost of one inbound message for a known customer with an open conversation: one UpdateItem (the
sequence number and conversation summary) and two conditional PutItems — the dedupe marker, which
records where the message goes, then the message itself (see ``_store_once``); redeliveries first
check the marker with one GetItem.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError, UpdateError
from pynamodb.expressions.update import Action

from chalicelib import events
from chalicelib.agents import ranking
from chalicelib.config import settings
from chalicelib.conversations.models import CLOSED, OPEN, Conversation, Message
from chalicelib.db import as_dict
from chalicelib.errors import Conflict, NotFound
from chalicelib.events import Activity
from chalicelib.identity.models import Customer
from chalicelib.messages import DeliveryStatus, InboundMessage, iso, utcnow

DEDUPE_TTL = timedelta(days=14)  # longer than SQS retention: a redelivery always finds its marker
PREVIEW_CHARS = 120
OPEN_ATTEMPTS = 8


class ConversationClosed(Exception):
    """The conversation is closed (or gone); the caller must not write to it."""


class NotAllowed(Conflict):
    """A conditional write refused the action (e.g. someone else owns the conversation)."""


@dataclass(frozen=True)
class Stored:
    conversation: Conversation
    message: Message | None  # None when this delivery was a duplicate
    new_conversation: bool

    @property
    def duplicate(self) -> bool:
        return self.message is None


def new_conversation_id() -> str:
    return f"cnv_{uuid.uuid4().hex[:20]}"


def _is_condition_failure(exc: Exception) -> bool:
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


def preview_of(msg: InboundMessage) -> str:
    """What the inbox shows for a message: its text, or a bracketed type ("[image]"). Pure."""
    if msg.text:
        return msg.text[:PREVIEW_CHARS]
    if msg.type == "event":
        return f"[{msg.event or 'event'}]"
    return f"[{msg.type}]"


def dedupe_marker_key(dedupe_key: str) -> str:
    return f"dedupe#{dedupe_key}"


def stored_where(msg: InboundMessage) -> tuple[str, int] | None:
    """Where a redelivered message was stored — (conversation id, seq) — or None if it was not
    (yet): no dedupe marker, or a marker whose message is missing because the first attempt died
    between the two writes (then storing it again completes it at the marker's place)."""
    try:
        marker = Message.get(dedupe_marker_key(msg.dedupe_key), 0, consistent_read=True)
    except DoesNotExist:
        return None
    if not marker.stored_at:
        return None
    conversation_id, seq = marker.stored_at.rsplit("#", 1)
    try:
        Message.get(conversation_id, int(seq), consistent_read=True, attributes_to_get=["seq"])
    except DoesNotExist:
        return None
    return conversation_id, int(seq)


def already_stored(msg: InboundMessage) -> bool:
    return stored_where(msg) is not None


@dataclass(frozen=True)
class Placement:
    """Where routing puts a conversation its message opens (see chalicelib/routing)."""

    group_id: str
    priority: str = "normal"
    vip: bool = False
    bot_first: bool = False
    tags: tuple[str, ...] = ()
    reason: tuple[tuple[str, str], ...] = ()  # e.g. (("rule", "vip-desk"),) or (("intent", "logistics"),)


def record_inbound(
    customer: Customer,
    msg: InboundMessage,
    placement: Placement | str | Callable[[], Placement],
    *,
    mailbox: bool,
) -> Stored:
    """Append ``msg`` to the customer's open conversation (opening one if needed, queued where
    ``placement`` says — given as a callable, routing runs only when a conversation opens)."""
    now = iso(utcnow())
    conversation_id: str | None = customer.open_conversation_id
    new = False
    for attempt in range(OPEN_ATTEMPTS):
        if conversation_id:
            try:
                conversation = _advance(conversation_id, msg, now)
                break
            except ConversationClosed:
                if attempt < OPEN_ATTEMPTS - 1 and _status(conversation_id) != CLOSED:
                    # Another writer has pointed the customer at a conversation it is still
                    # saving (or just saved): wait for it rather than replacing it.
                    time.sleep(0.02 * (attempt + 1))
                    continue
        conversation_id, opened = _open(customer, conversation_id, msg, placement, now)
        if opened is not None:
            conversation, new = opened, True
            break
    else:  # pragma: no cover - lost races all along means something else is wrong
        raise RuntimeError("could not settle the customer's open conversation")

    by_agent = spoken_by_agent(msg)
    message = Message(
        conversation.conversation_id,
        conversation.next_seq,
        direction="out" if by_agent else "in",
        channel=msg.channel,
        account=msg.account,
        channel_user_id=msg.channel_user_id,
        type=msg.type,
        text=msg.text,
        attachments=[a.model_dump(exclude_none=True) for a in msg.attachments] or None,
        location=msg.location.model_dump(exclude_none=True) if msg.location else None,
        event=msg.event,
        author_id=f"{msg.reply_context.get('speaker')}:{msg.account}" if by_agent else customer.customer_id,
        platform_message_id=msg.platform_message_id,
        sent_at=iso(msg.sent_at),
        created_at=now,
        status="sent" if by_agent else "received",
        reply_context=dict(msg.reply_context) or None,
        mailbox_key=mailbox_key(msg.channel, msg.account, msg.channel_user_id) if mailbox else None,
        dedupe_key=msg.dedupe_key,
        correlation_id=msg.correlation_id,
    )
    stored = Stored(conversation, _store_once(message, msg.dedupe_key), new)
    if stored.message is not None:  # a duplicate delivery was counted the first time
        cid, dims = conversation.conversation_id, activity_dims(conversation, msg.channel)
        if new:
            events.publish(Activity(f"open#{cid}", "conversation_opened", conversation.created_at, dims))
        kind = "message_out" if by_agent else "message_in"
        events.publish(Activity(f"msg#{cid}#{int(stored.message.seq)}", kind, now, dims))
    return stored


def _store_once(message: Message, dedupe_key: str) -> Message | None:
    """Write ``message`` exactly once per ``dedupe_key``; None if it was already stored.

    The dedupe marker is claimed first and records where the message goes. A delivery that finds
    the marker taken checks that place: if the message is there, this is a duplicate; if not, the
    first attempt died between the two writes, and this one completes it at the same place (same
    conversation and sequence number, so the order is the first attempt's). Two conditional puts
    instead of a transaction: half the write units, and the same guarantees."""
    where = f"{message.conversation_id}#{int(message.seq)}"
    marker = Message(
        dedupe_marker_key(dedupe_key),
        0,
        created_at=message.created_at,
        stored_at=where,
        expires_at=int(time.time() + DEDUPE_TTL.total_seconds()),
    )
    try:
        marker.save(condition=Message.conversation_id.does_not_exist())
    except PutError as exc:
        if not _is_condition_failure(exc):
            raise
        claimed = Message.get(dedupe_marker_key(dedupe_key), 0, consistent_read=True).stored_at or where
        conversation_id, seq = claimed.rsplit("#", 1)
        message.conversation_id, message.seq = conversation_id, int(seq)
    try:
        message.save(condition=Message.seq.does_not_exist())
    except PutError as exc:
        if _is_condition_failure(exc):
            return None  # already stored there
        raise
    return message


def channel_key(channel: str, account: str) -> str:
    return f"{channel}#{account}"


def mailbox_key(channel: str, account: str, user_id: str) -> str:
    return f"{channel}#{account}#{user_id}"


def _status(conversation_id: str) -> str | None:
    """A conversation's status, or None while it does not exist (yet)."""
    try:
        return Conversation.get(conversation_id, consistent_read=True, attributes_to_get=["status"]).status
    except DoesNotExist:
        return None


def spoken_by_agent(msg: InboundMessage) -> bool:
    """A call transcript segment of the agent's side (Contact Lens, see channels/voice.py): stored
    as what the company said, never as customer activity. Pure."""
    return msg.channel == "voice" and msg.reply_context.get("speaker", "customer") != "customer"


def _advance(conversation_id: str, msg: InboundMessage, now: str) -> Conversation:
    """Take the next sequence number of an open conversation and update its summary (for the
    agent's side of a call, only the sequence number, time and preview)."""
    conversation = Conversation(conversation_id)
    if spoken_by_agent(msg):
        actions: list[Action] = [
            Conversation.next_seq.add(1),
            Conversation.last_message_at.set(now),
            Conversation.preview.set(preview_of(msg)),
        ]
    else:
        actions = [
            Conversation.next_seq.add(1),
            Conversation.last_message_at.set(now),
            Conversation.last_inbound_at.set(now),
            Conversation.last_channel.set(msg.channel),
            Conversation.last_account.set(msg.account),
            Conversation.last_channel_user_id.set(msg.channel_user_id),
            Conversation.last_reply_context.set(dict(msg.reply_context)),
            Conversation.channels.add({msg.channel}),
            Conversation.preview.set(preview_of(msg)),
            Conversation.inbound_at[channel_key(msg.channel, msg.account)].set(now),
            Conversation.replies_since[channel_key(msg.channel, msg.account)].set(0),
            Conversation.snoozed_until.remove(),  # the customer wrote: wake a snoozed conversation
        ]
    try:
        conversation.update(actions=actions, condition=(Conversation.status == OPEN))
    except UpdateError as exc:
        if _is_condition_failure(exc):
            raise ConversationClosed(conversation_id) from exc
        raise
    return conversation


def _open(
    customer: Customer,
    stale_id: str | None,
    msg: InboundMessage,
    placement: Placement | str | Callable[[], Placement],
    now: str,
) -> tuple[str | None, Conversation | None]:
    """Open a new conversation for the customer, unless another message just did: then return the
    id it opened (and no conversation) so the caller appends there."""
    if isinstance(placement, str):
        placement = Placement(placement)
    elif not isinstance(placement, Placement):
        placement = placement()  # before claiming the slot: routing may fail, and then nothing changed
    new_id = new_conversation_id()
    condition = Customer.open_conversation_id.does_not_exist()
    if stale_id:
        condition = condition | (Customer.open_conversation_id == stale_id)
    # Counted from the customer's first conversation only when this message created the customer;
    # any other customer starts from "at least one before" (a count of 1 means: no history).
    before = 0 if customer.created_at == customer.updated_at else 1
    try:
        customer.update(
            actions=[
                Customer.open_conversation_id.set(new_id),
                Customer.conversations_opened.set((Customer.conversations_opened | before) + 1),
            ],
            condition=condition,
        )
    except UpdateError as exc:
        if not _is_condition_failure(exc):
            raise
        customer.refresh(consistent_read=True)
        return customer.open_conversation_id, None
    due = iso(utcnow() + timedelta(seconds=settings().first_response_seconds))
    kind = ranking.channel_type(msg.channel)
    conversation = Conversation(
        new_id,
        customer_id=customer.customer_id,
        status=OPEN,
        group_id=placement.group_id,
        channel_type=kind,
        queue_key=ranking.queue_key(placement.group_id, kind),
        queue_rank=ranking.queue_rank(placement.priority, placement.vip, now),
        queued_at=now,
        priority=placement.priority,
        vip=placement.vip or None,
        bot_first=placement.bot_first or None,
        routed_by=dict(placement.reason) or None,
        tags=set(placement.tags) or None,
        created_at=now,
        last_message_at=now,
        last_inbound_at=now,
        last_channel=msg.channel,
        last_account=msg.account,
        last_channel_user_id=msg.channel_user_id,
        last_reply_context=dict(msg.reply_context),
        channels={msg.channel},
        preview=preview_of(msg),
        inbound_at={channel_key(msg.channel, msg.account): now},
        replies_since={channel_key(msg.channel, msg.account): 0},
        next_seq=1,
        first_response_due=due,
    )
    conversation.save(condition=Conversation.conversation_id.does_not_exist())
    return new_id, conversation


# ---- agent side ---------------------------------------------------------------------------------


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
) -> tuple[Conversation, Message, bool]:
    """Store an agent's reply as the next message (status queued). The replying agent becomes the
    owner if nobody owns the conversation. The channel's reply window and per-message limit are
    part of the write's condition, so two agents racing cannot exceed them.
    ``known``: the conversation as this request read it; then the conversation's update and the
    message go in one TransactWriteItems (see ``_reply_in_one_write``).
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
            known, actions, condition, target, text, agent_id, now, mailbox, counted, refused
        )
        if done is not None:
            return _reply_counted(*done, agent_id, channel)
    try:
        conversation.update(actions=[*actions, Conversation.next_seq.add(1)], condition=condition)
    except UpdateError as exc:
        if _is_condition_failure(exc):
            raise refused(exc) from exc
        raise
    message = save_outbound(conversation, target, text, agent_id, now, mailbox=mailbox)
    first = conversation.first_responded_at == now
    return _reply_counted(conversation, message, first, agent_id, channel)


def _seconds(since: str, until: str) -> int:
    return max(0, round((datetime.fromisoformat(until) - datetime.fromisoformat(since)).total_seconds()))


def activity_dims(
    conversation: Conversation, channel: str | None, agent_id: str | None = None
) -> dict[str, str]:
    """What analytics count a conversation's facts by (no PII)."""
    dims = {"group": conversation.group_id, "priority": conversation.priority or "normal"}
    if channel:
        dims["channel"] = channel
    if agent_id or conversation.assignee_id:
        dims["agent"] = agent_id or conversation.assignee_id or ""
    return dims


def _reply_counted(
    conversation: Conversation, message: Message, first: bool, agent_id: str, channel: str
) -> tuple[Conversation, Message, bool]:
    """Announce the stored reply to the analytics (a first one with its response time and whether
    it met the first-response deadline)."""
    seconds: dict[str, int] = {}
    flags: dict[str, bool] = {}
    answered = conversation.first_responded_at
    if first and answered:
        seconds["first_response"] = _seconds(conversation.created_at, answered)
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
    message = outbound_message(after, target, text, agent_id, now, mailbox=mailbox)
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
) -> Message:
    """Store an outbound message (status queued) at the sequence number ``conversation`` — the state
    an UpdateItem that took the number returned — now holds, with what the channel's sender needs
    to answer in context: the last inbound's reply context (reply tokens) and time."""
    message = outbound_message(conversation, target, text, author_id, now, mailbox=mailbox)
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
            ],
            condition=Conversation.status == OPEN,
        )
    except UpdateError as exc:
        if _is_condition_failure(exc):
            raise NotAllowed("conversation is already closed") from exc
        raise
    try:
        Customer(conversation.customer_id).update(
            actions=[Customer.open_conversation_id.remove()],
            condition=Customer.open_conversation_id == conversation_id,
        )
    except UpdateError as exc:
        if not _is_condition_failure(exc):
            raise
    events.publish(
        Activity(
            f"close#{conversation_id}#{now}",
            "conversation_closed",
            now,
            activity_dims(conversation, conversation.last_channel),
            {"resolution": _seconds(conversation.created_at, now)},
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
        if _is_condition_failure(exc):
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


def append_system_event(conversation_id: str, *, event: str, text: str, dedupe_key: str) -> Message | None:
    """Add a system event (e.g. an SLA breach) to the conversation's timeline, once per dedupe key."""
    now = iso(utcnow())
    conversation = Conversation(conversation_id)
    try:
        conversation.update(
            actions=[Conversation.next_seq.add(1), Conversation.escalations.add(1)],
            condition=Conversation.conversation_id.exists(),
        )
    except UpdateError as exc:
        if _is_condition_failure(exc):
            return None
        raise
    message = Message(
        conversation_id,
        conversation.next_seq,
        direction="event",
        type="event",
        event=event,
        text=text,
        created_at=now,
        status="received",
        dedupe_key=dedupe_key,
    )
    return _store_once(message, dedupe_key)


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
            if not _is_condition_failure(exc):
                raise
    return updated
