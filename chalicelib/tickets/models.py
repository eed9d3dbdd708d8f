"""The ``tickets`` and ``ticket-events`` tables (infra/data.yaml).

A ticket's SLA fields (``sla_*``) are written only by chalicelib/sla/tickets.py; everything else by
the tickets capability (``store.write``, creation). Every write is conditional on ``version``
(optimistic concurrency), which each write increments. Index keys are sparse: ``assignee_key`` /
``group_key`` are set while the ticket is not closed, ``due_key`` while an SLA clock runs (its
``sla_next_due`` is the next deadline, so "overdue" and "at risk" are Queries ``sla_next_due < now``).
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    JSONAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib.db import Model, meta

STATUSES = ("new", "open", "pending_customer", "on_hold", "solved", "closed")
PRIORITIES = ("low", "normal", "high", "urgent")
ACTIVE = ("new", "open", "pending_customer", "on_hold")  # not solved/closed
DUE_SHARD = "due"  # the one partition of the due index (shard it by a suffix when volume demands)


class _ByAssignee(GlobalSecondaryIndex["Ticket"]):
    class Meta:
        index_name = "by_assignee"
        projection = AllProjection()

    assignee_key = UnicodeAttribute(hash_key=True)
    updated_at = UnicodeAttribute(range_key=True)


class _ByGroup(GlobalSecondaryIndex["Ticket"]):
    class Meta:
        index_name = "by_group"
        projection = AllProjection()

    group_key = UnicodeAttribute(hash_key=True)
    updated_at = UnicodeAttribute(range_key=True)


class _ByStatus(GlobalSecondaryIndex["Ticket"]):
    class Meta:
        index_name = "by_status"
        projection = AllProjection()

    status = UnicodeAttribute(hash_key=True)
    updated_at = UnicodeAttribute(range_key=True)


class _ByRequester(GlobalSecondaryIndex["Ticket"]):
    class Meta:
        index_name = "by_requester"
        projection = AllProjection()

    requester_id = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class _ByParent(GlobalSecondaryIndex["Ticket"]):
    class Meta:
        index_name = "by_parent"
        projection = AllProjection()

    parent_id = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class _ByDue(GlobalSecondaryIndex["Ticket"]):
    class Meta:
        index_name = "by_due"
        projection = AllProjection()

    due_key = UnicodeAttribute(hash_key=True)
    sla_next_due = UnicodeAttribute(range_key=True)


class Ticket(Model):
    Meta = meta("tickets")

    ticket_id = UnicodeAttribute(hash_key=True)  # "tkt_<hex>"
    number = NumberAttribute(null=True)  # short human number (from an atomic counter), e.g. 10042
    subject = UnicodeAttribute()
    description = UnicodeAttribute(null=True)
    category = UnicodeAttribute(null=True)  # e.g. refund, repair, delivery, device_fault
    priority = UnicodeAttribute(default="normal")  # PRIORITIES
    status = UnicodeAttribute(default="new")  # STATUSES
    requester_id = UnicodeAttribute(null=True)  # customer id
    assignee_id = UnicodeAttribute(null=True)
    group_id = UnicodeAttribute(null=True)  # the department (a skill group)
    assignee_key = UnicodeAttribute(null=True)  # = assignee_id while not closed (sparse index)
    group_key = UnicodeAttribute(null=True)  # = group_id while not closed (sparse index)
    order_number = UnicodeAttribute(null=True)
    device_serial = UnicodeAttribute(null=True)
    custom_fields = MapAttribute[str, Any](null=True)  # per category, validated by the service
    tags = UnicodeSetAttribute(null=True)
    conversation_ids = UnicodeSetAttribute(null=True)
    parent_id = UnicodeAttribute(null=True)  # a sub-ticket's parent
    children_total = NumberAttribute(null=True)  # on a parent: sub-tickets, and how many are done
    children_done = NumberAttribute(null=True)
    source = UnicodeAttribute(null=True)  # agent | email | api | bot
    channel = UnicodeAttribute(null=True)  # where the customer last wrote about it (progress goes there)
    language = UnicodeAttribute(null=True)  # zh-CN | en (customer-facing texts)
    created_at = UnicodeAttribute()
    created_by = UnicodeAttribute(null=True)
    updated_at = UnicodeAttribute()
    first_responded_at = UnicodeAttribute(null=True)  # first public reply by an agent
    last_public_reply_at = UnicodeAttribute(null=True)
    last_customer_reply_at = UnicodeAttribute(null=True)
    solved_at = UnicodeAttribute(null=True)
    closed_at = UnicodeAttribute(null=True)
    csat_sent_at = UnicodeAttribute(null=True)
    csat_score = NumberAttribute(null=True)  # 1..5
    csat_comment = UnicodeAttribute(null=True)
    version = NumberAttribute(default=0)

    # ---- SLA (chalicelib/sla/tickets.py only) ----
    sla_policy_id = UnicodeAttribute(null=True)
    sla_first_response_due = UnicodeAttribute(null=True)
    sla_next_response_due = UnicodeAttribute(null=True)
    sla_resolution_due = UnicodeAttribute(null=True)
    sla_next_due = UnicodeAttribute(null=True)  # the earliest pending deadline (range key of by_due)
    sla_next_target = UnicodeAttribute(null=True)  # first_response | next_response | resolution
    due_key = UnicodeAttribute(null=True)  # = DUE_SHARD while a clock runs (sparse index)
    sla_state = UnicodeAttribute(null=True)  # ok | warning | breached | paused | met
    sla_paused_at = UnicodeAttribute(null=True)
    sla_level = NumberAttribute(null=True)  # escalation level reached: 0, 1, 2
    sla_clock = NumberAttribute(null=True)  # bumped whenever deadlines change; names the execution
    sla_breaches = MapAttribute[str, Any](null=True)  # target -> when it was breached
    # "<deadline key>#<level>" -> when that escalation level was reached (the state machine's
    # conditional write: each level once); the pausing-status intervals the clock skips; and each
    # finished deadline's outcome (met | breached | skipped), counted once in the SLA reports.
    sla_pauses = JSONAttribute(null=True)  # [{"start", "end" (null while paused), "status"}]
    sla_outcomes = MapAttribute[str, Any](null=True)  # deadline key -> met | breached | skipped

    by_assignee = _ByAssignee()
    by_group = _ByGroup()
    by_status = _ByStatus()
    by_requester = _ByRequester()
    by_parent = _ByParent()
    by_due = _ByDue()


class TicketEvent(Model):
    """The ticket's history: every change (who, what, before → after), internal comments, public
    replies, escalations, CSAT answers. Append-only."""

    Meta = meta("ticket-events")

    ticket_id = UnicodeAttribute(hash_key=True)
    event_key = UnicodeAttribute(range_key=True)  # "<ISO time>#<random>": time-ordered, unique
    kind = UnicodeAttribute()  # created | changed | comment | reply | escalated | csat | child_done …
    actor = UnicodeAttribute()  # agent id, "customer:<id>", "sla", "system"
    text = UnicodeAttribute(null=True)
    public = UnicodeAttribute(null=True)  # "1" for what the customer saw
    changes = MapAttribute[str, Any](null=True)  # field -> {"from": …, "to": …}
    data = MapAttribute[str, Any](null=True)
