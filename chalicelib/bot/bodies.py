"""Request bodies of the bot's admin API."""

from __future__ import annotations

from pydantic import Field, model_validator

from chalicelib.bodies import Body
from chalicelib.bot.flows import MAX_FLOWS, Flow, unique_ids


class FlowSetUpdate(Body):
    """PUT /admin/bot-flows: the whole new set of flows and the version it replaces."""

    version: int = Field(ge=0, description="the version read (0 while the defaults serve)")
    flows: list[Flow] = Field(max_length=MAX_FLOWS, description="every flow, in matching order")

    @model_validator(mode="after")
    def _ids(self) -> FlowSetUpdate:
        unique_ids(self.flows)
        return self
