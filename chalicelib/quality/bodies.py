"""Request bodies of the quality API."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

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


Mark = Annotated[int, Field(ge=0, le=5)]


class ReviewForm(Body):
    """The supervisor's score form: each criterion 0 (missing) to 5 (exemplary)."""

    greeting: Mark
    understanding: Mark = Field(description="understood what the customer needed")
    solution: Mark = Field(description="solved it, or set a clear next step")
    attitude: Mark
    compliance: Mark = Field(description="said nothing the rules forbid, promised nothing it may not")


class ReviewBody(Body):
    """POST /quality/reviews/{conversation_id}: a supervisor scores a conversation."""

    form: ReviewForm
    comment: str = Field(default="", max_length=2000, description="what the agent should read")


class AppealBody(Body):
    """POST /quality/reviews/{conversation_id}/appeal: the agent disagrees, once."""

    reason: str = Field(min_length=1, max_length=2000)


class DecisionBody(Body):
    """POST /quality/reviews/{conversation_id}/decision: the supervisor decides an appeal."""

    decision: Literal["upheld", "overturned"] = Field(description="upheld: the review stands")
    comment: str = Field(default="", max_length=2000)
    form: ReviewForm | None = Field(default=None, description="overturned: the corrected form (required)")

    @model_validator(mode="after")
    def _form_when_overturned(self) -> DecisionBody:
        if self.decision == "overturned" and self.form is None:
            raise ValueError("an overturned review needs the corrected form")
        return self
