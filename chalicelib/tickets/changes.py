"""Changing tickets: an agent's PATCH (409 when the version moved), internal changes (priority, assignee)
retried on a race, each an event with before → after; sub-tickets and their parent's progress.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.expressions.update import Action

from chalicelib.auth.service import Principal
from chalicelib.conversations.service import NotAllowed
from chalicelib.db import as_dict, transact_write
from chalicelib.errors import Invalid
from chalicelib.observability import logger
from chalicelib.tickets import rules
from chalicelib.tickets.bodies import SubticketBody
from chalicelib.tickets.comments import send_survey, tell
from chalicelib.tickets.creation import new_ticket
from chalicelib.tickets.models import ACTIVE, Ticket
from chalicelib.tickets.store import (
    WRITE_ATTEMPTS,
    Conflict,
    add_event,
    check_access,
    check_people,
    condition_failed,
    get,
    new_number,
    now_iso,
    sla_changed,
    ticket_id_of,
    write,
)

EDITABLE = (
    "subject",
    "status",
    "priority",
    "assignee_id",
    "group_id",
    "category",
    "order_number",
    "device_serial",
    "tags",
    "custom_fields",
)


# What moves SLA deadlines (the contract with chalicelib/sla/tickets.py).
SLA_FIELDS = ("status", "priority", "category")


def _current(t: Ticket) -> dict[str, Any]:
    return {
        "subject": t.subject,
        "status": t.status,
        "priority": t.priority,
        "assignee_id": t.assignee_id,
        "group_id": t.group_id,
        "category": t.category,
        "order_number": t.order_number,
        "device_serial": t.device_serial,
        "tags": sorted(t.tags or ()),
        "custom_fields": as_dict(t.custom_fields),
    }


def _wanted(t: Ticket, changes: Mapping[str, Any]) -> dict[str, Any]:
    """The requested values as whole field values (tags add/remove and custom-field edits merged)."""
    unknown = set(changes) - set(EDITABLE)
    if unknown:
        raise Invalid(f"cannot change {', '.join(sorted(unknown))}")
    out = {k: v for k, v in changes.items() if k not in ("tags", "custom_fields")}
    if "tags" in changes and changes["tags"] is not None:
        tags = changes["tags"]
        add, remove = set(_get_attr(tags, "add")), set(_get_attr(tags, "remove"))
        if add & remove:
            raise Invalid("a tag cannot be both added and removed")
        out["tags"] = sorted((set(t.tags or ()) | add) - remove)
    if "custom_fields" in changes and changes["custom_fields"] is not None:
        category = out.get("category", t.category)
        edits = rules.validate_custom_fields(category, changes["custom_fields"])
        merged = {**as_dict(t.custom_fields), **edits}
        out["custom_fields"] = {k: v for k, v in merged.items() if v is not None}
    if out.get("subject") is None:
        out.pop("subject", None)
    for required in ("status", "priority"):
        if required in out and out[required] is None:
            raise Invalid(f"{required} cannot be empty")
    return out


def _get_attr(obj: Any, name: str) -> list[str]:
    value = obj.get(name) if isinstance(obj, Mapping) else getattr(obj, name, None)
    return list(value or [])


def _actions(t: Ticket, delta: Mapping[str, Mapping[str, Any]], now: str) -> list[Action]:
    attrs = Ticket.get_attributes()
    actions: list[Action] = []
    status = delta.get("status", {}).get("to", t.status)
    for name, change in delta.items():
        value = change["to"]
        attr = attrs[name]
        if name == "tags":
            value = set(value) if value else None
        if value is None or value == {} or value == []:
            actions.append(attr.remove())
        else:
            actions.append(attr.set(value))
    if "status" in delta:
        if status == "solved":
            actions.append(Ticket.solved_at.set(now))
        elif status == "closed":
            actions.append(Ticket.closed_at.set(now))
            if t.status != "solved":
                actions.append(Ticket.solved_at.set(Ticket.solved_at | now))
        elif rules.is_done(t.status):
            actions.append(Ticket.solved_at.remove())
    assignee = delta.get("assignee_id", {}).get("to", t.assignee_id)
    group = delta.get("group_id", {}).get("to", t.group_id)
    if status == "closed":
        actions += [Ticket.assignee_key.remove(), Ticket.group_key.remove()]
    elif "status" in delta or "assignee_id" in delta or "group_id" in delta:
        actions.append(Ticket.assignee_key.set(assignee) if assignee else Ticket.assignee_key.remove())
        actions.append(Ticket.group_key.set(group) if group else Ticket.group_key.remove())
    return actions


def update(
    ticket_id: str,
    actor: str,
    changes: Mapping[str, Any],
    *,
    version: int | None = None,
    notify_customer: bool = True,
) -> Ticket:
    """Change fields (``EDITABLE``); ``version`` given: 409 unless the ticket is still at it;
    without: re-read and retry (internal callers). Records one "changed" event with before/after."""
    for _ in range(1 if version is not None else WRITE_ATTEMPTS):
        before = get(ticket_id, consistent=True)
        if version is not None and int(before.version) != version:
            raise Conflict(f"the ticket is at version {before.version}, not {version}: read it again")
        wanted = _wanted(before, changes)
        delta = rules.diff(_current(before), wanted)
        if not delta:
            return before
        if "status" in delta:
            rules.check_transition(before.status, delta["status"]["to"])
        check_people(
            delta.get("assignee_id", {}).get("to"),
            delta.get("group_id", {}).get("to"),
        )
        if "category" in delta and "custom_fields" not in delta and before.custom_fields:
            rules.validate_custom_fields(delta["category"]["to"], as_dict(before.custom_fields))
        try:
            after = write(ticket_id, int(before.version), _actions(before, delta, now_iso()))
            break
        except Conflict:
            if version is not None:
                raise
    else:
        raise Conflict("the ticket keeps changing: try again")
    add_event(ticket_id, "changed", actor, changes=delta)
    _changed(before, after, delta, actor, notify_customer)
    return after


def _changed(
    before: Ticket, after: Ticket, delta: Mapping[str, Any], actor: str, notify_customer: bool
) -> None:
    status_to = delta.get("status", {}).get("to")
    if status_to:
        reason = {"solved": "solved", "closed": "closed"}.get(status_to, "status")
        if rules.is_done(before.status) and not rules.is_done(status_to):
            reason = "reopened"
        sla_changed(after, reason)
    for name in ("priority", "category"):
        if name in delta:
            sla_changed(after, name)
    if status_to and notify_customer and after.requester_id and after.parent_id is None:
        text = rules.render(f"status.{status_to}", after.language, number=after.number, subject=after.subject)
        tell(after, text, f"status.{status_to}")
        if status_to == "solved" and not after.csat_sent_at:
            send_survey(after)
    if status_to and after.parent_id:
        moved = rules.done_delta(before.status, status_to)
        if moved:
            _child_moved(after.parent_id, after, moved, actor)


def set_priority(ticket_id: str, priority: str, actor: str) -> Ticket:
    """For the SLA escalation (and anyone): change the priority, recorded and re-timed."""
    return update(ticket_id, actor, {"priority": priority})


def assign(ticket_id: str, actor: str, assignee_id: str | None = None, group_id: str | None = None) -> Ticket:
    """For the SLA escalation (and anyone): hand the ticket to an agent and/or a department."""
    changes: dict[str, Any] = {}
    if assignee_id is not None:
        changes["assignee_id"] = assignee_id
    if group_id is not None:
        changes["group_id"] = group_id
    if not changes:
        raise Invalid("give an assignee_id or a group_id")
    return update(ticket_id, actor, changes)


def patch(p: Principal, ticket_id: str, changes: Mapping[str, Any], version: int) -> Ticket:
    """PATCH /tickets/{id}: an agent's change (the agent must see the ticket as it is now)."""
    check_access(p, get(ticket_id, consistent=True))  # update() reads it so: one read
    return update(ticket_id, p.agent_id, changes, version=version)


