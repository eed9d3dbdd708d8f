"""Request bodies of the webhook admin routes."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chalicelib.bodies import Body

EventType = Literal[
    "message.created",
    "conversation.created",
    "conversation.assigned",
    "conversation.closed",
    "ticket.created",
    "ticket.updated",
    "sla.warning",
    "sla.breached",
    "csat.received",
    "customer.merged",
    "alert.fired",
    "alert.resolved",
    "customer.erased",
]
EVENT_TYPES: frozenset[str] = frozenset(EventType.__args__)  # type: ignore[attr-defined]


class EndpointBody(Body):
    url: str = Field(
        min_length=10,
        max_length=2000,
        pattern=r"^https?://",
        description="https (http only on the local stack)",
    )
    events: list[EventType] = Field(
        min_length=1, max_length=len(EVENT_TYPES), description="event types, at least one"
    )


class ReplayBody(Body):
    msg_id: str | None = Field(
        default=None,
        pattern=r"^msg_[0-9A-Za-z_]{10,60}$",
        description="one failed message; absent: every failed one",
    )
