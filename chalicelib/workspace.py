"""What the agent console reads: inbox lists and the conversation view with the customer's whole
cross-channel history. Access rule: agents see their skill groups' conversations and their own;
supervisors and admins see all."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chalicelib.agents import ranking
from chalicelib.agents import service as agents
from chalicelib.agents.models import Agent, SkillGroup
from chalicelib.assignment import service as assignment
from chalicelib.audit import service as audit
from chalicelib.auth.service import Forbidden, Principal
from chalicelib.conversations import service as conversations
from chalicelib.conversations.access import check_access
from chalicelib.conversations.models import CLOSED, OPEN, Conversation, Message
from chalicelib.conversations.views import conversation_summary
from chalicelib.db import as_dict, to_json
from chalicelib.errors import Invalid, NotFound
from chalicelib.identity import service as identity
from chalicelib.identity.models import Customer, Identity
from chalicelib.messages import iso, utcnow
from chalicelib.observability import mask_email, mask_phone
from chalicelib.paging import decode_cursor, encode_cursor

HISTORY_CONVERSATIONS = 20
_GROUP_ID = re.compile(r"^[a-z0-9][a-z0-9_-]{1,39}$")


def message_view(m: Message, p: Principal | None = None) -> dict[str, Any]:
    """A message; the customer's phone or e-mail it came from or went to, masked for a viewer
    whose role does not see contacts (``p``; None: in full)."""
    data = to_json(m)
    for internal in ("dedupe_key", "mailbox_key", "expires_at", "reply_context"):
        data.pop(internal, None)
    masker = _CONTACT_MASKS.get(str(data.get("channel")))
    if masker and not sees_contacts(p) and isinstance(data.get("channel_user_id"), str):
        data["channel_user_id"] = masker(data["channel_user_id"])
    return data


# Who sees a customer's phones and e-mails in full; below this role they show masked (138****1234,
# a***@example.com) and revealing them is an audited action (``reveal_contacts``).
SEES_CONTACTS = "supervisor"
# Identity kinds and channels whose user id is the customer's phone number or e-mail address.
_CONTACT_MASKS: dict[str, Callable[[str], str]] = {
    "phone": mask_phone,
    "email": mask_email,
    "sms": mask_phone,
    "whatsapp": mask_phone,
    "voice": mask_phone,
}


def sees_contacts(p: Principal | None) -> bool:
    return p is None or p.allows(SEES_CONTACTS)


def customer_view(c: Customer, p: Principal | None = None) -> dict[str, Any]:
    """The customer's profile; for a viewer whose role does not see contacts (``p``), phones and
    e-mails masked. ``p=None``: a system caller, in full."""
    data = to_json(c)
    for key in ("phones", "emails", "unionids", "tags"):
        data[key] = sorted(data.get(key) or [])
    data.pop("version", None)
    if not sees_contacts(p):
        data["phones"] = [mask_phone(x) for x in data["phones"]]
        data["emails"] = [mask_email(x) for x in data["emails"]]
    return data


def identity_view(i: Identity, p: Principal | None = None) -> dict[str, Any]:
    """A channel identity; one keyed by a phone or e-mail is masked as the profile's contacts are."""
    data = to_json(i)
    masker = _CONTACT_MASKS.get(i.kind) or _CONTACT_MASKS.get(i.channel or "")
    if masker and not sees_contacts(p):
        value = i.user_id or i.identity_key.rsplit("#", 1)[-1]
        for key in ("identity_key", "user_id"):
            if isinstance(data.get(key), str):
                data[key] = data[key].replace(value, masker(value))
    return data


def summary_view(c: Conversation, p: Principal | None, customer: Customer | None = None) -> dict[str, Any]:
    """A conversation's summary; the customer's phone or e-mail it was last reached on, masked as
    the profile's contacts are."""
    data = conversation_summary(c, customer)
    masker = _CONTACT_MASKS.get(c.last_channel or "")
    if masker and not sees_contacts(p) and isinstance(data.get("last_channel_user_id"), str):
        data["last_channel_user_id"] = masker(data["last_channel_user_id"])
    return data


