"""Auto-tags on the customer: learned on the message path, shown on the 360 view, removable.

``on_customer_message`` (subscribed to ``events.CustomerMessageStored``) infers from the message
just stored with the customer the router already loaded: no read, and one conditional UpdateItem
only when a tag is new or its confidence rose. An agent's removal (``suppress``) deletes the tag and
records it in ``suppressed_tags``; every later write is conditioned on that set not holding it, so a
removed tag stays removed even against a message being processed at the same moment.
"""

from __future__ import annotations

from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib import events
from chalicelib.errors import Invalid, NotFound
from chalicelib.identity.models import Customer
from chalicelib.insight.tags import TAGS, AutoTag, Message, infer
from chalicelib.messages import iso, utcnow
from chalicelib.observability import logger


def _stored(tag: AutoTag, at: str) -> dict[str, Any]:
    data = tag.as_dict()
    data.pop("tag")
    data["at"] = at
    return data


def _condition_failed(exc: UpdateError) -> bool:
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


def on_customer_message(event: events.CustomerMessageStored) -> None:
    customer: Customer = event.customer
    message = event.message
    # assist's analysis, stored on the message just before this event: {"sentiment": {score, risk, …}}
    analysis: Any = getattr(message, "assist", None)
    mood: Any = analysis.get("sentiment") if isinstance(analysis, dict) else None
    if not isinstance(mood, dict):
        mood = {}
    signals = Message(
        message.text or "",
        f"{message.conversation_id}#{message.seq}",
        sentiment=mood.get("score"),
        risk=mood.get("risk"),
    )
    current: dict[str, Any] = customer.auto_tags.as_dict() if customer.auto_tags is not None else {}
    suppressed = set(customer.suppressed_tags or ())
    now = iso(utcnow())
    for tag in infer([signals]):
        if (
            tag.tag in suppressed
            or float((current.get(tag.tag) or {}).get("confidence", 0)) >= tag.confidence
        ):
            continue
        value = _stored(tag, now)
        not_suppressed = Customer.suppressed_tags.does_not_exist() | ~Customer.suppressed_tags.contains(
            tag.tag
        )
        if customer.auto_tags is None:
            action, condition = Customer.auto_tags.set({tag.tag: value}), Customer.auto_tags.does_not_exist()
        else:
            action, condition = Customer.auto_tags[tag.tag].set(value), Customer.auto_tags.exists()
        try:
            customer.update(actions=[action], condition=condition & not_suppressed)
        except UpdateError as exc:
            if not _condition_failed(exc):
                raise
            # removed by an agent meanwhile, or the map appeared under us: the next message retries
            logger.info("auto-tag not written", extra={"tag": tag.tag, "customer_id": customer.customer_id})
            return
        logger.info(
            "auto-tag set", extra={"tag": tag.tag, "confidence": tag.confidence, "source": tag.source}
        )


def suppress(customer_id: str, tag: str) -> dict[str, Any]:
    """An agent removes a wrong auto-tag; it is never set again for this customer."""
    if tag not in TAGS:
        raise Invalid(f"unknown auto-tag {tag!r}; one of {', '.join(TAGS)}")
    actions: list[Any] = [Customer.suppressed_tags.add({tag}), Customer.updated_at.set(iso(utcnow()))]
    try:
        customer = Customer.get(customer_id)
    except Customer.DoesNotExist:
        raise NotFound(f"customer {customer_id} not found") from None
    if customer.auto_tags is not None and tag in customer.auto_tags.as_dict():
        actions.append(Customer.auto_tags[tag].remove())
    try:
        customer.update(actions=actions, condition=Customer.customer_id.exists())
    except UpdateError as exc:
        if _condition_failed(exc):
            raise NotFound(f"customer {customer_id} not found") from None
        raise
    return {"customer_id": customer_id, "suppressed_tags": sorted(customer.suppressed_tags or ())}
