"""Business events (C15 connectors): the company's systems tell Omniflow what happened to a
customer elsewhere (``order.shipped``, ``invoice.overdue`` …) through ``POST /api/business-events``
(API clients with ``events:write``). ``chalicelib.proactive`` receives it, finds the customer and
keeps it here (``keep``) on the customer's partition of the ``business_events`` table for a year
(TTL), newest first for the console; a retry with the same ``event_id`` and time is stored once
(conditional put). Acting on it (a notice to the customer) is the proactive service's."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.exceptions import PutError

from chalicelib.db import Model, meta
from chalicelib.identity import service as identity
from chalicelib.messages import iso, utcnow
from chalicelib.observability import logger

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


def _view(e: BusinessEvent) -> dict[str, Any]:
    return {
        "event_id": e.event_id,
        "type": e.type,
        "occurred_at": e.occurred_at,
        "received_at": e.received_at,
        "source": e.source,
        "data": e.data or {},
    }


def keep(
    customer_id: str,
    event_id: str,
    event_type: str,
    occurred_at: datetime,
    data: dict[str, Any],
    source: str,
) -> bool:
    """Keep the event on its customer's timeline; True when this event_id and time were already
    kept (a retry). One conditional PutItem."""
    occurred = iso(occurred_at)
    event = BusinessEvent(
        customer_id,
        f"{occurred}#{event_id}",
        event_id=event_id,
        type=event_type,
        occurred_at=occurred,
        received_at=iso(utcnow()),
        source=source,
        data=dict(data) or None,
        expires_at=int((occurred_at + KEEP).timestamp()),
    )
    try:
        event.save(condition=BusinessEvent.sk.does_not_exist())
    except PutError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
        return True
    logger.info("business event kept", extra={"type": event_type, "source": source})
    return False


def of_customer(customer_id: str, limit: int = 50) -> dict[str, Any]:
    """The customer's business events, newest first (one Query)."""
    customer_id = identity.get_customer(customer_id).customer_id  # NotFound; following merges
    found = BusinessEvent.query(customer_id, scan_index_forward=False, limit=limit)
    return {"customer_id": customer_id, "items": [_view(e) for e in found]}