def reveal_contacts(p: Principal, customer_id: str) -> dict[str, Any]:
    """The customer's phones and e-mails in full, the reveal recorded in their audit trail."""
    from pynamodb.exceptions import DoesNotExist

    try:
        customer = identity.get_customer(customer_id)
    except DoesNotExist as exc:
        raise NotFound(f"customer {customer_id}") from exc
    audit.record(f"customer#{customer.customer_id}", p.agent_id, "reveal_contacts", {"role": p.role})
    view = customer_view(customer)
    return {"customer_id": customer.customer_id, "phones": view["phones"], "emails": view["emails"]}


def _customers(ids: list[str]) -> dict[str, Customer]:
    return {c.customer_id: c for c in Customer.batch_get(list(dict.fromkeys(ids)))} if ids else {}


@dataclass(frozen=True)
class InboxFilters:
    channel: str | None = None
    priority: str | None = None
    tag: str | None = None
    status: str = "open"  # the "all" view only
    include_snoozed: bool = False  # the "mine" view hides snoozed conversations until they wake

    def condition(self) -> Any:
        parts: list[Any] = []
        if self.channel:
            parts.append(Conversation.channels.contains(self.channel))
        if self.priority:
            parts.append(Conversation.priority == self.priority)
        if self.tag:
            parts.append(Conversation.tags.contains(self.tag))
        condition = None
        for part in parts:
            condition = part if condition is None else condition & part
        return condition


VIEWS = ("mine", "queue", "all")


def page_size(raw: str | None, default: int = 50) -> int:
    if not raw:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= 100:
        raise Invalid("limit must be 1..100")
    return int(raw)


def inbox(
    p: Principal,
    view: str,
    group: str | None,
    cursor: str | None,
    filters: InboxFilters = InboxFilters(),
    limit: int = 50,
) -> dict[str, Any]:
    """``mine``: open conversations I own, most recent first. ``queue``: waiting conversations of my
    groups (or one ``group``), in the order they will be served (urgent/VIP first). ``all``
    (supervisors): every open (or closed) conversation, most recent first. Filters: channel,
    priority, tag. Each source is a Query on a sparse index; several sources (a queue per group and
    channel type) are merged, and the cursor remembers where each one stands. The page's customers
    come in one BatchGetItem."""
    condition = filters.condition()
    sources: dict[str, Callable[[dict[str, Any] | None], Any]] = {}
    if view == "mine":
        sources["mine"] = lambda after: Conversation.by_owner.query(
            p.agent_id,
            filter_condition=condition,
            scan_index_forward=False,
            limit=limit,
            last_evaluated_key=after,
        )
        order = _newest_first
    elif view == "queue":
        mine = agents.groups_of(p.agent_id)
        if group and not p.allows("supervisor") and group not in mine:
            raise Forbidden("not a member of that group")
        for g in [group] if group else sorted(mine):
            for kind in ranking.CHANNEL_TYPES:
                sources[ranking.queue_key(g, kind)] = functools.partial(
                    _queue_query, ranking.queue_key(g, kind), condition, limit
                )
        order = _queue_order
    elif view == "all":
        if not p.allows("supervisor"):
            raise Forbidden("the all-conversations view is for supervisors")
        if filters.status not in (OPEN, CLOSED):
            raise NotFound(f"status {filters.status}")
        sources["all"] = lambda after: Conversation.by_status.query(
            filters.status,
            filter_condition=condition,
            scan_index_forward=False,
            limit=limit,
            last_evaluated_key=after,
        )
        order = _newest_first
    else:
        raise NotFound(f"view {view}")
    items, next_cursor = _merged_page(sources, decode_cursor(cursor), order, limit)
    if view == "mine" and not filters.include_snoozed:
        now = iso(utcnow())
        items = [c for c in items if not (c.snoozed_until and c.snoozed_until > now)]
    customers = _customers([c.customer_id for c in items])
    return {
        "items": [summary_view(c, p, customers.get(c.customer_id)) for c in items],
        "next_cursor": encode_cursor(next_cursor),
    }


def _queue_query(key: str, condition: Any, limit: int, after: dict[str, Any] | None) -> Any:
    return Conversation.by_queue.query(key, filter_condition=condition, limit=limit, last_evaluated_key=after)


def _newest_first(c: Conversation) -> str:
    return _desc(c.last_message_at)


