"""Factories for domain objects used across tests."""

from __future__ import annotations

from typing import Any


def inbound(
    channel: str = "sms",
    user: str = "+15550001111",
    text: str = "hello",
    msg_id: str | None = None,
    **kw: Any,
) -> Any:
    """A normalized inbound message as a webhook would produce it."""
    import uuid

    from chalicelib.messages import CustomerHints, InboundMessage, utcnow

    hints = kw.pop("hints", None) or CustomerHints()
    return InboundMessage(
        channel=channel,
        channel_user_id=user,
        text=text,
        platform_message_id=msg_id or uuid.uuid4().hex,
        sent_at=utcnow(),
        hints=hints,
        **kw,
    )
