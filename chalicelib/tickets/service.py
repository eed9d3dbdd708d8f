"""Tickets: a promise with an owner, a deadline and progress the customer sees.

Created from a conversation (one click), the API, a device's fault alert, an e-mail to a support
address, or the bot; numbered from an atomic counter (ticket id ``tkt_<number>``, so an e-mail
subject's ``[#10042]`` is one GetItem away). Every write to a ticket is conditional on its
``version`` and increments it: an agent's PATCH carries the version it read (409 if the ticket
moved); internal writers (sub-ticket progress, the SLA escalation) re-read and retry. Each change is
an append-only ``TicketEvent`` with before → after.

Side effects of a change: the SLA helper hears of anything that moves deadlines
(``_sla_changed``); the customer gets a progress message on their last channel (``notify``);
a solved ticket sends a one-question CSAT survey; a sub-ticket becoming done (or reopened) moves its
parent's ``children_done``, and the parent is solved when all are done.

Inbound hook (``on_inbound``, called by the router after a message is stored): an e-mail to a
ticket address creates a ticket (or is a customer reply on ``[#n]``); a 1–5 answer after a survey
is stored as CSAT; a message in a conversation linked to tickets is a customer reply on them; a
"what's the status of my ticket/order" question gets the open tickets' state from the bot. Normal
messages cost no extra DynamoDB request: the checks are on the text and the conversation already read.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import Any

from botocore.exceptions import ClientError
from pynamodb.exceptions import DoesNotExist, PutError, TransactWriteError, UpdateError
from pynamodb.expressions.update import Action

from chalicelib import channels
from chalicelib.agents import service as agents
from chalicelib.agents.models import SkillGroup
from chalicelib.auth.service import AuthError, Forbidden, Principal
from chalicelib.aws import client
from chalicelib.config import settings
from chalicelib.conversations import service as conversations
from chalicelib.conversations.models import OPEN, Conversation
from chalicelib.conversations.service import NotAllowed
from chalicelib.db import as_dict, to_json, transact_write
from chalicelib.identity import service as identity
from chalicelib.identity.models import Customer, Identity
from chalicelib.messages import InboundMessage, iso, utcnow
from chalicelib.observability import logger
from chalicelib.tickets import notify, rules
from chalicelib.tickets.bodies import AlertBody, FromConversationBody, SubticketBody, TicketBody
from chalicelib.tickets.models import ACTIVE, DUE_SHARD, PRIORITIES, Ticket, TicketEvent

NUMBER_BASE = 10000  # the first ticket is #10001
COUNTER_KEY = "counter#ticket-number"
CSAT_WINDOW = timedelta(days=7)
WRITE_ATTEMPTS = 5
STATUS_ANSWER_TICKETS = 5
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


class Conflict(NotAllowed):
    """The ticket moved since it was read (→ 409)."""


# ---- plumbing ----------------------------------------------------------------------------------
def _now() -> str:
    return iso(utcnow())


def _condition_failed(exc: Exception) -> bool:
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


def _claim_source(source_key: str, ticket_id: str) -> str:
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
        raise KeyError(f"ticket {ticket_id}") from exc


def _sla_changed(ticket: Ticket, reason: str) -> None:
    """After a change that can move deadlines: the SLA clock follows it, and the console hears of
    it (feed event to the assignee and the department). Never fails the ticket action."""
    from chalicelib.feed import service as feed
    from chalicelib.sla import tickets as sla_tickets

    try:
        sla_tickets.on_change(ticket, reason)
    except Exception:  # noqa: BLE001 — the ticket action has happened; the SLA side logs its own
        logger.exception("sla on_change failed", extra={"ticket_id": ticket.ticket_id, "reason": reason})
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
        f"{_now()}#{uuid.uuid4().hex[:8]}",
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


# ---- access ------------------------------------------------------------------------------------
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


def _check_people(assignee_id: str | None, group_id: str | None) -> None:
    if assignee_id is not None and agents.get_agent(assignee_id) is None:
        raise ValueError(f"no agent {assignee_id!r}")
    if group_id is not None:
        try:
            SkillGroup.get(group_id)
        except DoesNotExist as exc:
            raise ValueError(f"no skill group {group_id!r}") from exc


# ---- creation ----------------------------------------------------------------------------------
def create(
    *,
    subject: str,
    actor: str,
    source: str,
    description: str | None = None,
    category: str | None = None,
    priority: str = "normal",
    requester_id: str | None = None,
    assignee_id: str | None = None,
    group_id: str | None = None,
    order_number: str | None = None,
    device_serial: str | None = None,
    tags: Iterable[str] = (),
    custom_fields: Mapping[str, Any] | None = None,
    conversation_id: str | None = None,
    channel: str | None = None,
    language: str | None = None,
    parent_id: str | None = None,
    ticket_id: str | None = None,
    notify_customer: bool = True,
) -> Ticket:
    """Create a ticket (conditional put), link its conversation both ways, record "created", tell
    the SLA helper and (``notify_customer``) the customer. ``ticket_id`` (from a dedupe claim) makes
    a retried creation return the ticket already made."""
    if priority not in PRIORITIES:
        raise ValueError(f"priority must be one of {', '.join(PRIORITIES)}")
    _check_people(assignee_id, group_id)
    fields = rules.validate_custom_fields(category, custom_fields or {})
    conversation: Conversation | None = None
    if conversation_id:
        conversation = conversations.get(conversation_id)
        requester_id = requester_id or conversation.customer_id
        channel = channel or conversation.last_channel
    if requester_id:
        requester_id = identity.get_customer(requester_id).customer_id  # KeyError if unknown; follows merges
    if ticket_id is None:
        ticket_id = ticket_id_of(new_number())
    now = _now()
    ticket = _new_ticket(
        ticket_id,
        now,
        subject=subject,
        description=description,
        category=category,
        priority=priority,
        requester_id=requester_id,
        assignee_id=assignee_id,
        group_id=group_id,
        order_number=order_number,
        device_serial=device_serial,
        tags=set(tags) or None,
        custom_fields={k: v for k, v in fields.items() if v is not None} or None,
        conversation_ids={conversation_id} if conversation_id else None,
        parent_id=parent_id,
        source=source,
        channel=channel,
        language=language or rules.language_of(f"{subject} {description or ''}"),
        created_by=actor,
    )
    try:
        ticket.save(condition=Ticket.ticket_id.does_not_exist())
    except PutError as exc:
        if _condition_failed(exc):
            return get(ticket_id, consistent=True)  # a retry of the same creation
        raise
    _created(ticket, actor, conversation, notify_customer)
    return ticket


def _new_ticket(ticket_id: str, now: str, **fields: Any) -> Ticket:
    ticket = Ticket(
        ticket_id,
        number=number_of(ticket_id),
        status="new",
        created_at=now,
        updated_at=now,
        version=0,
        **{k: v for k, v in fields.items() if v is not None},
    )
    ticket.assignee_key = ticket.assignee_id
    ticket.group_key = ticket.group_id
    return ticket


def _created(ticket: Ticket, actor: str, conversation: Conversation | None, notify_customer: bool) -> None:
    add_event(
        ticket.ticket_id,
        "created",
        actor,
        data={
            "source": ticket.source,
            "conversation_id": conversation.conversation_id if conversation else None,
        },
    )
    if conversation is not None:
        from chalicelib.conversations import actions as conversation_actions

        conversation_actions.link_ticket(conversation, actor, ticket.ticket_id)
    _sla_changed(ticket, "created")
    if notify_customer and ticket.requester_id:
        _tell(
            ticket,
            rules.render("created", ticket.language, number=ticket.number, subject=ticket.subject),
            "created",
        )


def create_from_api(p: Principal, b: TicketBody) -> Ticket:
    """POST /tickets: an agent's ticket (a conversation given is linked; agents must see it)."""
    if b.conversation_id:
        from chalicelib import workspace

        workspace.check_access(p, conversations.get(b.conversation_id))
    return create(
        subject=b.subject,
        actor=p.agent_id,
        source="api",
        description=b.description,
        category=b.category,
        priority=b.priority,
        requester_id=b.requester_id,
        assignee_id=b.assignee_id,
        group_id=b.group_id,
        order_number=b.order_number,
        device_serial=b.device_serial,
        tags=b.tags,
        custom_fields=b.custom_fields,
        conversation_id=b.conversation_id,
        language=b.language,
        notify_customer=b.notify,
    )


