"""Ticket records: numbers and ids, reads, the append-only history, who may see a ticket, and the
conditional write every change goes through (``write``/``retrying``: version-checked, retried on a race).
A change that can move deadlines is announced as ``events.TicketChanged`` (``sla_changed``).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from botocore.exceptions import ClientError
from pynamodb.exceptions import DoesNotExist, UpdateError
from pynamodb.expressions.update import Action

from chalicelib import events
from chalicelib.agents import service as agents
from chalicelib.agents.models import SkillGroup
from chalicelib.auth.service import Forbidden, Principal
from chalicelib.aws import client
from chalicelib.config import settings
from chalicelib.conversations.service import NotAllowed
from chalicelib.errors import Invalid, NotFound
from chalicelib.events import TicketChanged
from chalicelib.messages import iso, utcnow
from chalicelib.tickets.models import Ticket, TicketEvent

NUMBER_BASE = 10000  # the first ticket is #10001


COUNTER_KEY = "counter#ticket-number"


WRITE_ATTEMPTS = 5


class Conflict(NotAllowed):
    """The ticket moved since it was read (→ 409)."""


def now_iso() -> str:
    return iso(utcnow())


def condition_failed(exc: Exception) -> bool:
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


def ticket_id_of(number: int) -> str:
    return f"tkt_{number}"


def number_of(ticket_id: str) -> int | None:
    tail = ticket_id.removeprefix("tkt_")
    return int(tail) if tail.isdigit() else None


def new_number() -> int:
    """The next ticket number: an atomic ADD on one state-table item."""
    out = client("dynamodb").update_item(
        TableName=settings().table("state"),
        Key={"key": {"S": COUNTER_KEY}},
        UpdateExpression="ADD n :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
        ReturnValues="UPDATED_NEW",
    )
    return NUMBER_BASE + int(out["Attributes"]["n"]["N"])


def claim_source(source_key: str, ticket_id: str) -> str:
    """Dedupe a creation (an alert id, an e-mail): the first writer's ticket id wins."""
    try:
        client("dynamodb").put_item(
            TableName=settings().table("state"),
            Item={"key": {"S": f"ticket-source#{source_key}"}, "ticket_id": {"S": ticket_id}},
            ConditionExpression="attribute_not_exists(#k)",
            ExpressionAttributeNames={"#k": "key"},
        )
        return ticket_id
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "ConditionalCheckFailedException":
            raise
    item = client("dynamodb").get_item(
        TableName=settings().table("state"),
        Key={"key": {"S": f"ticket-source#{source_key}"}},
        ConsistentRead=True,
    )["Item"]
    return str(item["ticket_id"]["S"])


def get(ticket_id: str, consistent: bool = False) -> Ticket:
    try:
        return Ticket.get(ticket_id, consistent_read=consistent)
    except DoesNotExist as exc:
        raise NotFound(f"ticket {ticket_id}") from exc


def sla_changed(ticket: Ticket, reason: str) -> None:
    """After a change that can move deadlines: the SLA clock follows it, and the console hears of
    it (feed event to the assignee and the department). Never fails the ticket action."""
    from chalicelib.feed import service as feed

    events.publish(TicketChanged(ticket, reason))  # a notification: never fails the ticket action
    events.publish(
        events.Announced(
            "ticket.created" if reason == "created" else "ticket.updated",
            {
                "ticket_id": ticket.ticket_id,
                "number": int(ticket.number) if ticket.number is not None else None,
                "status": ticket.status,
                "priority": ticket.priority,
                "requester_id": ticket.requester_id,
                "reason": reason,
            },
        )
    )
    feed.publish(
        "ticket.updated",
        agents=[ticket.assignee_id] if ticket.assignee_id else (),
        groups=[ticket.group_id] if ticket.group_id else (),
        data={"ticket_id": ticket.ticket_id, "reason": reason, "status": ticket.status},
    )


def add_event(
    ticket_id: str,
    kind: str,
    actor: str,
    *,
    text: str | None = None,
    data: Mapping[str, Any] | None = None,
    changes: Mapping[str, Any] | None = None,
    public: bool = False,
) -> TicketEvent:
    """Append one entry to the ticket's history (``kind``: created, changed, comment, reply,
    customer_reply, notified, not_notified, csat, child_added, child_done, escalated, …)."""
    event = TicketEvent(
        ticket_id,
        f"{now_iso()}#{uuid.uuid4().hex[:8]}",
        kind=kind,
        actor=actor,
        text=text,
        public="1" if public else None,
        changes=dict(changes) if changes else None,
        data={k: v for k, v in data.items() if v is not None} if data else None,
    )
    event.save()
    return event


def history(ticket_id: str, limit: int = 500) -> list[TicketEvent]:
    return list(TicketEvent.query(ticket_id, limit=limit))


def may_see(p: Principal, t: Ticket, groups: set[str]) -> bool:
    """Supervisors see every ticket; agents their groups' and their own (assigned or created). Pure."""
    return (
        p.allows("supervisor")
        or t.assignee_id == p.agent_id
        or t.created_by == p.agent_id
        or (t.group_id is not None and t.group_id in groups)
    )


def check_access(p: Principal, t: Ticket) -> None:
    if p.allows("supervisor") or t.assignee_id == p.agent_id or t.created_by == p.agent_id:
        return
    if not may_see(p, t, agents.groups_of(p.agent_id)):
        raise Forbidden("this ticket belongs to another department")


def check_people(assignee_id: str | None, group_id: str | None) -> None:
    if assignee_id is not None and agents.get_agent(assignee_id) is None:
        raise Invalid(f"no agent {assignee_id!r}")
    if group_id is not None:
        try:
            SkillGroup.get(group_id)
        except DoesNotExist as exc:
            raise Invalid(f"no skill group {group_id!r}") from exc


def write(ticket_id: str, version: int, actions: list[Action], condition: Any = None) -> Ticket:
    """One UpdateItem conditional on ``version`` (which it increments); the new item comes back."""
    t = Ticket(ticket_id)
    now = now_iso()
    cond = Ticket.version == version
    if condition is not None:
        cond &= condition
    try:
        t.update(actions=[*actions, Ticket.version.add(1), Ticket.updated_at.set(now)], condition=cond)
    except UpdateError as exc:
        if condition_failed(exc):
            raise Conflict(f"the ticket changed since version {version}: read it again") from exc
        raise
    return t


def retrying(ticket_id: str, build: Any) -> tuple[Ticket, Ticket] | None:
    """Re-read and retry an internal write that lost a race: ``build(ticket)`` returns the actions
    (or None: nothing to do). Returns (before, after) or None."""
    for _ in range(WRITE_ATTEMPTS):
        before = get(ticket_id, consistent=True)
        actions = build(before)
        if not actions:
            return None
        try:
            return before, write(ticket_id, int(before.version), actions)
        except Conflict:
            continue
    raise Conflict("the ticket keeps changing: try again")
