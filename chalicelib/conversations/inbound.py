"""The customer's side of a conversation: append inbound messages in order and exactly once, open
the customer's one conversation or advance it, and system events in its timeline.

Cost of one inbound message for a known customer with an open conversation: one UpdateItem (the
sequence number and conversation summary, answering the conversation as stored) and one
TransactWriteItems — the dedupe marker, which records where the message goes, the message itself,
and what the caller writes with it (``companions``: feed events, counters, the conversation's
analysis; see ``_store_once``); a new conversation is put in the same transaction. Redeliveries
first check the marker with one GetItem.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.expressions.update import Action
from pynamodb.models import Model

from chalicelib import events
from chalicelib.agents import ranking
from chalicelib.config import settings
from chalicelib.conversations.models import CLOSED, OPEN, Conversation, Message
from chalicelib.db import transact_write
from chalicelib.events import Activity
from chalicelib.identity.models import Customer
from chalicelib.messages import InboundMessage, iso, utcnow

DEDUPE_TTL = timedelta(days=14)  # longer than SQS retention: a redelivery always finds its marker
PREVIEW_CHARS = 120
OPEN_ATTEMPTS = 8
BOT_ACTIVE = "active"  # Conversation.bot_status/bot_key while the bot holds it (chalicelib/bot)


class ConversationClosed(Exception):
    """The conversation is closed (or gone); the caller must not write to it."""


# A write that goes with the message, in its transaction: (item, None) puts the item,
# (item, actions) updates it. The item must not be the message, its marker or a new conversation.
Companion = tuple[Model, list[Action] | None]
# Called once the conversation and the message are settled, before they are written: may set
# attributes on the message (and on a new conversation, which is put in the same transaction) and
# returns the companions. Arguments: conversation, message, new conversation?
BeforeStore = Callable[[Conversation, Message, bool], list[Companion]]


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


def condition_failed(exc: Exception) -> bool:
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
    before_store: BeforeStore | None = None,
) -> Stored:
    """Append ``msg`` to the customer's open conversation (opening one if needed, queued where
    ``placement`` says — given as a callable, routing runs only when a conversation opens).
    ``before_store`` adds writes to the message's transaction (see ``BeforeStore``)."""
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
    companions = before_store(conversation, message, new) if before_store is not None else []
    stored = _store_once(message, msg.dedupe_key, companions, opened=conversation if new else None)
    if stored is not None:  # a duplicate delivery was counted and announced the first time
        _announce(conversation, stored, new)
        cid, dims = conversation.conversation_id, activity_dims(conversation, msg.channel)
        if new:
            events.publish(Activity(f"open#{cid}", "conversation_opened", conversation.created_at, dims))
        kind = "message_out" if by_agent else "message_in"
        events.publish(Activity(f"msg#{cid}#{int(stored.seq)}", kind, now, dims))
    return Stored(conversation, stored, new)


def seconds_between(since: str, until: str) -> int:
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


def _announce(conversation: Conversation, message: Message, new: bool) -> None:
    """Tell outside listeners (webhooks): a conversation opened, a message arrived (exactly once:
    only for the write that stored it)."""
    if new:
        events.publish(
            events.Announced(
                "conversation.created",
                {
                    "conversation_id": conversation.conversation_id,
                    "customer_id": conversation.customer_id,
                    "channel": message.channel,
                    "created_at": message.created_at,
                },
            )
        )
    events.publish(
        events.Announced(
            "message.created",
            {
                "conversation_id": message.conversation_id,
                "seq": int(message.seq),
                "customer_id": conversation.customer_id,
                "direction": message.direction,
                "channel": message.channel,
                "type": message.type,
                "text": message.text,
                "created_at": message.created_at,
            },
        )
    )


