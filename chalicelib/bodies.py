"""Request bodies' shared base and field types (foundation).

Each capability keeps its own request bodies beside its service (``<capability>/bodies.py``) and
builds them from these, so no capability imports the HTTP glue for a body.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints


class Body(BaseModel):
    """A JSON request body: unknown fields are refused, strings stripped."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)


# Tags: letters (any script), digits and a few separators; stored lower-case.
Tag = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, to_lower=True, min_length=1, max_length=40, pattern=r"^\w[\w .:/+#&-]*$"
    ),
]


# A skill group's id, as PUT /admin/groups/{group_id} accepts it.
GroupId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{1,39}$")]


class TagsBody(Body):
    add: list[Tag] = Field(default_factory=list, max_length=20)
    remove: list[Tag] = Field(default_factory=list, max_length=20)
