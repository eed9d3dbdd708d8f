"""Request bodies of the proactive routes."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Annotated, Any

from pydantic import AwareDatetime, Field, StringConstraints, model_validator

from chalicelib.bodies import Body

MAX_DATA_BYTES = 8192
ChannelIds = dict[
    Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,31}$")],
    Annotated[str, StringConstraints(min_length=1, max_length=256)],
]


Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}$")]


class EventCustomer(Body):
    """Who the event is about: one of these is enough (tried in this order)."""

    customer_id: str | None = Field(default=None, min_length=1, max_length=64)
    phone: Annotated[str, StringConstraints(pattern=r"^\+[1-9][0-9]{6,14}$")] | None = Field(
        default=None, description="E.164"
    )
    email: Annotated[str, StringConstraints(pattern=r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}$")] | None = (
        None
    )
    channel_ids: ChannelIds | None = Field(
        default=None, max_length=10, description='e.g. {"wechat": "<openid>"} (default account)'
    )

    @model_validator(mode="after")
    def _one(self) -> EventCustomer:
        if not (self.customer_id or self.phone or self.email or self.channel_ids):
            raise ValueError("give customer_id, phone, email or channel_ids")
        return self


class BusinessEventBody(Body):
    """POST /business-events: a fact from the company's systems (idempotent per event_id)."""

    type: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$", max_length=64)]
    event_id: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$")]
    customer: EventCustomer
    occurred_at: AwareDatetime | None = Field(
        default=None, description="ISO-8601 with a time zone; default: when it is received"
    )
    data: dict[
        Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_]{0,39}$")],
        Annotated[str, StringConstraints(max_length=500)]
        | int
        | float
        | bool
        | list[str | int | float]
        | None,
    ] = Field(default_factory=dict, max_length=50, description="at most 8 KB as JSON")
    language: Annotated[str, StringConstraints(pattern=r"^(zh-CN|zh-TW|en)$")] | None = Field(
        default=None, description="the notice's language; else the customer's, else the first in the rule"
    )

    @model_validator(mode="after")
    def _small(self) -> BusinessEventBody:
        if len(json.dumps(self.data, ensure_ascii=False).encode()) > MAX_DATA_BYTES:
            raise ValueError(f"data is larger than {MAX_DATA_BYTES} bytes")
        return self

    def as_data(self) -> dict[str, Any]:
        return dict(self.data)

    def when(self, received: datetime) -> datetime:
        return self.occurred_at or received
