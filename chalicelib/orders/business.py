"""Business events (C15 connectors): the company's systems tell Omniflow what happened to a
customer elsewhere (``order.shipped``, ``invoice.overdue`` …) through ``POST /api/business-events``
(API clients with ``events:write``). The customer is found by our id, a verified phone or an
e-mail (one GetItem on ``identities``); the event is kept on the customer's partition of the
``business_events`` table for a year (TTL), newest first for the console and for proactive service
to act on. A retry with the same ``event_id`` and time is stored once (conditional put)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist, PutError

from chalicelib.db import Model, meta
from chalicelib.errors import NotFound
from chalicelib.identity import service as identity
from chalicelib.identity.models import Identity
from chalicelib.messages import iso, utcnow
from chalicelib.observability import logger
from chalicelib.orders.bodies import BusinessEventBody

KEEP = timedelta(days=365)


class BusinessEvent(Model):
    Meta = meta("business_events")

    customer_id = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)  # <occurred_at ISO>#<event_id>: time order, one per event
    event_id = UnicodeAttribute()
    type = UnicodeAttribute()
    occurred_at = UnicodeAttribute()
    received_at = UnicodeAttribute()
    source = UnicodeAttribute()  # the API client (or agent) that sent it
    data = JSONAttribute(null=True)
    expires_at = NumberAttribute()  # TTL


def _customer_id(body: BusinessEventBody) -> str:
    ref = body.customer
    if ref.customer_id:
        return identity.get_customer(ref.customer_id).customer_id  # following merges
    key = f"phone#{ref.phone}" if ref.phone else f"email#{(ref.email or '').strip().lower()}"
    try:
        owner = Identity.get(key).customer_id
    except DoesNotExist as exc:
        raise NotFound("no customer matches the event's customer reference") from exc
    return identity.get_customer(owner).customer_id


def _view(e: BusinessEvent) -> dict[str, Any]:
    return {
        "event_id": e.event_id,
        "type": e.type,
        "occurred_at": e.occurred_at,
        "received_at": e.received_at,
        "source": e.source,
        "data": e.data or {},
    }


def record(body: BusinessEventBody, source: str) -> dict[str, Any]:
    """Keep the event on its customer; ``duplicate`` when this event_id and time were already kept."""
    customer_id = _customer_id(body)
    occurred = iso(body.occurred_at)
    event = BusinessEvent(
        customer_id,
        f"{occurred}#{body.event_id}",
        event_id=body.event_id,
        type=body.type,
        occurred_at=occurred,
        received_at=iso(utcnow()),
        source=source,
        data=dict(body.data) or None,
        expires_at=int((body.occurred_at + KEEP).timestamp()),
    )
    duplicate = False
    try:
        event.save(condition=BusinessEvent.sk.does_not_exist())
    except PutError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        duplicate = True
    logger.info("business event", extra={"type": body.type, "source": source, "duplicate": duplicate})
    return {"event_id": body.event_id, "customer_id": customer_id, "duplicate": duplicate}


def of_customer(customer_id: str, limit: int = 50) -> dict[str, Any]:
    """The customer's business events, newest first (one Query)."""
    customer_id = identity.get_customer(customer_id).customer_id  # NotFound; following merges
    found = BusinessEvent.query(customer_id, scan_index_forward=False, limit=limit)
    return {"customer_id": customer_id, "items": [_view(e) for e in found]}
