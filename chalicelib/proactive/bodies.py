"""Request bodies of the proactive routes."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StringConstraints, model_validator

from chalicelib.bodies import Body

ChannelIds = dict[
    Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,31}$")],
    Annotated[str, StringConstraints(min_length=1, max_length=256)],
]


Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]{1,64}@[^@\s]{1,255}\.[^@\s]{1,63}$")]


class EventCustomer(Body):
    """Who the event is about: one of these is enough (tried in this order)."""

    customer_id: str | None = Field(default=None, min_length=1, max_length=64)
    phone: Annotated[str, StringConstraints(pattern=r"^\+?[0-9][0-9 -]{5,19}$")] | None = None
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
    data: dict[
        Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,39}$")],
        Annotated[str, StringConstraints(max_length=500)] | int | float | bool,
    ] = Field(default_factory=dict, max_length=50)
    language: Annotated[str, StringConstraints(pattern=r"^(zh-CN|zh-TW|en)$")] | None = Field(
        default=None, description="the notice's language; else the customer's, else the first in the rule"
    )

    def as_data(self) -> dict[str, Any]:
        return dict(self.data)