def _queue_order(c: Conversation) -> str:
    return c.queue_rank or ""


def _desc(value: str | None) -> str:
    """A sort key that orders ISO timestamps newest first."""
    return "".join(chr(0x10FFFF - ord(ch)) for ch in value or "")


def _index_key(c: Conversation, source: str) -> dict[str, Any]:
    """The LastEvaluatedKey a Query would return after ``c`` (table key + the index's keys)."""
    key: dict[str, Any] = {"conversation_id": {"S": c.conversation_id}}
    if source == "mine":
        key.update(owner_key={"S": c.owner_key}, last_message_at={"S": c.last_message_at})
    elif source == "all":
        key.update(status={"S": c.status}, last_message_at={"S": c.last_message_at})
    else:
        key.update(queue_key={"S": c.queue_key}, queue_rank={"S": c.queue_rank})
    return key


def _merged_page(
    sources: dict[str, Callable[[dict[str, Any] | None], Any]],
    cursor: dict[str, Any] | None,
    order: Callable[[Conversation], str],
    limit: int,
) -> tuple[list[Conversation], dict[str, Any] | None]:
    """One page merged from several index Queries. ``cursor`` maps each source to where it stands
    (a key, or None once exhausted); a source missing from it starts at the beginning."""
    state = dict(cursor or {})
    fetched: list[tuple[str, Conversation]] = []
    more: dict[str, bool] = {}
    for name, run in sources.items():
        if name in state and state[name] is None:
            continue  # exhausted on an earlier page
        result = run(state.get(name))
        page = list(result)
        fetched.extend((name, c) for c in page)
        more[name] = result.last_evaluated_key is not None
    fetched.sort(key=lambda pair: order(pair[1]))
    taken = fetched[:limit]
    for name, has_more in more.items():
        consumed = [c for n, c in taken if n == name]
        left = has_more or any(n == name for n, _ in fetched[limit:])
        if not left:
            state[name] = None  # exhausted
        elif consumed:
            state[name] = _index_key(consumed[-1], name)
        # else: nothing of it shown yet; it resumes where it stood
    done = all(state.get(name, "start") is None for name in sources)
    return [c for _, c in taken], None if done else state


def conversation_view(p: Principal, conversation_id: str) -> dict[str, Any]:
    """The conversation, its customer, and the customer's history across every channel and
    conversation (most recent conversations first, messages in order within each)."""
    c = conversations.get(conversation_id)
    check_access(p, c)
    customer = identity.get_customer(c.customer_id)
    if customer.conversations_opened == 1 and customer.customer_id == c.customer_id:
        history = [c]  # the customer's only conversation: no Query for a history there is not
    else:
        history = conversations.conversations_of(customer.customer_id, HISTORY_CONVERSATIONS)
    if all(h.conversation_id != c.conversation_id for h in history):
        history.insert(0, c)
    timeline: list[dict[str, Any]] = []
    for conv in sorted(history, key=lambda h: h.created_at):
        for m in conversations.messages_of(conv.conversation_id):
            timeline.append(message_view(m, p))
    audit.viewed(
        p.agent_id, "conversation", [customer.customer_id, c.customer_id], conversation_id=c.conversation_id
    )
    return {
        "conversation": summary_view(c, p),
        "customer": customer_view(customer, p),
        "identities": [identity_view(i, p) for i in identity.shown_identities(customer.customer_id)],
        "conversations": [summary_view(h, p) for h in history],
        "messages": timeline,
    }


def open_attachment(p: Principal, conversation_id: str, seq: int, index: int) -> Any:
    """A file the customer sent (``media.open_attachment``'s link), its opening recorded in the
    customer's audit trail."""
    from chalicelib.media import service as media

    c = conversations.get(conversation_id)
    check_access(p, c)
    link = media.open_attachment(conversation_id, seq, index)
    audit.viewed(
        p.agent_id,
        "attachment",
        [c.customer_id],
        conversation_id=conversation_id,
        seq=str(seq),
        index=str(index),
    )
    return link


def agent_view(a: Agent) -> dict[str, Any]:
    return {
        "agent_id": a.agent_id,
        "display_name": a.display_name,
        "role": a.role,
        "groups": sorted(a.groups or []),
        "presence": a.presence,
        "presence_at": a.presence_at,
        "capacity": as_dict(a.capacity),
        "load": as_dict(a.load),
        "proficiency": as_dict(a.proficiency),
    }


