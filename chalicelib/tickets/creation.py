"""Creating tickets: from the API, a conversation (one click), the bot, a device's signed fault alert;
numbered from an atomic counter, deduplicated by source, announced to the SLA clock and the customer.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError

from chalicelib import channels
from chalicelib.auth.service import AuthError, Principal
from chalicelib.conversations import access as conversation_access
from chalicelib.conversations import service as conversations
from chalicelib.conversations.models import Conversation
from chalicelib.conversations.service import NotAllowed
from chalicelib.errors import Invalid
from chalicelib.identity import service as identity
from chalicelib.identity.models import Customer, Identity
from chalicelib.messages import InboundMessage, utcnow
from chalicelib.tickets import rules
from chalicelib.tickets.bodies import AlertBody, FromConversationBody, TicketBody
from chalicelib.tickets.comments import tell
from chalicelib.tickets.models import PRIORITIES, Ticket
from chalicelib.tickets.store import (
    add_event,
    check_people,
    claim_source,
    condition_failed,
    get,
    new_number,
    now_iso,
    number_of,
    sla_changed,
    ticket_id_of,
)


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
        raise Invalid(f"priority must be one of {', '.join(PRIORITIES)}")
    check_people(assignee_id, group_id)
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
    now = now_iso()
    ticket = new_ticket(
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
        if condition_failed(exc):
            return get(ticket_id, consistent=True)  # a retry of the same creation
        raise
    _created(ticket, actor, conversation, notify_customer)
    return ticket


def new_ticket(ticket_id: str, now: str, **fields: Any) -> Ticket:
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
    sla_changed(ticket, "created")
    if notify_customer and ticket.requester_id:
        tell(
            ticket,
            rules.render("created", ticket.language, number=ticket.number, subject=ticket.subject),
            "created",
        )


def create_from_api(p: Principal, b: TicketBody) -> Ticket:
    """POST /tickets: an agent's ticket (a conversation given is linked; agents must see it)."""
    if b.conversation_id:
        conversation_access.check_access(p, conversations.get(b.conversation_id))
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
    c = conversations.get(conversation_id)
    conversation_access.check_access(p, c)
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
        ticket_id = claim_source(f"bot#{dedupe_key}", ticket_id_of(new_number()))
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
    ticket_id = claim_source(f"alert#{account}#{b.alert_id}", ticket_id_of(number))
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
        Identity(key, customer_id=customer_id, kind=kind, created_at=now_iso()).save(
            condition=Identity.identity_key.does_not_exist()
        )
        return customer_id
    except PutError as exc:
        if not condition_failed(exc):
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
            raise Invalid(str(exc)) from exc
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
    now = now_iso()
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