def create_from_conversation(p: Principal, conversation_id: str, b: FromConversationBody) -> Ticket:
    """One click in a conversation: subject from its preview, requester its customer, owned by the
    agent, in the conversation's group; linked both ways."""
    from chalicelib import workspace

    c = conversations.get(conversation_id)
    workspace.check_access(p, c)
    preview = c.preview
    return create(
        subject=b.subject or rules.default_subject(preview),
        actor=p.agent_id,
        source="agent",
        description=b.description if b.description is not None else preview,
        category=b.category,
        priority=b.priority or c.priority or "normal",
        assignee_id=b.assignee_id or p.agent_id,
        group_id=b.group_id or c.group_id,
        order_number=b.order_number,
        device_serial=b.device_serial,
        tags=b.tags,
        custom_fields=b.custom_fields,
        conversation_id=conversation_id,
        language=rules.language_of(preview),
        notify_customer=b.notify,
    )


def create_from_bot(
    customer_id: str,
    subject: str,
    description: str | None,
    category: str | None,
    *,
    priority: str = "normal",
    conversation_id: str | None = None,
    group_id: str | None = None,
    order_number: str | None = None,
    language: str | None = None,
    dedupe_key: str | None = None,
) -> Ticket:
    """The bot opens a ticket for a customer (``dedupe_key``: the same key never makes two)."""
    ticket_id = None
    if dedupe_key:
        ticket_id = _claim_source(f"bot#{dedupe_key}", ticket_id_of(new_number()))
    return create(
        subject=subject,
        actor="bot",
        source="bot",
        description=description,
        category=category,
        priority=priority,
        requester_id=customer_id,
        group_id=group_id,
        order_number=order_number,
        conversation_id=conversation_id,
        language=language,
        ticket_id=ticket_id,
    )


