"""Tickets: a promise with an owner, a deadline and progress the customer sees.

Created from a conversation (one click), the API, a device's fault alert, an e-mail to a support
address, or the bot; numbered from an atomic counter (ticket id ``tkt_<number>``, so an e-mail
subject's ``[#10042]`` is one GetItem away). Every write to a ticket is conditional on its
``version`` and increments it: an agent's PATCH carries the version it read (409 if the ticket
moved); internal writers (sub-ticket progress, the SLA escalation) re-read and retry. Each change is
an append-only ``TicketEvent`` with before → after.

Side effects of a change: the SLA clock hears of anything that moves deadlines (the
``TicketChanged`` event); the customer gets a progress message on their last channel (``notify``);
a solved ticket sends a one-question CSAT survey; a sub-ticket becoming done (or reopened) moves its
parent's ``children_done``, and the parent is solved when all are done.

This module is the capability's public face (what app.py, the router, the workspace and the SLA
escalation call); each job lives in its own file:

- ``store``: numbers, reads, history, who may see a ticket, the version-checked write;
- ``creation``: from the API, a conversation, the bot, a device alert;
- ``changes``: PATCH, priority and assignee changes, sub-tickets and their parent's progress;
- ``comments``: internal comments, public replies and the notices the customer gets;
- ``views``: one ticket, the list views, a customer's tickets;
- ``inbound``: the router's hook (e-mail tickets, CSAT answers, customer replies, status questions).
"""

from __future__ import annotations

from chalicelib.tickets.changes import assign, create_subticket, patch, set_priority, update
from chalicelib.tickets.comments import comment
from chalicelib.tickets.creation import (
    create,
    create_from_alert,
    create_from_api,
    create_from_bot,
    create_from_conversation,
    verify_alert,
)
from chalicelib.tickets.inbound import on_inbound
from chalicelib.tickets.store import (
    NUMBER_BASE,
    Conflict,
    add_event,
    check_access,
    get,
    history,
    may_see,
    new_number,
    number_of,
    ticket_id_of,
)
from chalicelib.tickets.views import (
    VIEWS,
    children,
    event_view,
    list_view,
    summary,
    ticket_accounts,
    tickets_of,
    view,
)

__all__ = [
    "NUMBER_BASE",
    "VIEWS",
    "Conflict",
    "add_event",
    "assign",
    "check_access",
    "children",
    "comment",
    "create",
    "create_from_alert",
    "create_from_api",
    "create_from_bot",
    "create_from_conversation",
    "create_subticket",
    "event_view",
    "get",
    "history",
    "list_view",
    "may_see",
    "new_number",
    "number_of",
    "on_inbound",
    "patch",
    "set_priority",
    "summary",
    "ticket_accounts",
    "ticket_id_of",
    "tickets_of",
    "update",
    "verify_alert",
    "view",
]