def create_subticket(p: Principal, parent_id: str, b: SubticketBody) -> Ticket:
    """A parallel part of the work for another department, with its own owner and SLA. The
    parent's ``children_total`` and the child are written in one transaction (the parent must be
    active), so the parent's progress never counts a child that does not exist."""
    parent = get(parent_id)
    check_access(p, parent)
    if parent.parent_id:
        raise Invalid("a sub-ticket cannot have sub-tickets")
    check_people(b.assignee_id, b.group_id)
    now = now_iso()
    child = new_ticket(
        ticket_id_of(new_number()),
        now,
        subject=b.subject,
        description=b.description,
        category=b.category,
        priority=b.priority or parent.priority,
        requester_id=parent.requester_id,
        assignee_id=b.assignee_id,
        group_id=b.group_id,
        parent_id=parent_id,
        source="agent",
        language=parent.language,
        created_by=p.agent_id,
        order_number=parent.order_number,
        device_serial=parent.device_serial,
    )
    try:
        with transact_write() as tx:
            tx.update(
                Ticket(parent_id),
                actions=[
                    Ticket.children_total.add(1),
                    Ticket.children_done.set(Ticket.children_done | 0),
                    Ticket.version.add(1),
                    Ticket.updated_at.set(now),
                ],
                condition=Ticket.status.is_in(*ACTIVE),
            )
            tx.save(child, condition=Ticket.ticket_id.does_not_exist())
    except TransactWriteError as exc:
        reasons = [getattr(r, "code", None) for r in (exc.cancellation_reasons or []) if r is not None]
        if "ConditionalCheckFailed" in reasons:
            raise NotAllowed("the parent ticket is solved or closed") from exc
        raise
    add_event(
        parent_id, "child_added", p.agent_id, data={"child_id": child.ticket_id, "group_id": b.group_id}
    )
    add_event(child.ticket_id, "created", p.agent_id, data={"source": "subticket", "parent_id": parent_id})
    sla_changed(child, "created")
    return child


def _child_moved(parent_id: str, child: Ticket, moved: int, actor: str) -> None:
    """A sub-ticket became done (+1) or was reopened (-1): an atomic ADD on the parent; whoever
    makes ``children_done`` reach ``children_total`` solves the parent (exactly one writer does)."""
    parent = Ticket(parent_id)
    try:
        parent.update(
            actions=[
                Ticket.children_done.add(moved),
                Ticket.version.add(1),
                Ticket.updated_at.set(now_iso()),
            ],
            condition=Ticket.ticket_id.exists(),
        )
    except UpdateError as exc:
        if condition_failed(exc):
            logger.warning("sub-ticket's parent is gone", extra={"ticket_id": child.ticket_id})
            return
        raise
    add_event(
        parent_id,
        "child_done" if moved > 0 else "child_reopened",
        actor,
        data={"child_id": child.ticket_id, "number": child.number, "status": child.status},
    )
    total, done = int(parent.children_total or 0), int(parent.children_done or 0)
    if moved > 0 and rules.parent_should_solve(parent.status, total, done):
        update(parent_id, "system", {"status": "solved"})
