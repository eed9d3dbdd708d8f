"""What the agent console reads: inbox lists and the conversation view with the customer's whole
cross-channel history. Access rule: agents see their skill groups' conversations and their own;
supervisors and admins see all."""

from __future__ import annotations

import base64
import json
from typing import Any

from chalicelib.agents import service as agents
from chalicelib.auth.service import Forbidden, Principal
from chalicelib.conversations import service as conversations
from chalicelib.conversations.models import Conversation, Message
from chalicelib.db import to_json
from chalicelib.identity import service as identity
from chalicelib.identity.models import Customer

HISTORY_CONVERSATIONS = 20


def encode_cursor(key: dict[str, Any] | None) -> str | None:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode() if key else None


def decode_cursor(cursor: str | None) -> dict[str, Any] | None:
    if not cursor:
        return None
    try:
        value = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError) as exc:
        raise KeyError("cursor") from exc
    if not isinstance(value, dict):
        raise KeyError("cursor")
    return value


def conversation_summary(c: Conversation, customer: Customer | None = None) -> dict[str, Any]:
    data = to_json(c)
    for internal in ("queue_key", "owner_key", "next_seq", "last_reply_context", "sla_execution_arn"):
        data.pop(internal, None)
    data["channels"] = sorted(c.channels or [])
    if customer is not None:
        data["customer"] = {"customer_id": customer.customer_id, "display_name": customer.display_name}
    return data


def message_view(m: Message) -> dict[str, Any]:
    data = to_json(m)
    for internal in ("dedupe_key", "mailbox_key", "expires_at", "reply_context"):
        data.pop(internal, None)
    return data


def customer_view(c: Customer) -> dict[str, Any]:
    data = to_json(c)
    for key in ("phones", "emails", "unionids", "tags"):
        data[key] = sorted(data.get(key) or [])
    data.pop("version", None)
    return data


def _customers(ids: list[str]) -> dict[str, Customer]:
    return {c.customer_id: c for c in Customer.batch_get(list(dict.fromkeys(ids)))} if ids else {}


def inbox(p: Principal, view: str, group: str | None, cursor: str | None, limit: int = 50) -> dict[str, Any]:
    """``mine``: open conversations I own. ``queue``: waiting, unassigned ones in my groups (or one
    group). Each a Query on a sparse index; the page's customers come in one BatchGetItem."""
    if view == "mine":
        items, last = conversations.owned_by(p.agent_id, limit, decode_cursor(cursor))
    elif view == "queue":
        groups = [group] if group else sorted(agents.groups_of(p.agent_id))
        if group and not p.allows("supervisor") and group not in agents.groups_of(p.agent_id):
            raise Forbidden("not a member of that group")
        if len(groups) != 1 and cursor:
            raise KeyError("cursor (pass group= to page through one queue)")
        items, last = [], None
        for g in groups:
            page, page_last = conversations.queue(g, limit, decode_cursor(cursor))
            items.extend(page)
            last = page_last if len(groups) == 1 else None
        items.sort(key=lambda c: c.queued_at or "")
    else:
        raise KeyError(f"view {view}")
    customers = _customers([c.customer_id for c in items])
    return {
        "items": [conversation_summary(c, customers.get(c.customer_id)) for c in items],
        "next_cursor": encode_cursor(last),
    }


def check_access(p: Principal, c: Conversation) -> None:
    if p.allows("supervisor") or c.assignee_id == p.agent_id:
        return
    if c.group_id not in agents.groups_of(p.agent_id):
        raise Forbidden("this conversation belongs to another skill group")


def conversation_view(p: Principal, conversation_id: str) -> dict[str, Any]:
    """The conversation, its customer, and the customer's history across every channel and
    conversation (most recent conversations first, messages in order within each)."""
    c = conversations.get(conversation_id)
    check_access(p, c)
    customer = identity.get_customer(c.customer_id)
    history = conversations.conversations_of(customer.customer_id, HISTORY_CONVERSATIONS)
    if all(h.conversation_id != c.conversation_id for h in history):
        history.insert(0, c)
    timeline: list[dict[str, Any]] = []
    for conv in sorted(history, key=lambda h: h.created_at):
        for m in conversations.messages_of(conv.conversation_id):
            timeline.append(message_view(m))
    return {
        "conversation": conversation_summary(c),
        "customer": customer_view(customer),
        "identities": [to_json(i) for i in identity.identities_of(customer.customer_id)],
        "conversations": [conversation_summary(h) for h in history],
        "messages": timeline,
    }
