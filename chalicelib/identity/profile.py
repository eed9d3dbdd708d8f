"""Agents' edits of a customer's profile: tags and free-form attributes (e.g. "tier": "gold").

Each edit is conditional on the customer existing and not having been merged into another one (the
agent must edit the surviving record), touches only the tags and attribute keys it names (set
ADD/DELETE and per-key SET/REMOVE, so two agents editing different fields never undo each other)
and is audited with what changed.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pynamodb.exceptions import DoesNotExist, UpdateError
from pynamodb.expressions.condition import size
from pynamodb.expressions.update import Action

from chalicelib.audit import service as audit
from chalicelib.errors import Conflict, Invalid, NotFound
from chalicelib.identity.models import Customer
from chalicelib.messages import iso, utcnow

MAX_ATTRIBUTES = 100  # keys on one customer


def _refused(customer_id: str, exc: UpdateError, reason: str) -> Exception:
    """Why a conditional write was refused: no such customer (404), merged away, or ``reason``."""
    if getattr(exc, "cause_response_code", None) != "ConditionalCheckFailedException":
        return exc
    try:
        current = Customer.get(customer_id, consistent_read=True, attributes_to_get=["merged_into"])
    except DoesNotExist:
        return NotFound(f"customer {customer_id}")
    if current.merged_into:
        return Conflict(f"this customer was merged into {current.merged_into}: edit that one")
    return Invalid(reason)


def _update(customer_id: str, actions: list[Action], condition: Any = None, reason: str = "") -> Customer:
    customer = Customer(customer_id)
    live = Customer.customer_id.exists() & Customer.merged_into.does_not_exist()
    try:
        customer.update(actions=actions, condition=live if condition is None else live & condition)
    except UpdateError as exc:
        raise _refused(customer_id, exc, reason) from exc
    return customer


def edit(
    customer_id: str,
    actor: str,
    *,
    add_tags: Iterable[str] = (),
    remove_tags: Iterable[str] = (),
    attributes: dict[str, str | None] | None = None,
) -> Customer:
    """Add/remove tags and set (value) or remove (None) attributes. 1 to 3 UpdateItems."""
    add, remove = set(add_tags), set(remove_tags)
    attributes = dict(attributes or {})
    if add & remove:
        raise Invalid("a tag cannot be both added and removed")
    if not add and not remove and not attributes:
        raise Invalid("nothing to change")
    stamp: list[Action] = [Customer.updated_at.set(iso(utcnow())), Customer.version.add(1)]
    to_set = {k: v for k, v in attributes.items() if v is not None}
    if to_set:
        # A key path needs its map to exist: create the empty map first if the customer has none
        # (idempotent, and the per-key writes below cannot race it away).
        _update(customer_id, [Customer.attributes.set(Customer.attributes | {})])
    actions = list(stamp)
    if add:
        actions.append(Customer.tags.add(add))
    attrs: Any = Customer.attributes  # typed as a dict of str; at class level it builds paths
    for key, value in attributes.items():
        path = attrs[key]
        actions.append(path.set(value) if value is not None else path.remove())
    room = None  # new keys must fit (counting every key set as new: conservative, and race-free)
    if to_set:
        room = size(Customer.attributes) <= MAX_ATTRIBUTES - len(to_set)
    customer = _update(customer_id, actions, room, f"a customer may have at most {MAX_ATTRIBUTES} attributes")
    if remove:  # DynamoDB refuses ADD and DELETE on one attribute in one request
        customer = _update(customer_id, [Customer.tags.delete(remove)])
    audit.record(
        f"customer#{customer_id}",
        actor,
        "customer.edit",
        {
            "tags_added": sorted(add),
            "tags_removed": sorted(remove),
            "attributes_set": to_set,
            "attributes_removed": sorted(k for k, v in attributes.items() if v is None),
        },
    )
    return customer
