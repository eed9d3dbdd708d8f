"""Identity resolution: which customer is writing?

Rules (MISSION C2):
- a channel identity (channel, account, user id) always maps to exactly one customer;
- a *verified* phone, e-mail, WeChat unionid or company user id links a new channel identity to the
  customer who already owns it; unverified hints are stored for agents but link nobody;
- every claim is a conditional put, so concurrent first messages end at one customer;
- agents may merge two customers (``conversations.merge``: a merge moves conversations too).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from pynamodb.exceptions import DoesNotExist, PutError
from pynamodb.expressions.update import Action

from chalicelib.db import as_dict
from chalicelib.errors import NotFound
from chalicelib.identity.models import Customer, Identity
from chalicelib.messages import CustomerHints, InboundMessage, iso, utcnow

# Strongest first: a unionid or the company's own user id beats a phone, a phone beats an e-mail.
HINT_ORDER = ("unionid", "external_id", "phone", "email")


@dataclass(frozen=True)
class Resolution:
    customer: Customer
    created: bool


def hint_keys(hints: CustomerHints, channel_account: str = "") -> list[tuple[str, str]]:
    """(identity key, kind) for each verified hint, strongest first. Pure."""
    out: list[tuple[str, str]] = []
    for kind in HINT_ORDER:
        value = getattr(hints, kind)
        if value and kind in hints.verified:
            value = value.strip().lower() if kind == "email" else value.strip()
            scope = f"{channel_account}#" if kind == "external_id" else ""
            out.append((f"{kind}#{scope}{value}", kind))
    return out


def _claim(key: str, customer_id: str, kind: str, msg: InboundMessage | None = None) -> str:
    """Point ``key`` at ``customer_id`` unless someone already owns it; return the owner."""
    try:
        Identity(
            key,
            customer_id=customer_id,
            kind=kind,
            created_at=iso(utcnow()),
            channel=msg.channel if msg else None,
            account=msg.account if msg else None,
            user_id=msg.channel_user_id if msg else None,
        ).save(condition=Identity.identity_key.does_not_exist())
        return customer_id
    except PutError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        return Identity.get(key, consistent_read=True).customer_id


def resolve(msg: InboundMessage) -> Resolution:
    """Find or create the customer for an inbound message (1 GetItem + 1 GetItem when known)."""
    try:
        identity = Identity.get(msg.identity_key)
    except DoesNotExist:
        return _first_contact(msg)
    try:
        customer = get_customer(identity.customer_id)
    except KeyError:  # the writer that claimed this identity has not created the customer yet
        return Resolution(_upsert_customer(identity.customer_id, msg), created=False)
    _link_new_hints(customer, msg)
    return Resolution(customer, created=False)


def get_customer(customer_id: str) -> Customer:
    """A customer, following merges (a merged-away id resolves to the customer it was merged into).
    KeyError if there is no such customer."""
    try:
        customer = Customer.get(customer_id)
    except Customer.DoesNotExist as exc:
        raise NotFound(f"customer {customer_id}") from exc
    seen = {customer_id}
    while customer.merged_into and customer.merged_into not in seen:
        seen.add(customer.merged_into)
        customer = Customer.get(customer.merged_into)
    return customer


def _first_contact(msg: InboundMessage) -> Resolution:
    keys = hint_keys(msg.hints, msg.account)
    owners: dict[str, str] = {}
    if keys:
        owners = {i.identity_key: i.customer_id for i in Identity.batch_get([k for k, _ in keys])}
    customer_id = next((owners[k] for k, _ in keys if k in owners), None) or new_customer_id()
    claimed_any = False
    for key, kind in keys:
        if key in owners:
            continue
        owner = _claim(key, customer_id, kind)
        if owner != customer_id and not claimed_any:
            customer_id = owner  # someone else claimed this person a moment ago: join them
        claimed_any = claimed_any or owner == customer_id
    customer_id = _claim(msg.identity_key, customer_id, "channel", msg)
    customer = _upsert_customer(customer_id, msg)
    return Resolution(customer, created=customer.created_at == customer.updated_at)


def _upsert_customer(customer_id: str, msg: InboundMessage) -> Customer:
    """Create the customer or add what this message says about them (idempotent)."""
    now = iso(utcnow())
    h = msg.hints
    customer = Customer(customer_id)
    actions: list[Action] = [
        Customer.created_at.set(Customer.created_at | now),
        Customer.updated_at.set(now),
        Customer.version.add(1),
    ]
    if h.display_name:
        actions.append(Customer.display_name.set(Customer.display_name | h.display_name))
    for kind, attr in (
        ("phone", Customer.phones),
        ("email", Customer.emails),
        ("unionid", Customer.unionids),
    ):
        value = getattr(h, kind)
        if value and kind in h.verified:
            actions.append(attr.add({value.lower() if kind == "email" else value}))
    unverified = {
        k: getattr(h, k) for k in ("phone", "email", "unionid") if getattr(h, k) and k not in h.verified
    }
    if unverified:  # first seen wins; agents correct them in the profile
        actions.append(Customer.unverified_hints.set(Customer.unverified_hints | unverified))
    customer.update(actions=actions)
    return customer


def _link_new_hints(customer: Customer, msg: InboundMessage) -> None:
    """A known identity brings a newly verified phone/e-mail (e.g. the visitor logged in): claim it."""
    known = (customer.phones or set()) | (customer.emails or set()) | (customer.unionids or set())
    fresh = [(k, kind) for k, kind in hint_keys(msg.hints, msg.account) if k.split("#")[-1] not in known]
    if not fresh:
        return
    for key, kind in fresh:
        _claim(key, customer.customer_id, kind)
    _upsert_customer(customer.customer_id, msg)
    customer.refresh()


def new_customer_id() -> str:
    return f"cus_{uuid.uuid4().hex[:20]}"


def identities_of(customer_id: str) -> list[Identity]:
    """Every identity of a customer (a Query on the identities' by_customer index)."""
    return list(Identity.by_customer.query(customer_id))


def contact_of(customer: Customer) -> str | None:
    """The best human handle for a customer without a name: a verified e-mail, then a verified
    phone, then what they typed in a form (unverified), else None."""
    hints = as_dict(customer.unverified_hints)
    for value in (
        *sorted(customer.emails or ()),
        *sorted(customer.phones or ()),
        hints.get("email"),
        hints.get("phone"),
    ):
        if value:
            return str(value)
    return None


def shown_identities(customer_id: str) -> list[Identity]:
    """The customer's identities as agents see them (``each_address_once``)."""
    return each_address_once(identities_of(customer_id))


def each_address_once(items: list[Identity]) -> list[Identity]:
    """Each address once. A contact identity (``email#a@b.c``, ``phone#+86…``) whose address is
    also a channel identity's sender (the e-mail channel's ``email#default#a@b.c``, an SMS sender)
    is the same address: only the channel one is listed (it says where the customer wrote from).
    Pure."""
    senders = {(i.user_id or "").strip().lower() for i in items if i.kind == "channel"}
    return [
        i
        for i in items
        if i.kind == "channel"
        or i.kind not in ("email", "phone")
        or i.identity_key.split("#", 1)[-1].strip().lower() not in senders
    ]


def reachable_on(customer_id: str, channel: str) -> Identity | None:
    """The customer's most recent identity on ``channel``, if any."""
    refs = [i for i in identities_of(customer_id) if i.kind == "channel" and i.channel == channel]
    return max(refs, key=lambda i: i.created_at) if refs else None
