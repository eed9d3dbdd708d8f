"""Request bodies of the knowledge-base routes (validated before the service sees them)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from chalicelib.bodies import Body

LANGUAGES = ("zh-CN", "zh-TW", "en")
Language = Literal["zh-CN", "zh-TW", "en"]
Question = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Label = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=32)]
Channel = Annotated[str, StringConstraints(strip_whitespace=True, pattern=r"^[a-z][a-z0-9_]{1,31}$")]
Word = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=40)]
TITLE_MAX, BODY_MAX = 200, 20_000


def _unique(values: list[str] | None) -> list[str] | None:
    return None if values is None else list(dict.fromkeys(values))


class ArticleBody(Body):
    title: str = Field(min_length=1, max_length=TITLE_MAX)
    body: str = Field(min_length=1, max_length=BODY_MAX, description="Markdown")
    language: Language = Field(description="zh-CN, zh-TW or en")
    questions: list[Question] = Field(
        default_factory=list, max_length=50, description="other ways customers ask it"
    )
    tags: list[Label] = Field(default_factory=list, max_length=20)
    skill_groups: list[Label] = Field(default_factory=list, max_length=20)
    channels: list[Channel] = Field(
        default_factory=list, max_length=20, description="channels it may be shown on; empty: all"
    )
    status: Literal["draft", "published"] = Field(default="draft", description="published: publish at once")

    _dedupe = field_validator("questions", "tags", "skill_groups", "channels")(_unique)


class ArticleChanges(Body):
    """A new version: only the fields given change. ``version``, when given, must be the head
    version the editor read (else 409)."""

    version: int | None = Field(default=None, ge=1)
    title: str | None = Field(default=None, min_length=1, max_length=TITLE_MAX)
    body: str | None = Field(default=None, min_length=1, max_length=BODY_MAX)
    language: Language | None = None
    questions: list[Question] | None = Field(default=None, max_length=50)
    tags: list[Label] | None = Field(default=None, max_length=20)
    skill_groups: list[Label] | None = Field(default=None, max_length=20)
    channels: list[Channel] | None = Field(default=None, max_length=20)
    status: Literal["draft", "published"] | None = Field(
        default=None, description="published: publish this version"
    )

    _dedupe = field_validator("questions", "tags", "skill_groups", "channels")(_unique)


class RollbackBody(Body):
    version: int = Field(ge=1, description="the version whose content becomes the new head")


class FeedbackBody(Body):
    helpful: bool


class SynonymsBody(Body):
    version: int = Field(ge=0, description="the version read (0: none saved yet); a stale one is 409")
    groups: list[Annotated[list[Word], Field(min_length=2, max_length=20)]] = Field(max_length=500)
