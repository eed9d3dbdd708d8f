"""The admins' proactive rules (one versioned set, like the routing rules): which business event
becomes which notice, in which languages, and the limits every notice respects. Pure."""

from __future__ import annotations

import re
import string
from collections.abc import Mapping
from datetime import time
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from chalicelib.bodies import Body

MAX_RULES = 100
EventType = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$", max_length=64)]
RuleId = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
Language = Annotated[str, StringConstraints(pattern=r"^(zh-CN|zh-TW|en)$")]
ChannelName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{1,31}$")]
PLACEHOLDER = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def placeholders(template: str) -> list[str]:
    """The ``{name}`` placeholders of a template; ValueError on anything else (``{0}``, ``{a.b}``,
    format specs, a lone brace): a template is text with named holes, not code."""
    names: list[str] = []
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"template does not parse: {exc}") from exc
    for _, name, spec, conversion in parsed:
        if name is None:
            continue
        if not PLACEHOLDER.match(name) or spec or conversion:
            raise ValueError(f"placeholder {{{name}}} must be a plain {{lower_case_name}}")
        names.append(name)
    return names


def render(template: str, data: Mapping[str, Any]) -> str:
    """The template with each ``{name}`` replaced by ``data[name]`` (as text, 200 characters at
    most). KeyError names a placeholder the event's data does not give."""
    missing = [n for n in placeholders(template) if n not in data]
    if missing:
        raise KeyError(missing[0])
    return template.format_map({k: str(v)[:200] for k, v in data.items()})


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rule_id: RuleId
    event: EventType = Field(description="the business event type, e.g. order.shipped")
    template: dict[Language, Annotated[str, StringConstraints(min_length=1, max_length=1000)]] = Field(
        description="the notice per language, with {placeholders} from the event's data", min_length=1
    )
    channel_templates: dict[ChannelName, Annotated[str, StringConstraints(min_length=1, max_length=100)]] = (
        Field(
            default_factory=dict,
            description="per channel, the approved template sent outside its reply window (WhatsApp…)",
        )
    )
    enabled: bool = True

    @field_validator("template")
    @classmethod
    def _placeholders_parse(cls, value: dict[str, str]) -> dict[str, str]:
        for text in value.values():
            placeholders(text)
        return value


class QuietHours(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    start: time = Field(default=time(21, 0), description="local time quiet hours begin")
    end: time = Field(default=time(8, 0), description="local time they end (next morning if before start)")
    timezone: str = Field(default="Asia/Shanghai", description="IANA zone, unless the customer has one")

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value


class Limits(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    quiet_hours: QuietHours | None = Field(default_factory=QuietHours)
    daily_cap: int = Field(default=3, ge=1, le=50, description="notices per customer per local day")


def _unique(rules: list[Rule]) -> None:
    seen: set[str] = set()
    for r in rules:
        if r.rule_id in seen:
            raise ValueError(f"rule_id {r.rule_id!r} is used twice")
        seen.add(r.rule_id)


class RuleSet(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = 0
    rules: list[Rule] = Field(default_factory=list, max_length=MAX_RULES)
    limits: Limits = Field(default_factory=Limits)
    updated_at: str | None = None
    updated_by: str | None = None

    def rule_for(self, event_type: str) -> Rule | None:
        return next((r for r in self.rules if r.enabled and r.event == event_type), None)


class ProactiveRulesUpdate(Body):
    """PUT /admin/proactive-rules: the whole set and the version it replaces (409 when stale)."""

    version: int = Field(ge=0, description="the version read (0 when none was saved yet)")
    rules: list[Rule] = Field(max_length=MAX_RULES)
    limits: Limits = Field(default_factory=Limits)

    @model_validator(mode="after")
    def _ids(self) -> ProactiveRulesUpdate:
        _unique(self.rules)
        return self
