"""Request bodies of the connectors' routes: business events other systems send in."""

from __future__ import annotations

import json
from typing import Annotated

from pydantic import AwareDatetime, Field, StringConstraints, model_validator

from chalicelib.bodies import Body

DataKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")]
DataValue = str | int | float | bool | None | list[str | int | float]
MAX_DATA_BYTES = 8192


class CustomerRef(Body):
    customer_id: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,64}$", description="ours")
    phone: str | None = Field(default=None, pattern=r"^\+[1-9][0-9]{6,14}$", description="E.164")
    email: str | None = Field(default=None, max_length=254, pattern=r"^[^@\s]+@[^@\s]+$")

    @model_validator(mode="after")
    def _exactly_one(self) -> CustomerRef:
        if sum(v is not None for v in (self.customer_id, self.phone, self.email)) != 1:
            raise ValueError("give exactly one of customer_id, phone and email")
        return self


class BusinessEventBody(Body):
    event_id: str = Field(
        pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,99}$",
        description="the sender's id: a retry with it is stored once",
    )
    type: str = Field(
        pattern=r"^[a-z][a-z0-9_]*(\.[a-z0-9_]+)+$",
        max_length=64,
        description="e.g. order.shipped, invoice.overdue",
    )
    occurred_at: AwareDatetime = Field(description="ISO-8601 with a time zone")
    customer: CustomerRef
    data: dict[DataKey, DataValue] = Field(
        default_factory=dict, max_length=50, description="at most 8 KB as JSON"
    )

    @model_validator(mode="after")
    def _small(self) -> BusinessEventBody:
        if len(json.dumps(self.data, ensure_ascii=False).encode()) > MAX_DATA_BYTES:
            raise ValueError(f"data is larger than {MAX_DATA_BYTES} bytes")
        return self