# ---- device alerts -----------------------------------------------------------------------------
def verify_alert(account: str, headers: Mapping[str, str], raw_body: bytes | str) -> None:
    """The ``app`` channel's signature (key id, timestamp, HMAC, nonce) for ``account``:
    AuthError (→ 401) when it does not hold, NotAllowed (→ 409) for a replayed nonce."""
    from chalicelib.channels.app import NonceReused
    from chalicelib.channels.base import NotFound, Unauthorized, WebhookRequest
    from chalicelib.channels.credentials import account_credentials

    adapter = channels.get("app")
    req = WebhookRequest(
        method="POST",
        channel="app",
        path_parts=(account,),
        headers={k.lower(): v for k, v in headers.items()},
        query={},
        body=raw_body.encode() if isinstance(raw_body, str) else raw_body,
        url="",
    )
    try:
        adapter.verify(req, account_credentials("app", account))
    except (Unauthorized, NotFound) as exc:
        raise AuthError(str(exc)) from exc
    except NonceReused as exc:
        raise NotAllowed(str(exc)) from exc


def create_from_alert(account: str, b: AlertBody) -> tuple[Ticket, bool]:
    """A device's fault alert (already verified) → a ticket for the device's customer. Returns
    (ticket, created); a resent alert id returns the first ticket."""
    number = new_number()
    ticket_id = _claim_source(f"alert#{account}#{b.alert_id}", ticket_id_of(number))
    if ticket_id != ticket_id_of(number):
        try:
            return get(ticket_id, consistent=True), False
        except KeyError:
            pass  # the first attempt claimed the id and stopped short: finish it now
    customer_id = _device_customer(account, b)
    subject = b.subject or (f"Device fault {b.fault_code}" if b.fault_code else "Device fault")
    ticket = create(
        subject=subject,
        actor=f"app:{account}",
        source="api",
        description=b.description,
        category=b.category,
        priority=b.priority,
        requester_id=customer_id,
        device_serial=b.serial,
        custom_fields={"fault_code": b.fault_code} if b.fault_code and b.category == "device_fault" else None,
        language=b.language,
        ticket_id=ticket_id,
    )
    return ticket, True