def _store_once(
    message: Message,
    dedupe_key: str,
    companions: Sequence[Companion] = (),
    opened: Conversation | None = None,
) -> Message | None:
    """Write ``message`` exactly once per ``dedupe_key``; None if it was already stored.

    One transaction: the dedupe marker (claimed only if absent; it records where the message goes),
    the message, the conversation it opens (``opened``) and the ``companions``. If the marker is
    taken, this delivery checks the place it records: if the message is there, this is a duplicate
    (nothing of this transaction is written); if not, an earlier attempt of an older version died
    between two separate writes, and this one completes it at the same place (same conversation
    and sequence number, so the order is the first attempt's) — the message alone."""
    where = f"{message.conversation_id}#{int(message.seq)}"
    marker = Message(
        dedupe_marker_key(dedupe_key),
        0,
        created_at=message.created_at,
        stored_at=where,
        expires_at=int(time.time() + DEDUPE_TTL.total_seconds()),
    )
    try:
        with transact_write() as tx:
            if opened is not None:
                tx.save(opened, condition=Conversation.conversation_id.does_not_exist())
            tx.save(marker, condition=Message.conversation_id.does_not_exist())
            tx.save(message, condition=Message.seq.does_not_exist())
            for item, actions in companions:
                if actions is None:
                    tx.save(item)
                else:
                    tx.update(item, actions)
    except TransactWriteError as exc:
        try:
            claimed = Message.get(dedupe_marker_key(dedupe_key), 0, consistent_read=True).stored_at
        except DoesNotExist:
            raise exc from None  # not the marker: a failure to retry
        if opened is not None:  # the customer already points at it: it must exist
            opened.save(condition=Conversation.conversation_id.does_not_exist())
        conversation_id, seq = (claimed or where).rsplit("#", 1)
        message.conversation_id, message.seq = conversation_id, int(seq)
        try:
            message.save(condition=Message.seq.does_not_exist())
        except PutError as put_exc:
            if condition_failed(put_exc):
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
        if condition_failed(exc):
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
        if not condition_failed(exc):
            raise
        customer.refresh(consistent_read=True)
        return customer.open_conversation_id, None
    kind = ranking.channel_type(msg.channel)
    bot = placement.bot_first  # the bot holds it first: not queued, no first-response clock yet
    due = None if bot else iso(utcnow() + timedelta(seconds=settings().first_response_seconds))
    conversation = Conversation(
        new_id,
        customer_id=customer.customer_id,
        status=OPEN,
        group_id=placement.group_id,
        channel_type=kind,
        queue_key=None if bot else ranking.queue_key(placement.group_id, kind),
        queue_rank=None if bot else ranking.queue_rank(placement.priority, placement.vip, now),
        queued_at=None if bot else now,
        priority=placement.priority,
        vip=placement.vip or None,
        bot_first=placement.bot_first or None,
        bot_status=BOT_ACTIVE if bot else None,
        bot_key=BOT_ACTIVE if bot else None,
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
    # Put with the first message (``_store_once``): a writer that finds the customer pointing at it
    # meanwhile waits for it (``record_inbound``).
    return new_id, conversation


def append_system_event(
    conversation_id: str, *, event: str, text: str, dedupe_key: str, count_as: str | None = None
) -> Message | None:
    """Add a system event (e.g. an SLA breach) to the conversation's timeline, once per dedupe key;
    ``count_as``: the analytics count it too, as that ``Activity`` kind (once, with the event)."""
    now = iso(utcnow())
    conversation = Conversation(conversation_id)
    try:
        conversation.update(
            actions=[Conversation.next_seq.add(1), Conversation.escalations.add(1)],
            condition=Conversation.conversation_id.exists(),
        )
    except UpdateError as exc:
        if condition_failed(exc):
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
    stored = _store_once(message, dedupe_key)
    if stored is not None and count_as:
        dims = activity_dims(conversation, conversation.last_channel)
        events.publish(Activity(f"{count_as}#{conversation_id}#{dedupe_key}", count_as, now, dims))
    return stored
