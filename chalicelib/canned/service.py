"""Canned replies: create, edit, delete, search, and fill in for a conversation.

Who sees what: an agent sees their own personal replies, their skill groups' team replies and the
team replies for everyone (``group_id = "all"``). Another agent's personal replies do not exist for
them (404). Team replies are created and edited by supervisors (and admins); personal ones only
by their owner. Every edit and delete is conditional on the version that was read and checked,
so a reply moved to a team in between cannot then be changed by its former owner; usage is an
atomic ADD.

Reads are Queries on the ``by_scope`` index — one per scope the agent can see (personal, each of
their groups, everyone's): small partitions, no Scan — ranked in memory by ``text.rank``.
"""

from __future__ import annotations

import uuid
from typing import Any

from pynamodb.exceptions import DeleteError, DoesNotExist, PutError, UpdateError
from pynamodb.expressions.update import Action

from chalicelib.agents import service as agents
from chalicelib.auth.service import Forbidden, Principal
from chalicelib.canned.bodies import CannedReplyBody, CannedReplyChanges
from chalicelib.canned.models import ALL_GROUPS, PERSONAL, TEAM, CannedReply, scope_key
from chalicelib.canned.text import Searchable, rank, render, variables_in
from chalicelib.conversations import access as conversation_access
from chalicelib.conversations import service as conversations
from chalicelib.conversations.service import NotAllowed
from chalicelib.db import to_json
from chalicelib.errors import NotFound
from chalicelib.identity import service as identity
from chalicelib.identity.models import Customer
from chalicelib.messages import iso, utcnow
from chalicelib.orders import service as orders
from chalicelib.orders.models import Order, OrdersAnswer

SEARCH_LIMIT = 50


class Conflict(NotAllowed):
    """Someone changed or deleted the reply since it was read (409)."""


def new_reply_id() -> str:
    return f"cr_{uuid.uuid4().hex[:20]}"


def _condition_failed(exc: Exception) -> bool:
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


# ---- who may do what (pure) -------------------------------------------------------------------------
def visible_to(p: Principal, reply: CannedReply, groups: set[str]) -> bool:
    if reply.scope == PERSONAL:
        return reply.owner_id == p.agent_id
    return reply.group_id == ALL_GROUPS or reply.group_id in groups or p.allows("supervisor")


def editable_by(p: Principal, reply: CannedReply) -> bool:
    if reply.scope == PERSONAL:
        return reply.owner_id == p.agent_id
    return p.allows("supervisor")


def view(reply: CannedReply, p: Principal | None = None) -> dict[str, Any]:
    data = to_json(reply)
    data.pop("scope_key", None)
    data["tags"] = sorted(reply.tags or [])
    data["variables"] = variables_in(reply.body)
    if p is not None:
        data["editable"] = editable_by(p, reply)
    return data


def _target_scope(p: Principal, scope: str, group_id: str | None) -> str:
    """The scope key a reply may be stored under by ``p``; Forbidden/KeyError otherwise."""
    if scope == TEAM:
        if not p.allows("supervisor"):
            raise Forbidden("team replies are managed by supervisors")
        if group_id != ALL_GROUPS and not agents.get_groups([str(group_id)]):
            raise NotFound(f"skill group {group_id}")
        return scope_key(TEAM, group_id=group_id)
    return scope_key(PERSONAL, owner_id=p.agent_id)


# ---- reads ----------------------------------------------------------------------------------------
def get_visible(p: Principal, reply_id: str, groups: set[str] | None = None) -> CannedReply:
    """The reply if ``p`` may see it; KeyError otherwise (another's personal reply is not shown to
    exist)."""
    try:
        reply = CannedReply.get(reply_id, consistent_read=True)
    except DoesNotExist as exc:
        raise NotFound(f"canned reply {reply_id}") from exc
    if not visible_to(p, reply, agents.groups_of(p.agent_id) if groups is None else groups):
        raise NotFound(f"canned reply {reply_id}")
    return reply


def search(
    p: Principal, query: str = "", group: str | None = None, limit: int = SEARCH_LIMIT
) -> list[CannedReply]:
    """Replies ``p`` can use matching ``query``, best first. ``group`` narrows the team replies to
    one skill group's (plus everyone's) — the conversation's group in the console."""
    mine = agents.groups_of(p.agent_id)
    if group is not None:
        if group not in mine and not p.allows("supervisor"):
            raise Forbidden("not a member of that group")
        groups = {group}
    else:
        groups = mine
    keys = [scope_key(PERSONAL, owner_id=p.agent_id), ALL_GROUPS, *(f"group#{g}" for g in sorted(groups))]
    found = [r for key in keys for r in CannedReply.by_scope.query(key)]
    docs = [
        (Searchable(r.title, r.body, r.shortcut, tuple(sorted(r.tags or ())), int(r.use_count or 0)), r)
        for r in found
    ]
    return rank(docs, query)[: max(1, min(limit, 200))]


# ---- writes ---------------------------------------------------------------------------------------
def create(p: Principal, b: CannedReplyBody) -> CannedReply:
    """A new personal reply of ``p``'s, or (supervisors) a team reply."""
    key = _target_scope(p, b.scope, b.group_id)
    now = iso(utcnow())
    reply = CannedReply(
        new_reply_id(),
        scope_key=key,
        scope=b.scope,
        owner_id=p.agent_id if b.scope == PERSONAL else None,
        group_id=b.group_id if b.scope == TEAM else None,
        title=b.title,
        shortcut=b.shortcut or None,
        body=b.body,
        language=b.language,
        tags=set(b.tags) or None,
        use_count=0,
        version=0,
        created_by=p.agent_id,
        created_at=now,
        updated_by=p.agent_id,
        updated_at=now,
    )
    try:
        reply.save(condition=CannedReply.reply_id.does_not_exist())
    except PutError as exc:
        if _condition_failed(exc):  # a 80-bit id collision: astronomically rare, never silent
            raise Conflict("reply id already taken; try again") from exc
        raise
    return reply


