"""Request bodies of the ticket routes (pydantic, validated before any service runs)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from chalicelib.bodies import Body, Tag, TagsBody

Priority = Literal["low", "normal", "high", "urgent"]
Status = Literal["new", "open", "pending_customer", "on_hold", "solved", "closed"]
Category = Annotated[
    str, StringConstraints(strip_whitespace=True, to_lower=True, pattern=r"^[a-z][a-z0-9_-]{0,39}$")
]
Ident = Annotated[
    str, StringConstraints(strip_whitespace=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:@+-]{0,127}$")
]
Short = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=128)]
Scalar = str | int | float | bool


class TicketBody(Body):
    subject: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=8000)
    category: Category | None = None
    priority: Priority = "normal"
    requester_id: Ident | None = Field(default=None, description="the customer")
    assignee_id: Ident | None = None
    group_id: Ident | None = Field(default=None, description="the department (a skill group)")
    order_number: Short | None = None
    device_serial: Short | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=20)
    custom_fields: dict[str, Scalar] = Field(default_factory=dict, max_length=20)
    conversation_id: Ident | None = Field(default=None, description="link this conversation")
    language: Literal["zh-CN", "en"] | None = None
    notify: bool = Field(default=True, description="tell the customer on their channel")


class FromConversationBody(Body):
    subject: str | None = Field(
        default=None, max_length=200, description="default: the conversation's preview"
    )
    description: str | None = Field(default=None, max_length=8000)
    category: Category | None = None
    priority: Priority | None = Field(default=None, description="default: the conversation's priority")
    assignee_id: Ident | None = Field(default=None, description="default: the agent creating it")
    group_id: Ident | None = Field(default=None, description="default: the conversation's group")
    order_number: Short | None = None
    device_serial: Short | None = None
    tags: list[Tag] = Field(default_factory=list, max_length=20)
    custom_fields: dict[str, Scalar] = Field(default_factory=dict, max_length=20)
    notify: bool = True


class SubticketBody(Body):
    group_id: Ident = Field(description="the department doing this part")
    subject: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=8000)
    category: Category | None = None
    priority: Priority | None = Field(default=None, description="default: the parent's")
    assignee_id: Ident | None = None


class TicketPatch(Body):
    """Only the fields present change; ``null`` clears assignee, group, category, order number,
    device serial; a custom field set to ``null`` is removed."""

    version: int = Field(ge=0, description="the version read; 409 if the ticket moved since")
    subject: str | None = Field(default=None, min_length=1, max_length=200)
    status: Status | None = None
    priority: Priority | None = None
    assignee_id: Ident | None = None
    group_id: Ident | None = None
    category: Category | None = None
    order_number: Short | None = None
    device_serial: Short | None = None
    tags: TagsBody | None = None
    custom_fields: dict[str, Scalar | None] | None = Field(default=None, max_length=20)

    def changes(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.model_fields_set if k != "version"}


class CommentBody(Body):
    text: str = Field(min_length=1, max_length=4000)
    public: bool = Field(default=False, description="true: a reply that goes out to the customer")


class AlertCustomer(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)
    id: str | None = Field(default=None, description="your user id (as on the app channel)")
    name: str | None = Field(default=None, max_length=80)
    phone: str | None = Field(default=None, max_length=16)
    email: str | None = Field(default=None, max_length=320)
    verified: list[Literal["phone", "email"]] = Field(default_factory=list)


class AlertBody(Body):
    """A device's fault alert, sent by the company's backend (signed like the app channel)."""

    alert_id: Ident = Field(description="unique per alert: a resend creates nothing new")
    serial: Short = Field(description="the device serial number")
    subject: str | None = Field(default=None, max_length=200)
    description: str | None = Field(default=None, max_length=8000)
    fault_code: str | None = Field(default=None, max_length=64)
    priority: Priority = "normal"
    category: Category = "device_fault"
    customer: AlertCustomer | None = None
    language: Literal["zh-CN", "en"] | None = None