def _claim_identity(key: str, customer_id: str, kind: str) -> str:
    try:
        Identity(key, customer_id=customer_id, kind=kind, created_at=_now()).save(
            condition=Identity.identity_key.does_not_exist()
        )
        return customer_id
    except PutError as exc:
        if not _condition_failed(exc):
            raise
        return Identity.get(key, consistent_read=True).customer_id


def _device_customer(account: str, b: AlertBody) -> str:
    """The device's customer: identity ``device#<serial>``; else the app user the alert names
    (resolved like an app-channel message: the backend vouches for its user id); else a new
    customer. The device identity is then claimed for them (first claim wins)."""
    key = f"device#{b.serial}"
    try:
        return Identity.get(key).customer_id
    except DoesNotExist:
        pass
    c = b.customer
    if c is not None and c.id:
        from chalicelib.channels.app import user_hints
        from chalicelib.channels.base import BadRequest

        try:
            hints = user_hints(c.model_dump(exclude_none=True))
        except BadRequest as exc:
            raise ValueError(str(exc)) from exc
        msg = InboundMessage(
            channel="app",
            account=account,
            channel_user_id=str(hints.external_id),
            hints=hints,
            platform_message_id=f"alert/{b.alert_id}",
            sent_at=utcnow(),
        )
        return _claim_identity(key, identity.resolve(msg).customer.customer_id, "device")
    customer_id = _claim_identity(key, identity.new_customer_id(), "device")
    now = _now()
    Customer(customer_id).update(
        actions=[
            Customer.created_at.set(Customer.created_at | now),
            Customer.updated_at.set(now),
            *(
                [Customer.display_name.set(Customer.display_name | c.name)]
                if c is not None and c.name
                else []
            ),
        ]
    )
    return customer_id


# ---- changes -----------------------------------------------------------------------------------
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
        raise ValueError(f"cannot change {', '.join(sorted(unknown))}")
    out = {k: v for k, v in changes.items() if k not in ("tags", "custom_fields")}
    if "tags" in changes and changes["tags"] is not None:
        tags = changes["tags"]
        add, remove = set(_get_attr(tags, "add")), set(_get_attr(tags, "remove"))
        if add & remove:
            raise ValueError("a tag cannot be both added and removed")
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
            raise ValueError(f"{required} cannot be empty")
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


def _write(ticket_id: str, version: int, actions: list[Action], condition: Any = None) -> Ticket:
    """One UpdateItem conditional on ``version`` (which it increments); the new item comes back."""
    t = Ticket(ticket_id)
    now = _now()
    cond = Ticket.version == version
    if condition is not None:
        cond &= condition
    try:
        t.update(actions=[*actions, Ticket.version.add(1), Ticket.updated_at.set(now)], condition=cond)
    except UpdateError as exc:
        if _condition_failed(exc):
            raise Conflict(f"the ticket changed since version {version}: read it again") from exc
        raise
    return t


def _retrying(ticket_id: str, build: Any) -> tuple[Ticket, Ticket] | None:
    """Re-read and retry an internal write that lost a race: ``build(ticket)`` returns the actions
    (or None: nothing to do). Returns (before, after) or None."""
    for _ in range(WRITE_ATTEMPTS):
        before = get(ticket_id, consistent=True)
        actions = build(before)
        if not actions:
            return None
        try:
            return before, _write(ticket_id, int(before.version), actions)
        except Conflict:
            continue
    raise Conflict("the ticket keeps changing: try again")


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
        _check_people(
            delta.get("assignee_id", {}).get("to"),
            delta.get("group_id", {}).get("to"),
        )
        if "category" in delta and "custom_fields" not in delta and before.custom_fields:
            rules.validate_custom_fields(delta["category"]["to"], as_dict(before.custom_fields))
        try:
            after = _write(ticket_id, int(before.version), _actions(before, delta, _now()))
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
        _sla_changed(after, reason)
    for name in ("priority", "category"):
        if name in delta:
            _sla_changed(after, name)
    if status_to and notify_customer and after.requester_id and after.parent_id is None:
        text = rules.render(f"status.{status_to}", after.language, number=after.number, subject=after.subject)
        _tell(after, text, f"status.{status_to}")
        if status_to == "solved" and not after.csat_sent_at:
            _send_survey(after)
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
        raise ValueError("give an assignee_id or a group_id")
    return update(ticket_id, actor, changes)


