"""Request bodies of the assist API."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from chalicelib.bodies import Body


class SuggestionUsedBody(Body):
    """POST /conversations/{id}/suggestions/used: the agent inserted a suggestion."""

    kind: Literal["article", "canned"]
    item_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$")
