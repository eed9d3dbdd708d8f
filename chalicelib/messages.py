"""The normalized message: the one shape every channel is turned into, and the only thing that
crosses from the ingress plane (webhooks) to the core (router) and back out (sender).

Webhooks build an ``InboundMessage`` and put its JSON on the inbound FIFO queue; the router reads it
back through powertools' parser (``InboundRecord``). Replies travel the other way as
``OutboundMessage`` on the outbound FIFO queue. Nothing channel-specific leaks past these models:
what a channel needs to answer in context (an email's Message-ID, a LINE reply token) rides in
``reply_context`` as opaque strings.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

MessageType = Literal["text", "image", "file", "voice", "video", "location", "event", "status"]
HintField = Literal["phone", "email", "unionid", "external_id"]


def utcnow() -> datetime:
    return datetime.now(UTC)


def iso(ts: datetime) -> str:
    """UTC ISO-8601 with milliseconds: the one timestamp format in storage."""
    return ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CustomerHints(_Model):
    """What the channel tells us about who is writing. Only fields listed in ``verified`` may link
    this identity to an existing customer; the rest are shown to agents but never merge anyone."""

    display_name: str | None = None
    phone: str | None = None  # E.164
    email: str | None = None  # lower-cased
    unionid: str | None = None  # WeChat unionid (same person across one company's WeChat apps)
    external_id: str | None = None  # the company's own user id (signed web identity)
    verified: tuple[HintField, ...] = ()


class Attachment(_Model):
    kind: Literal["image", "file", "voice", "video"]
    url: str | None = None
    media_id: str | None = None  # platform media handle, fetched on demand
    name: str | None = None
    mime_type: str | None = None
    size: int | None = None


class Location(_Model):
    latitude: float
    longitude: float
    label: str | None = None


class DeliveryStatus(_Model):
    """A platform's report on one of *our* outbound messages (delivered, read, failed)."""

    platform_message_id: str  # the id the platform gave our message (SendResult.platform_message_id)
    state: Literal["delivered", "read", "failed"]
    error: str | None = None


class TemplateRef(_Model):
    """A pre-approved message template (WhatsApp outside the 24 h window, and the like)."""

    name: str
    language: str = "en"
    params: tuple[str, ...] = ()


class InboundMessage(_Model):
    channel: str
    account: str = "default"
    channel_user_id: str
    hints: CustomerHints = CustomerHints()
    type: MessageType = "text"
    text: str = ""
    attachments: tuple[Attachment, ...] = ()
    location: Location | None = None
    event: str | None = None  # subscribe, unsubscribe, ... when type == "event"
    status: DeliveryStatus | None = (
        None  # when type == "status"; platform_message_id is then unique per report
    )
    platform_message_id: str
    sent_at: datetime
    received_at: datetime = Field(default_factory=utcnow)
    reply_context: dict[str, str] = Field(default_factory=dict)
    correlation_id: str | None = None

    @property
    def identity_key(self) -> str:
        return identity_key(self.channel, self.account, self.channel_user_id)

    @property
    def dedupe_key(self) -> str:
        """Stable across platform retries: the platform's own message id, scoped to the account."""
        return f"{self.channel}#{self.account}#{self.platform_message_id}"

    @property
    def group_id(self) -> str:
        """FIFO message group: one per sender, so each sender's messages stay in order."""
        return hashlib.sha256(self.identity_key.encode()).hexdigest()[:64]


class OutboundMessage(_Model):
    message_id: str  # our id: "<conversation_id>#<seq>"
    conversation_id: str
    seq: int
    customer_id: str
    channel: str
    account: str = "default"
    channel_user_id: str
    type: Literal["text"] = "text"
    text: str
    template: TemplateRef | None = None  # send this approved template instead of free text
    agent_id: str | None = None
    reply_context: dict[str, str] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=utcnow)


class SendResult(_Model):
    """What a channel's send API answered. ``platform_message_id`` when the platform gives one."""

    status: Literal["sent", "sent_local", "failed"]
    platform_message_id: str | None = None
    error: str | None = None
    retryable: bool = False  # transient failures go back to the queue; permanent ones are recorded


def identity_key(channel: str, account: str, user_id: str) -> str:
    return f"{channel}#{account}#{user_id}"
