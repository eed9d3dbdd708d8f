"""Conversation and Message tables.

Messages are keyed (conversation_id, seq). ``seq`` comes from an atomic counter on the
conversation, so order per conversation is the order the router stored them; each inbound message
is written in one transaction with a dedupe marker (``conversation_id = "dedupe#<key>"``) so a
redelivered SQS message is stored exactly once.
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection

from chalicelib.db import Model, meta

OPEN, CLOSED = "open", "closed"


class _ByCustomer(GlobalSecondaryIndex["Conversation"]):
    class Meta:
        index_name = "by_customer"
        projection = AllProjection()

    customer_id = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class _ByQueue(GlobalSecondaryIndex["Conversation"]):
    class Meta:
        index_name = "by_queue"
        projection = AllProjection()

    queue_key = UnicodeAttribute(hash_key=True)
    queue_rank = UnicodeAttribute(range_key=True)


class _ByOwner(GlobalSecondaryIndex["Conversation"]):
    class Meta:
        index_name = "by_owner"
        projection = AllProjection()

    owner_key = UnicodeAttribute(hash_key=True)
    last_message_at = UnicodeAttribute(range_key=True)


class _ByBot(GlobalSecondaryIndex["Conversation"]):
    class Meta:
        index_name = "by_bot"
        projection = KeysOnlyProjection()

    bot_key = UnicodeAttribute(hash_key=True)
    last_message_at = UnicodeAttribute(range_key=True)


class _ByStatus(GlobalSecondaryIndex["Conversation"]):
    class Meta:
        index_name = "by_status"
        projection = AllProjection()

    status = UnicodeAttribute(hash_key=True)
    last_message_at = UnicodeAttribute(range_key=True)


class Conversation(Model):
    Meta = meta("conversations")

    conversation_id = UnicodeAttribute(hash_key=True)
    customer_id = UnicodeAttribute()
    status = UnicodeAttribute(default=OPEN)
    group_id = UnicodeAttribute()
    assignee_id = UnicodeAttribute(null=True)
    channel_type = UnicodeAttribute(default="chat")  # chat | email | voice: whose capacity it takes
    queue_key = UnicodeAttribute(null=True)  # "<group>#<channel type>" while open and unassigned (sparse)
    queue_rank = UnicodeAttribute(null=True)  # order in the queue: urgent/VIP first, then first come
    queued_at = UnicodeAttribute(null=True)  # since when it waits (shown as waiting time)
    dequeued_from = UnicodeAttribute(null=True)  # the queue the last write took it out of ("" if none)
    owner_key = UnicodeAttribute(null=True)  # = assignee_id while open and assigned (sparse index)
    assigned_at = UnicodeAttribute(null=True)
    priority = UnicodeAttribute(default="normal")  # low | normal | high | urgent
    vip = BooleanAttribute(null=True)
    bot_first = BooleanAttribute(null=True)  # a routing rule asked for the bot before a human
    # The bot (chalicelib/bot): "active" while it holds the conversation (not queued, not offered
    # to agents), then "resolved", "handed_off" or "abandoned"; bot_key = "active" meanwhile
    # (sparse by_bot index); bot_summary: what it tried, shown at the top of the agent's view.
    bot_status = UnicodeAttribute(null=True)
    bot_key = UnicodeAttribute(null=True)
    bot_summary = JSONAttribute(null=True)
    routed_by = MapAttribute[str, str](null=True)  # why it went where it went (rules, intent)
    created_at = UnicodeAttribute()
    last_message_at = UnicodeAttribute()
    last_inbound_at = UnicodeAttribute(null=True)
    last_channel = UnicodeAttribute(null=True)
    last_account = UnicodeAttribute(null=True)
    last_channel_user_id = UnicodeAttribute(null=True)
    last_reply_context = MapAttribute[str, str](null=True)
    inbound_at = MapAttribute[str, Any](
        null=True
    )  # "<channel>#<account>" -> the customer's last message there
    replies_since = MapAttribute[str, Any](null=True)  # "<channel>#<account>" -> agent replies since then
    channels = UnicodeSetAttribute(null=True)
    preview = UnicodeAttribute(null=True)
    next_seq = NumberAttribute(default=0)
    first_response_due = UnicodeAttribute(null=True)
    first_responded_at = UnicodeAttribute(null=True)
    sla_status = UnicodeAttribute(null=True)
    sla_breached_at = UnicodeAttribute(null=True)
    sla_execution_arn = UnicodeAttribute(null=True)
    escalations = NumberAttribute(default=0)
    closed_at = UnicodeAttribute(null=True)
    closed_by = UnicodeAttribute(null=True)
    tags = UnicodeSetAttribute(null=True)
    snoozed_until = UnicodeAttribute(null=True)  # hidden from "mine" until then; a customer message wakes it
    ticket_ids = UnicodeSetAttribute(null=True)  # linked tickets
    mood = UnicodeAttribute(null=True)  # "rising_anger" while the customer's messages turn angrier (assist)
    mood_at = UnicodeAttribute(null=True)

    by_customer = _ByCustomer()
    by_queue = _ByQueue()
    by_owner = _ByOwner()
    by_status = _ByStatus()
    by_bot = _ByBot()


class _ByMailbox(GlobalSecondaryIndex["Message"]):
    class Meta:
        index_name = "by_mailbox"
        projection = AllProjection()

    mailbox_key = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class _ByPlatformRef(GlobalSecondaryIndex["Message"]):
    class Meta:
        index_name = "by_platform_ref"
        projection = KeysOnlyProjection()

    platform_ref = UnicodeAttribute(hash_key=True)


def message_expiry() -> int:
    """When a message stored now expires (epoch seconds, the messages table's TTL)."""
    import time

    from chalicelib.config import settings

    return int(time.time()) + settings().message_retention_days * 86400


class Message(Model):
    Meta = meta("messages")

    conversation_id = UnicodeAttribute(hash_key=True)
    seq = NumberAttribute(range_key=True)
    direction = UnicodeAttribute(null=True)  # in | out | note
    channel = UnicodeAttribute(null=True)
    account = UnicodeAttribute(null=True)
    channel_user_id = UnicodeAttribute(null=True)
    type = UnicodeAttribute(null=True)
    text = UnicodeAttribute(null=True)
    attachments = JSONAttribute(null=True)
    location = JSONAttribute(null=True)
    event = UnicodeAttribute(null=True)
    author_id = UnicodeAttribute(null=True)  # customer id or agent id
    mentions = UnicodeSetAttribute(null=True)  # notes: the agents @mentioned (each got a feed event)
    platform_message_id = UnicodeAttribute(null=True)
    sent_at = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute(null=True)
    status = UnicodeAttribute(null=True)  # received | queued | sent | sent_local | failed
    error = UnicodeAttribute(null=True)
    attempts = NumberAttribute(null=True)
    outbound_request = JSONAttribute(null=True)  # what "sent (local)" would have sent, redacted
    quality = JSONAttribute(null=True)  # agent replies: the quality rules' warnings it was sent with
    assist = JSONAttribute(null=True)  # customer messages: sentiment, escalation signals, entities
    quick_replies = JSONAttribute(null=True)  # [{"title", "payload"}]: buttons under a bot message (web, app)
    reply_context = MapAttribute[str, str](null=True)
    mailbox_key = UnicodeAttribute(null=True)
    platform_ref = UnicodeAttribute(null=True)  # "<channel>#<account>#<platform id>" once sent
    delivery = UnicodeAttribute(null=True)  # delivered | read | failed, from the platform's reports
    delivery_at = UnicodeAttribute(null=True)
    dedupe_key = UnicodeAttribute(null=True)
    correlation_id = UnicodeAttribute(null=True)
    stored_at = UnicodeAttribute(null=True)  # dedupe markers: "<conversation_id>#<seq>" of the message
    # TTL: a message expires ``settings().message_retention_days`` after it was stored (2 years by
    # default, README "Privacy"); a dedupe marker after 14 days (chalicelib/conversations/inbound.py)
    expires_at = NumberAttribute(null=True, default_for_new=lambda: message_expiry())

    by_mailbox = _ByMailbox()
    by_platform_ref = _ByPlatformRef()