def patch(p: Principal, ticket_id: str, changes: Mapping[str, Any], version: int) -> Ticket:
    """PATCH /tickets/{id}: an agent's change (the agent must see the ticket as it is now)."""
    check_access(p, get(ticket_id))
    return update(ticket_id, p.agent_id, changes, version=version)


# ---- customer-facing messages ------------------------------------------------------------------
def _tell(
    t: Ticket, text: str, what: str, author: str = "system", prefer: str | None = None
) -> notify.Notice:
    """Send to the ticket's customer and record it (notified / not_notified with the reason)."""
    try:
        notice = notify.send(
            t.requester_id, text, author=author, linked=set(t.conversation_ids or ()), prefer=prefer
        )
    except Exception:  # noqa: BLE001 — a progress message must never undo the change that caused it
        logger.exception("ticket notice failed", extra={"ticket_id": t.ticket_id, "what": what})
        notice = notify.Notice(False, reason="could not be queued")
    add_event(
        t.ticket_id,
        "notified" if notice.sent else "not_notified",
        author,
        text=text,
        public=notice.sent,
        data={
            "what": what,
            "conversation_id": notice.conversation_id,
            "seq": notice.seq,
            "channel": notice.channel,
            "reason": notice.reason,
        },
    )
    return notice


def _send_survey(t: Ticket) -> None:
    notice = _tell(t, rules.render("csat", t.language), "csat")
    if not notice.sent:
        return
    now = _now()
    _retrying(t.ticket_id, lambda cur: None if cur.csat_sent_at else [Ticket.csat_sent_at.set(now)])


def comment(p: Principal, ticket_id: str, text: str, public: bool) -> dict[str, Any]:
    """An internal comment, or a public reply that goes out on the customer's channel: through
    ``outbound.reply`` on an open conversation (the agent's reply, as in the inbox), else on the
    customer's last channel. 409 when the customer cannot be reached."""
    t = get(ticket_id)
    check_access(p, t)
    if not public:
        event = add_event(ticket_id, "comment", p.agent_id, text=text)
        return {"event": event_view(event)}
    if not t.requester_id:
        raise NotAllowed("the ticket has no customer to reply to")
    out = rules.render("reply", t.language, number=t.number, text=text)
    conversation = notify.pick_conversation(t.requester_id, set(t.conversation_ids or ()))
    if conversation is not None and conversation.status == OPEN:
        from chalicelib.outbound import service as outbound

        message = outbound.reply(
            conversation.conversation_id, p.agent_id, out, channel=None, may_take_over=True
        )
        notice = notify.Notice(True, conversation.conversation_id, int(message.seq), message.channel)
    else:
        notice = notify.send(t.requester_id, out, author=p.agent_id, linked=set(t.conversation_ids or ()))
    if not notice.sent:
        raise NotAllowed(f"the customer cannot be reached: {notice.reason}")
    event = add_event(
        ticket_id,
        "reply",
        p.agent_id,
        text=text,
        public=True,
        data={"conversation_id": notice.conversation_id, "seq": notice.seq, "channel": notice.channel},
    )
    now = _now()

    def replied(cur: Ticket) -> list[Action]:
        acts: list[Action] = [
            Ticket.last_public_reply_at.set(now),
            Ticket.first_responded_at.set(Ticket.first_responded_at | now),
        ]
        if cur.status == "new":
            acts += [Ticket.status.set("open")]
        return acts

    moved = _retrying(ticket_id, replied)
    if moved is not None:
        before, after = moved
        if before.status == "new":
            add_event(ticket_id, "changed", p.agent_id, changes={"status": {"from": "new", "to": "open"}})
        _sla_changed(after, "public_reply")
    return {"event": event_view(event), "conversation_id": notice.conversation_id, "seq": notice.seq}


