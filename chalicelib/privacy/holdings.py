"""Everything Omniflow holds about one customer, found by keys and indexes built for it (GetItem and
Queries: the customer, identities by_customer, conversations by_customer, each conversation's
messages, tickets by_requester and their sub-tickets by_parent, each ticket's history, the audit
trail). Export shows it; erasure deletes it."""

from __future__ import annotations

from dataclasses import dataclass, field

from chalicelib.audit.models import AuditRecord
from chalicelib.conversations.models import Conversation, Message
from chalicelib.errors import NotFound
from chalicelib.identity.models import Customer, Identity
from chalicelib.tickets.models import Ticket, TicketEvent


@dataclass
class Holdings:
    customer_id: str
    customers: list[Customer]  # the customer, and any customer merged into them
    identities: list[Identity] = field(default_factory=list)
    conversations: list[Conversation] = field(default_factory=list)
    messages: dict[str, list[Message]] = field(default_factory=dict)  # by conversation id
    tickets: list[Ticket] = field(default_factory=list)
    ticket_events: dict[str, list[TicketEvent]] = field(default_factory=dict)  # by ticket id
    audit: list[AuditRecord] = field(default_factory=list)

    @property
    def customer_ids(self) -> list[str]:
        return [c.customer_id for c in self.customers]

    @property
    def conversation_ids(self) -> list[str]:
        return [c.conversation_id for c in self.conversations]

    def texts(self) -> set[str]:
        """The customer's own words (message texts), for handlers that keep text without an id."""
        return {
            m.text.strip()
            for ms in self.messages.values()
            for m in ms
            if m.direction == "in" and m.text and m.text.strip()
        }


def collect(customer_id: str, *, missing_ok: bool = False) -> Holdings:
    """What is held about ``customer_id`` (a merged-away id: the customer it was merged into)."""
    try:
        customer = Customer.get(customer_id, consistent_read=True)
    except Customer.DoesNotExist as exc:
        if not missing_ok:
            raise NotFound(f"customer {customer_id}") from exc
        return Holdings(customer_id, [])
    customers = [customer]
    while customer.merged_into and customer.merged_into not in {c.customer_id for c in customers}:
        try:
            customer = Customer.get(customer.merged_into, consistent_read=True)
        except Customer.DoesNotExist:
            break
        customers.append(customer)
    held = Holdings(customer_id, customers)
    for cid in held.customer_ids:
        held.identities += list(Identity.by_customer.query(cid))
        held.conversations += list(Conversation.by_customer.query(cid))
        held.tickets += list(Ticket.by_requester.query(cid))
        held.audit += list(AuditRecord.query(f"customer#{cid}"))
    for c in held.conversations:
        held.messages[c.conversation_id] = list(Message.query(c.conversation_id, consistent_read=True))
    children = [child for t in held.tickets for child in Ticket.by_parent.query(t.ticket_id)]
    held.tickets += [c for c in children if c.ticket_id not in {t.ticket_id for t in held.tickets}]
    for t in held.tickets:
        held.ticket_events[t.ticket_id] = list(TicketEvent.query(t.ticket_id))
    return held