def transfer(
    p: Principal, conversation_id: str, to_agent: str | None, to_group: str | None, note: str
) -> dict[str, Any]:
    """Hand a conversation on (see assignment.transfer); the note goes on the timeline as a private
    note for whoever takes it."""
    if to_group and not agents.get_groups([to_group]):
        raise NotFound(f"group {to_group}")
    done = assignment.transfer(
        conversation_id,
        p.agent_id,
        to_agent=to_agent,
        to_group=to_group,
        may_take_over=p.allows("supervisor"),
        also=[Conversation.next_seq.add(1)],  # the note's place, taken by the transfer's own write
    )
    target = to_agent or f"group {to_group}"
    conversations.save_note(
        conversation_id, done.next_seq, p.agent_id, f"Transferred to {target}" + (f": {note}" if note else "")
    )
    return {"conversation": conversation_summary(done.conversation), "assigned_to": done.assigned_to}


def put_group(p: Principal, group_id: str, name: str, description: str, lead_id: str | None) -> SkillGroup:
    if not _GROUP_ID.match(group_id):
        raise Invalid("group id: 2-40 lower-case letters, digits, - or _")
    if lead_id and agents.get_agent(lead_id) is None:
        raise NotFound(f"agent {lead_id}")
    group = agents.put_group(group_id, name, description, lead_id)
    audit.record(f"group#{group_id}", p.agent_id, "put_group", {"name": name, "lead_id": lead_id or ""})
    return group


def configure_agent(
    p: Principal,
    agent_id: str,
    groups: list[str] | None,
    capacity: dict[str, int] | None,
    proficiency: dict[str, int] | None,
) -> Agent:
    if groups is not None:
        known = {g.group_id for g in agents.get_groups(sorted(set(groups)))}
        unknown = sorted(set(groups) - known)
        if unknown:
            raise Invalid(f"unknown skill groups: {', '.join(unknown)}")
    agent = assignment.configure(agent_id, groups=groups, capacity=capacity, proficiency=proficiency)
    audit.record(
        f"agent#{agent_id}",
        p.agent_id,
        "configure_agent",
        {"groups": ",".join(sorted(groups or [])), "capacity": json.dumps(capacity or {})},
    )
    return agent


def customer_360(
    customer_id: str,
    cursor: str | None = None,
    limit: int = HISTORY_CONVERSATIONS,
    p: Principal | None = None,
) -> dict[str, Any]:
    """The customer 360: profile (names, phones, e-mails, tags, attributes), identities on every
    channel, conversations across channels (most recent first, a Query on by_customer; ``cursor``
    pages on), tickets, and orders from the company's systems. A merged-away id shows the customer
    it was merged into. Pages after the first carry only the conversations."""
    from pynamodb.exceptions import DoesNotExist

    try:
        customer = identity.get_customer(customer_id)
    except DoesNotExist as exc:
        raise NotFound(f"customer {customer_id}") from exc
    page = Conversation.by_customer.query(
        customer.customer_id, scan_index_forward=False, limit=limit, last_evaluated_key=decode_cursor(cursor)
    )
    if p is not None:
        audit.viewed(p.agent_id, "customer", [customer.customer_id], page="next" if cursor else "first")
    out: dict[str, Any] = {"customer_id": customer.customer_id}
    out["conversations"] = [summary_view(c, p) for c in page]
    out["next_cursor"] = encode_cursor(page.last_evaluated_key)
    if cursor:
        return out
    from chalicelib.orders import service as orders

    out["customer"] = customer_view(customer, p)
    identities = identity.identities_of(customer.customer_id)
    out["identities"] = [identity_view(i, p) for i in identity.each_address_once(identities)]
    from chalicelib.tickets import service as tickets

    out["tickets"] = [tickets.summary(t) for t in tickets.tickets_of(customer.customer_id)]  # newest first
    found = orders.orders_for(customer, identities).to_json()  # degraded, never raising, when unavailable
    out["orders"] = found.pop("orders")
    if found:
        out["orders_error"] = found  # {"error": "orders service unavailable", "reason": …}
    return out
