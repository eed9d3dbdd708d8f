"""Request bodies of the canned-reply routes (validated before the service sees them)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from chalicelib.bodies import Body
from chalicelib.canned.models import PERSONAL, TEAM
from chalicelib.canned.text import VARIABLES, fold, unknown_variables

SHORTCUT = r"^/[^\s/]{1,32}$"
LANGUAGE = r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$"
BODY_MAX = 4000  # as a reply's text
GROUP_OR_ALL = r"^(all|[a-z0-9][a-z0-9_-]{1,39})$"  # a skill group id (PUT /admin/groups/{id}) or "all"


def _check_body(body: str | None) -> str | None:
    if body is not None:
        unknown = unknown_variables(body)
        if unknown:
            known = ", ".join("{{" + v + "}}" for v in VARIABLES)
            raise ValueError(f"unknown variable {{{{{unknown[0]}}}}}; known: {known}")
    return body


def _clean_tags(tags: list[str] | None) -> list[str] | None:
    if tags is None:
        return None
    out = list(dict.fromkeys(t.strip() for t in tags if t.strip()))
    if any(len(t) > 32 for t in out):
        raise ValueError("a tag is at most 32 characters")
    return out


def _fold_shortcut(shortcut: object) -> object:
    return fold(shortcut) if isinstance(shortcut, str) else shortcut  # "／ＲＥＦＵＮＤ" is "/refund"


class CannedReplyBody(Body):
    title: str = Field(min_length=1, max_length=120)
    body: str = Field(
        min_length=1, max_length=BODY_MAX, description="text with {{customer.name}}-style variables"
    )
    shortcut: str | None = Field(default=None, pattern=rf"{SHORTCUT}|^$", description='e.g. "/refund"')
    language: str | None = Field(default=None, pattern=LANGUAGE, description='BCP 47, e.g. "zh-CN"')
    scope: Literal["personal", "team"] = "personal"
    group_id: str | None = Field(
        default=None, pattern=GROUP_OR_ALL, description='team replies: a skill group id, or "all"'
    )
    tags: list[str] = Field(default_factory=list, max_length=20)

    check_body = field_validator("body")(_check_body)
    clean_tags = field_validator("tags")(_clean_tags)
    fold_shortcut = field_validator("shortcut", mode="before")(_fold_shortcut)

    @model_validator(mode="after")
    def _scope(self) -> CannedReplyBody:
        if self.scope == TEAM and not self.group_id:
            raise ValueError('a team reply needs group_id (a skill group, or "all")')
        if self.scope == PERSONAL and self.group_id:
            raise ValueError("a personal reply has no group_id")
        return self


class CannedReplyChanges(Body):
    """Only the fields given change. ``version`` (from the reply as read) makes the edit fail with
    409 if someone else changed it in between."""

    title: str | None = Field(default=None, min_length=1, max_length=120)
    body: str | None = Field(default=None, min_length=1, max_length=BODY_MAX)
    shortcut: str | None = Field(default=None, pattern=rf"{SHORTCUT}|^$", description='"" removes it')
    language: str | None = Field(default=None, pattern=LANGUAGE)
    scope: Literal["personal", "team"] | None = None
    group_id: str | None = Field(default=None, pattern=GROUP_OR_ALL, description='a skill group id, or "all"')
    tags: list[str] | None = Field(default=None, max_length=20)
    version: int | None = Field(default=None, ge=0)

    check_body = field_validator("body")(_check_body)
    clean_tags = field_validator("tags")(_clean_tags)

    fold_shortcut = field_validator("shortcut", mode="before")(_fold_shortcut)

    @model_validator(mode="after")
    def _scope(self) -> CannedReplyChanges:
        if self.scope == TEAM and not self.group_id:
            raise ValueError('moving a reply to a team needs group_id (a skill group, or "all")')
        if self.scope == PERSONAL and self.group_id:
            raise ValueError("a personal reply has no group_id")
        if self.group_id and self.scope is None:
            raise ValueError('group_id goes with scope "team"')
        return self


class RenderBody(Body):
    conversation_id: str = Field(min_length=1, max_length=64)
    order_number: str | None = Field(
        default=None, min_length=1, max_length=100, description="else the customer's latest order"
    )
