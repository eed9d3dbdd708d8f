"""Request bodies of the workspace routes in ``app.py`` (HTTP glue, beside ``api.py``): sign-in,
replies, transfers, notes, agents and groups, customer edits. Capabilities keep their own bodies in
``<capability>/bodies.py``; ``app.py`` names all of them through ``api.Models`` so they are built on
a route's first use, not at every core Lambda's cold start."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, StringConstraints, model_validator

from chalicelib.bodies import Body, GroupId, TagsBody
from chalicelib.channels import ChannelName
from chalicelib.messages import TemplateRef


class LoginBody(Body):
    username: str = Field(min_length=1, max_length=128)
    password: str = Field(min_length=1, max_length=256)


class ReplyBody(Body):
    text: str = Field(default="", max_length=4000)
    channel: ChannelName | None = Field(
        default=None, description="send on this channel instead of the last one"
    )
    template: TemplateRef | None = Field(
        default=None, description="an approved template (outside reply windows)"
    )

    @model_validator(mode="after")
    def _text_or_template(self) -> ReplyBody:
        if not self.text and self.template is None:
            raise ValueError("text or template is required")
        return self


class TransferBody(Body):
    to_agent: str | None = Field(default=None, max_length=128, description="hand it to this agent")
    to_group: str | None = Field(default=None, max_length=64, description="or to this skill group's queue")
    note: str = Field(default="", max_length=2000, description="a private note for whoever takes it")

    @model_validator(mode="after")
    def _one_target(self) -> TransferBody:
        if bool(self.to_agent) == bool(self.to_group):
            raise ValueError("give exactly one of to_agent and to_group")
        return self


class PriorityBody(Body):
    priority: Literal["low", "normal", "high", "urgent"]


class PresenceBody(Body):
    presence: Literal["online", "away", "offline"]


class GroupBody(Body):
    name: str = Field(min_length=1, max_length=80)
    description: str = Field(default="", max_length=500)
    lead_id: str | None = Field(default=None, max_length=128, description="the team lead's agent id")


ChannelType = Annotated[str, StringConstraints(pattern=r"^(chat|email|voice)$")]


class AgentConfigBody(Body):
    groups: list[GroupId] | None = Field(default=None, max_length=50, description="existing skill group ids")
    capacity: dict[ChannelType, Annotated[int, Field(ge=0, le=50)]] | None = Field(
        default=None, description="per channel type: chat, email, voice; 0..50 (a type left out: 0)"
    )
    proficiency: dict[GroupId, Annotated[int, Field(ge=1, le=5)]] | None = Field(
        default=None, max_length=50, description="per group id: 1 (learning) .. 5 (expert)"
    )


class MergeBody(Body):
    source_customer_id: str = Field(min_length=1, description="the customer folded into the target")


class NoteBody(Body):
    text: str = Field(min_length=1, max_length=4000, description="private; @agent_id mentions notify")


class SnoozeBody(Body):
    until: AwareDatetime = Field(description="ISO-8601 with a time zone; at most 30 days ahead")


TICKET_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]{0,63}$"


class TicketLinkBody(Body):
    ticket_id: str = Field(pattern=TICKET_ID)


AttributeKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")]


class CustomerPatchBody(Body):
    tags: TagsBody | None = None
    attributes: dict[AttributeKey, Annotated[str, Field(max_length=1000)] | None] | None = Field(
        default=None, max_length=50, description="value sets, null removes"
    )
