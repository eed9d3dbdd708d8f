"""How tickets read: one ticket with its history, sub-tickets and conversations; the list views (each
one Query on an index); a customer's tickets.
"""

from __future__ import annotations

import os
from typing import Any

from chalicelib import paging
from chalicelib.agents import service as agents
from chalicelib.auth.service import Forbidden, Principal
from chalicelib.conversations.models import Conversation
from chalicelib.conversations.views import conversation_summary
from chalicelib.db import to_json
from chalicelib.errors import Invalid
from chalicelib.tickets import rules
from chalicelib.tickets.models import DUE_SHARD, Ticket, TicketEvent
from chalicelib.tickets.store import check_access, get, history, now_iso


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


def children(parent_id: str) -> list[Ticket]:
    return list(Ticket.by_parent.query(parent_id))


def view(p: Principal, ticket_id: str) -> dict[str, Any]:
    """The ticket, its history, its sub-tickets (progress) and its linked conversations."""
    t = get(ticket_id)
    check_access(p, t)
    linked = sorted(t.conversation_ids or ())
    convs = list(Conversation.batch_get(linked)) if linked else []
    return {
        "ticket": summary(t),
        "history": [event_view(e) for e in history(ticket_id)],
        "children": [summary(c) for c in children(ticket_id)] if t.children_total else [],
        "conversations": [conversation_summary(c) for c in sorted(convs, key=lambda c: c.created_at)],
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
    after = paging.decode_cursor(cursor)
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
                raise Invalid("give ?group= (you are in several groups, or none)")
            group = next(iter(groups))
        if not p.allows("supervisor") and group not in groups:
            raise Forbidden("you are not in this group")
        page = Ticket.by_group.query(group, scan_index_forward=False, **common)
    elif view_name == "status":
        if status not in rules.TRANSITIONS:
            raise Invalid(f"give ?status= one of {', '.join(rules.TRANSITIONS)}")
        page = Ticket.by_status.query(status, scan_index_forward=False, filter_condition=visible, **common)
    elif view_name == "overdue":
        page = Ticket.by_due.query(
            DUE_SHARD, Ticket.sla_next_due < now_iso(), filter_condition=visible, **common
        )
    elif view_name == "requester":
        if not customer_id:
            raise Invalid("give ?customer_id=")
        page = Ticket.by_requester.query(
            customer_id, scan_index_forward=False, filter_condition=visible, **common
        )
    else:
        raise Invalid(f"view must be one of {', '.join(VIEWS)}")
    items = [summary(t) for t in page]
    return {"items": items, "next_cursor": paging.encode_cursor(page.last_evaluated_key)}


def tickets_of(customer_id: str, limit: int = 20) -> list[Ticket]:
    """A customer's tickets, newest first (customer 360)."""
    return list(Ticket.by_requester.query(customer_id, scan_index_forward=False, limit=limit))


def ticket_accounts() -> set[str]:
    """E-mail accounts whose mail becomes tickets: ``OMNIFLOW_TICKET_ADDRESSES`` (comma-separated
    e-mail channel account names, e.g. ``support``)."""
    return {a.strip() for a in os.environ.get("OMNIFLOW_TICKET_ADDRESSES", "").split(",") if a.strip()}