def _editable(p: Principal, reply_id: str, expected_version: int | None) -> CannedReply:
    reply = get_visible(p, reply_id)
    if not editable_by(p, reply):
        raise Forbidden("team replies are managed by supervisors" if reply.scope == TEAM else "not yours")
    if expected_version is not None and expected_version != reply.version:
        raise Conflict(f"the reply changed since you read it (now version {reply.version})")
    return reply


def update(p: Principal, reply_id: str, c: CannedReplyChanges) -> CannedReply:
    """Change the given fields. Conditional on the version read (and checked) here."""
    reply = _editable(p, reply_id, c.version)
    actions: list[Action] = []
    if c.title is not None:
        actions.append(CannedReply.title.set(c.title))
    if c.body is not None:
        actions.append(CannedReply.body.set(c.body))
    if c.shortcut is not None:
        actions.append(CannedReply.shortcut.set(c.shortcut) if c.shortcut else CannedReply.shortcut.remove())
    if c.language is not None:
        actions.append(CannedReply.language.set(c.language))
    if c.tags is not None:
        actions.append(CannedReply.tags.set(set(c.tags)) if c.tags else CannedReply.tags.remove())
    if c.scope is not None:
        key = _target_scope(p, c.scope, c.group_id)
        actions.append(CannedReply.scope_key.set(key))
        actions.append(CannedReply.scope.set(c.scope))
        if c.scope == PERSONAL:
            actions += [CannedReply.owner_id.set(p.agent_id), CannedReply.group_id.remove()]
        else:
            actions += [CannedReply.group_id.set(str(c.group_id)), CannedReply.owner_id.remove()]
    actions += [
        CannedReply.version.add(1),
        CannedReply.updated_by.set(p.agent_id),
        CannedReply.updated_at.set(iso(utcnow())),
    ]
    try:
        reply.update(actions=actions, condition=CannedReply.version == reply.version)
    except UpdateError as exc:
        if _condition_failed(exc):
            raise Conflict("the reply was changed or deleted at the same time; reload it") from exc
        raise
    return reply


def delete(p: Principal, reply_id: str, expected_version: int | None = None) -> None:
    reply = _editable(p, reply_id, expected_version)
    try:
        reply.delete(condition=CannedReply.version == reply.version)
    except DeleteError as exc:
        if _condition_failed(exc):
            raise Conflict("the reply was changed or deleted at the same time; reload it") from exc
        raise


def record_use(reply_id: str) -> None:
    """Count one use (atomic ADD); a reply deleted meanwhile is simply not counted."""
    try:
        CannedReply(reply_id).update(
            actions=[CannedReply.use_count.add(1), CannedReply.last_used_at.set(iso(utcnow()))],
            condition=CannedReply.reply_id.exists(),
        )
    except UpdateError as exc:
        if not _condition_failed(exc):
            raise


# ---- filling in -----------------------------------------------------------------------------------
def variables_for(customer: Customer, agent_name: str | None, order: Order | None) -> dict[str, str | None]:
    """The values of ``text.VARIABLES`` for one customer, agent and order. Pure."""
    tracking = order.tracking if order else None
    return {
        "customer.name": customer.display_name,
        "customer.phone": min(customer.phones) if customer.phones else None,
        "customer.email": min(customer.emails) if customer.emails else None,
        "agent.name": agent_name,
        "order.number": order.number if order else None,
        "order.status": order.status if order else None,
        "order.total": order.total_text() if order else None,
        "order.carrier": tracking.carrier if tracking else None,
        "order.tracking_number": tracking.number if tracking else None,
    }


def render_for(
    p: Principal, reply_id: str, conversation_id: str, order_number: str | None = None
) -> dict[str, Any]:
    """The reply's text filled in for a conversation ``p`` may work on, and one use counted. Order
    variables come from ``order_number`` or the customer's latest order; the order service is
    only called when the reply uses an order variable it cannot fill otherwise."""
    groups = agents.groups_of(p.agent_id)
    reply = get_visible(p, reply_id, groups)
    conversation = conversations.get(conversation_id)
    conversation_access.check_access(p, conversation)
    customer = identity.get_customer(conversation.customer_id)
    agent = agents.get_agent(p.agent_id)
    names = variables_in(reply.body)
    order: Order | None = None
    answer: OrdersAnswer | None = None
    wants_order = [n for n in names if n.startswith("order.")]
    if wants_order and (order_number is None or set(wants_order) != {"order.number"}):
        answer = orders.orders_for(customer)
        order = answer.find(order_number) if order_number else answer.latest()
    if order is None and order_number:
        order = Order(number=order_number)
    rendered = render(reply.body, variables_for(customer, agent.display_name if agent else p.agent_id, order))
    record_use(reply.reply_id)
    out: dict[str, Any] = {
        "reply_id": reply.reply_id,
        "text": rendered.text,
        "missing": list(rendered.missing),
        "order_number": order.number if order else None,
    }
    if answer is not None and answer.error:
        out["orders_error"] = answer.error
    return out
