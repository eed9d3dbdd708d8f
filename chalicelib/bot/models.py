"""The bot's tables.

- ``BotSession`` (``state`` table, key ``bot#<conversation_id>``, TTL): what the bot remembers of
  one conversation — the flow in progress, the options it offered, the article awaiting "did this
  solve it?", consecutive failures, what it showed — and ``last_seq``, the last customer message
  it handled, so a redelivered message is answered once.
- ``FlowSetItem`` (``config`` table, kind ``bot-flows``): the admin-edited flows, one versioned item.
- ``BotStat`` (``bot-stats`` table): per-day counters by atomic ADD — outcomes (resolved by the
  bot, handed off, abandoned, taken over), answers, suggestions, nothing found, per channel and per
  flow (started, completed, failed, cancelled, timed out, helpful). What the analytics capability
  reads; per-article figures (shown, bot answers, helpful, handoffs after) are the knowledge base's
  own usage counters (``chalicelib/kb/stats.py``).
- ``RateBucket`` (``state`` table, key ``ratelimit#…``, TTL): token buckets of public endpoints.
"""

from __future__ import annotations

from pynamodb.attributes import (
    JSONAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    VersionAttribute,
)
from pynamodb.models import Model

from chalicelib.db import meta

FLOWS_KIND, FLOWS_NAME = "bot-flows", "default"


def session_key(conversation_id: str) -> str:
    return f"bot#{conversation_id}"


class BotSession(Model):
    Meta = meta("state")

    key = UnicodeAttribute(hash_key=True)
    conversation_id = UnicodeAttribute()
    customer_id = UnicodeAttribute(null=True)
    language = UnicodeAttribute(null=True)
    last_seq = NumberAttribute(default=0)  # the last customer message handled (exactly once)
    turns = NumberAttribute(default=0)
    failures = NumberAttribute(default=0)  # consecutive: nothing found, "didn't help", unreadable
    question = UnicodeAttribute(null=True)  # the customer's first question (for the agent)
    last_question = UnicodeAttribute(null=True)
    flow = JSONAttribute(null=True)  # FlowState as JSON, while a flow runs
    offered = JSONAttribute(null=True)  # [{"article_id", "title"}] of the last "did you mean"
    awaiting = UnicodeAttribute(null=True)  # "article#<id>" / "flow#<id>" awaiting "did this solve it?"
    shown = JSONAttribute(null=True)  # [{"article_id", "title"}] shown, in order
    answered = UnicodeSetAttribute(null=True)  # article ids answered with
    flows_run = JSONAttribute(null=True)  # flow ids started, in order
    updated_at = UnicodeAttribute(null=True)
    expires_at = NumberAttribute(null=True)  # TTL: long after the conversation is over


class FlowSetItem(Model):
    Meta = meta("config")

    kind = UnicodeAttribute(hash_key=True, default=FLOWS_KIND)
    name = UnicodeAttribute(range_key=True, default=FLOWS_NAME)
    flows = JSONAttribute()
    version = VersionAttribute()
    updated_at = UnicodeAttribute()
    updated_by = UnicodeAttribute()


class BotStat(Model):
    Meta = meta("bot-stats")

    day = UnicodeAttribute(hash_key=True)  # YYYY-MM-DD (UTC)
    key = UnicodeAttribute(range_key=True)  # "outcomes" | "flow#<id>" | "channel#<channel>"
    conversations = NumberAttribute(null=True)
    resolved = NumberAttribute(null=True)
    handed_off = NumberAttribute(null=True)
    abandoned = NumberAttribute(null=True)
    answered = NumberAttribute(null=True)
    suggested = NumberAttribute(null=True)
    no_answer = NumberAttribute(null=True)
    shown = NumberAttribute(null=True)
    helpful = NumberAttribute(null=True)
    not_helpful = NumberAttribute(null=True)
    handoffs_after = NumberAttribute(null=True)
    started = NumberAttribute(null=True)
    completed = NumberAttribute(null=True)
    failed = NumberAttribute(null=True)
    cancelled = NumberAttribute(null=True)
    timed_out = NumberAttribute(null=True)
    taken_over = NumberAttribute(null=True)


class RateBucket(Model):
    Meta = meta("state")

    key = UnicodeAttribute(hash_key=True)  # "ratelimit#<scope>#<who>"
    tokens = NumberAttribute()
    refilled_at = NumberAttribute()  # epoch seconds (float)
    expires_at = NumberAttribute(null=True)