# ---- sub-tickets -------------------------------------------------------------------------------
def create_subticket(p: Principal, parent_id: str, b: SubticketBody) -> Ticket:
    """A parallel part of the work for another department, with its own owner and SLA. The
    parent's ``children_total`` and the child are written in one transaction (the parent must be
    active), so the parent's progress never counts a child that does not exist."""
    parent = get(parent_id)
    check_access(p, parent)
    if parent.parent_id:
        raise ValueError("a sub-ticket cannot have sub-tickets")
    _check_people(b.assignee_id, b.group_id)
    now = _now()
    child = _new_ticket(
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
    _sla_changed(child, "created")
    return child


def _child_moved(parent_id: str, child: Ticket, moved: int, actor: str) -> None:
    """A sub-ticket became done (+1) or was reopened (-1): an atomic ADD on the parent; whoever
    makes ``children_done`` reach ``children_total`` solves the parent (exactly one writer does)."""
    parent = Ticket(parent_id)
    try:
        parent.update(
            actions=[Ticket.children_done.add(moved), Ticket.version.add(1), Ticket.updated_at.set(_now())],
            condition=Ticket.ticket_id.exists(),
        )
    except UpdateError as exc:
        if _condition_failed(exc):
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


def children(parent_id: str) -> list[Ticket]:
    return list(Ticket.by_parent.query(parent_id))


# ---- reading -----------------------------------------------------------------------------------
def summary(t: Ticket) -> dict[str, Any]:
    out = to_json(t)
    if t.children_total:
        out["progress"] = rules.progress(int(t.children_total or 0), int(t.children_done or 0))
    return out


def event_view(e: TicketEvent) -> dict[str, Any]:
    out = to_json(e)
    out["at"] = e.event_key.split("#", 1)[0]
    out["public"] = e.public == "1"
    return out


def view(p: Principal, ticket_id: str) -> dict[str, Any]:
    """The ticket, its history, its sub-tickets (progress) and its linked conversations."""
    from chalicelib import workspace

    t = get(ticket_id)
    check_access(p, t)
    linked = sorted(t.conversation_ids or ())
    convs = list(Conversation.batch_get(linked)) if linked else []
    return {
        "ticket": summary(t),
        "history": [event_view(e) for e in history(ticket_id)],
        "children": [summary(c) for c in children(ticket_id)] if t.children_total else [],
        "conversations": [
            workspace.conversation_summary(c) for c in sorted(convs, key=lambda c: c.created_at)
        ],
    }


VIEWS = ("mine", "group", "status", "overdue", "requester")


def list_view(
    p: Principal,
    view_name: str,
    *,
    group: str | None = None,
    status: str | None = None,
    customer_id: str | None = None,
    cursor: str | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """GET /tickets?view=…: each view one Query on an index (most recently updated first; overdue:
    the earliest deadline first). Agents' pages are filtered to what they may see."""
    from chalicelib import workspace

    after = workspace.decode_cursor(cursor)
    groups = agents.groups_of(p.agent_id)
    visible: Any = None
    if not p.allows("supervisor"):
        visible = (Ticket.assignee_id == p.agent_id) | (Ticket.created_by == p.agent_id)
        if groups:
            visible = visible | Ticket.group_id.is_in(*sorted(groups))
    common: dict[str, Any] = {"limit": limit, "last_evaluated_key": after}
    if view_name == "mine":
        page = Ticket.by_assignee.query(p.agent_id, scan_index_forward=False, **common)
    elif view_name == "group":
        if group is None:
            if len(groups) != 1:
                raise ValueError("give ?group= (you are in several groups, or none)")
            group = next(iter(groups))
        if not p.allows("supervisor") and group not in groups:
            raise Forbidden("you are not in this group")
        page = Ticket.by_group.query(group, scan_index_forward=False, **common)
    elif view_name == "status":
        if status not in rules.TRANSITIONS:
            raise ValueError(f"give ?status= one of {', '.join(rules.TRANSITIONS)}")
        page = Ticket.by_status.query(status, scan_index_forward=False, filter_condition=visible, **common)
    elif view_name == "overdue":
        page = Ticket.by_due.query(
            DUE_SHARD, Ticket.sla_next_due < _now(), filter_condition=visible, **common
        )
    elif view_name == "requester":
        if not customer_id:
            raise ValueError("give ?customer_id=")
        page = Ticket.by_requester.query(
            customer_id, scan_index_forward=False, filter_condition=visible, **common
        )
    else:
        raise ValueError(f"view must be one of {', '.join(VIEWS)}")
    items = [summary(t) for t in page]
    return {"items": items, "next_cursor": workspace.encode_cursor(page.last_evaluated_key)}


def tickets_of(customer_id: str, limit: int = 20) -> list[Ticket]:
    """A customer's tickets, newest first (customer 360)."""
    return list(Ticket.by_requester.query(customer_id, scan_index_forward=False, limit=limit))


# ---- inbound messages (router hook) ------------------------------------------------------------
def ticket_accounts() -> set[str]:
    """E-mail accounts whose mail becomes tickets: ``OMNIFLOW_TICKET_ADDRESSES`` (comma-separated
    e-mail channel account names, e.g. ``support``)."""
    return {a.strip() for a in os.environ.get("OMNIFLOW_TICKET_ADDRESSES", "").split(",") if a.strip()}


def on_inbound(stored: conversations.Stored, msg: InboundMessage, *, answer_status: bool = True) -> None:
    """After the router stored a customer's message. Never raises: a failure here is logged and
    must not send the message back to the queue (it is stored; a redelivery would be skipped).
    ``answer_status`` False: the bot has answered the message already (its own ticket flow)."""
    if stored.duplicate or msg.type in ("status", "event") or conversations.spoken_by_agent(msg):
        return
    try:
        _on_inbound(stored, msg, answer_status)
    except Exception:  # noqa: BLE001 — the message is stored; a retry would be skipped as a duplicate
        logger.exception("ticket hook failed", extra={"conversation_id": stored.conversation.conversation_id})


def _on_inbound(stored: conversations.Stored, msg: InboundMessage, answer_status: bool = True) -> None:
    c = stored.conversation
    if msg.channel == "email" and msg.account in ticket_accounts():
        if not msg.reply_context.get("auto_submitted"):
            _email(c, msg, stored.new_conversation)
        return
    score = rules.parse_csat(msg.text)
    if score is not None and _csat(c, score, stored.new_conversation):
        return
    linked = [tid for tid in sorted(c.ticket_ids or ())]
    for tid in linked:
        _customer_replied(tid, c, msg)
    if answer_status and rules.is_status_question(msg.text):
        _answer_status(c, msg)


def _customer_replied(ticket_id: str, c: Conversation, msg: InboundMessage) -> None:
    now = _now()

    def build(cur: Ticket) -> list[Action] | None:
        if cur.status not in ACTIVE:
            return None
        acts: list[Action] = [Ticket.last_customer_reply_at.set(now), Ticket.channel.set(msg.channel)]
        if cur.status == "pending_customer":
            acts.append(Ticket.status.set("open"))
        if c.conversation_id not in (cur.conversation_ids or set()):
            acts.append(Ticket.conversation_ids.add({c.conversation_id}))
        return acts

    try:
        moved = _retrying(ticket_id, build)
    except KeyError:
        return
    if moved is None:
        return
    before, after = moved
    add_event(
        ticket_id,
        "customer_reply",
        f"customer:{c.customer_id}",
        text=msg.text[:4000] or f"[{msg.type}]",
        public=True,
        data={"conversation_id": c.conversation_id, "channel": msg.channel},
    )
    if before.status == "pending_customer":
        add_event(ticket_id, "changed", "system", changes={"status": {"from": before.status, "to": "open"}})
    _sla_changed(after, "customer_reply")


def _email(c: Conversation, msg: InboundMessage, new_conversation: bool) -> None:
    subject = msg.reply_context.get("subject") or ""
    number = rules.ticket_number_in(subject)
    if number is not None:
        try:
            t = get(ticket_id_of(number), consistent=True)
        except KeyError:
            t = None
        if t is not None and t.requester_id == c.customer_id and t.status in ACTIVE:
            if c.conversation_id not in (t.conversation_ids or set()):
                from chalicelib.conversations import actions as conversation_actions

                conversation_actions.link_ticket(c, "system", t.ticket_id)
            _customer_replied(t.ticket_id, c, msg)
            return
    active_linked = [tid for tid in sorted(c.ticket_ids or ())]
    if active_linked and not new_conversation:
        for tid in active_linked:
            _customer_replied(tid, c, msg)
        if any(get(tid).status in ACTIVE for tid in active_linked):
            return
    ticket_id = _claim_source(f"email#{msg.dedupe_key}", ticket_id_of(new_number()))
    create(
        subject=rules.short(subject, 200) or rules.default_subject(msg.text),
        actor="system",
        source="email",
        description=msg.text or None,
        requester_id=c.customer_id,
        group_id=c.group_id,
        conversation_id=c.conversation_id,
        channel="email",
        language=rules.language_of(f"{subject} {msg.text}"),
        ticket_id=ticket_id,
    )


def _csat(c: Conversation, score: int, new_conversation: bool) -> bool:
    """Store a 1–5 answer on the most recently surveyed ticket still waiting for one (7 days);
    a conversation the answer opened is closed again (it is not a new question)."""
    since = iso(utcnow() - CSAT_WINDOW)
    candidates = [
        t
        for t in Ticket.by_requester.query(
            c.customer_id,
            scan_index_forward=False,
            limit=20,
            filter_condition=(Ticket.csat_sent_at >= since) & Ticket.csat_score.does_not_exist(),
        )
    ]
    if not candidates:
        return False
    target = max(candidates, key=lambda t: str(t.csat_sent_at))
    moved = _retrying(
        target.ticket_id, lambda cur: None if cur.csat_score is not None else [Ticket.csat_score.set(score)]
    )
    if moved is None:
        return False
    add_event(
        target.ticket_id,
        "csat",
        f"customer:{c.customer_id}",
        data={"score": score, "conversation_id": c.conversation_id},
    )
    notify.send(
        c.customer_id, rules.render("csat.thanks", target.language), author="bot", prefer=c.conversation_id
    )
    if new_conversation:
        _close_quietly(c)
    return True


def _close_quietly(c: Conversation) -> None:
    """Close a conversation that only carried a survey answer (as the close route does)."""
    from chalicelib.assignment import service as assignment
    from chalicelib.sla import service as sla

    try:
        closed = conversations.close(c.conversation_id, "bot")
    except NotAllowed:
        return
    sla.stop_first_response_clock(c.conversation_id, "survey answer")
    assignment.closed(closed)


def _answer_status(c: Conversation, msg: InboundMessage) -> None:
    """The bot answers "what's the status of my ticket/order" with the customer's open tickets."""
    open_tickets = list(
        Ticket.by_requester.query(
            c.customer_id,
            scan_index_forward=False,
            limit=20,
            filter_condition=Ticket.status.is_in(*ACTIVE),
        )
    )[:STATUS_ANSWER_TICKETS]
    if not open_tickets:
        return  # nothing to report: the question (e.g. about an order) is the agents' to answer
    language = rules.language_of(
        msg.text, default=open_tickets[0].language if open_tickets and open_tickets[0].language else "en"
    )
    text = rules.status_summary(
        [{"number": t.number, "subject": t.subject, "status": t.status} for t in open_tickets], language
    )
    notice = notify.send(c.customer_id, text, author="bot", prefer=c.conversation_id)
    for t in open_tickets:
        add_event(
            t.ticket_id,
            "status_answered",
            "bot",
            text=text,
            public=notice.sent,
            data={"conversation_id": c.conversation_id},
        )
