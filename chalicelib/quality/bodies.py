"""Request bodies of the quality API."""

from __future__ import annotations

from pydantic import Field

from chalicelib.bodies import Body


class CheckBody(Body):
    """POST /quality/check: a draft reply, checked as the composer types."""

    text: str = Field(max_length=8000, description="the draft, as it would be sent")
    conversation_id: str | None = Field(
        default=None,
        max_length=64,
        description="check as a reply in this conversation (first-reply greeting, response time)",
    )
    closing: bool = Field(default=False, description="check as the closing reply (closing line)")
