"""Routing rules: an ordered list an admin edits, evaluated for each new conversation to choose its
skill group, priority, whether a bot answers first, and tags. ``decide`` is pure; the stored rule
set and calendars come from ``chalicelib.routing.service``.

Semantics: rules are tried in order, disabled ones skipped. A rule matches when every condition it
has holds (a rule without conditions matches everything: a catch-all). Among the matching rules the
first that sets the group wins the group, likewise for the priority and bot_first; tags of every
matching rule accumulate; a matching rule with ``stop_processing`` ends the evaluation.

Keywords match whole words, case-insensitively, after NFKC normalization (full-width letters are
ordinary letters), except where a keyword's end is CJK: Chinese and Japanese do not separate words,
so ``退款`` matches inside ``我要退款``. Regular expressions use the ``regex`` package with a timeout:
a catastrophic pattern costs about ``REGEX_TIMEOUT`` seconds and counts as no match (all regexes
of one decision share ``REGEX_BUDGET`` seconds).
"""

from __future__ import annotations

import time
import unicodedata
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import cached_property, lru_cache
from typing import Annotated, Any, Literal

import regex
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from regex import Pattern

from chalicelib.calendars.hours import NAME_PATTERN, BusinessHours
from chalicelib.channels import CHANNELS, ChannelName
from chalicelib.errors import Invalid
from chalicelib.observability import logger

Priority = Literal["low", "normal", "high", "urgent"]
PRIORITIES: tuple[str, ...] = ("low", "normal", "high", "urgent")
MAX_RULES = 200
MAX_REGEX_LENGTH = 500
MAX_TEXT = 8000  # characters of a message that rules look at
REGEX_TIMEOUT = 0.02  # the regex package overshoots a little; legit patterns need microseconds
REGEX_BUDGET = 0.1
GROUP_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
_CJK = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Hangul}"
_WORD = rf"[^\W{_CJK}]"  # a letter or digit of a script that separates words with spaces
_IS_WORD = regex.compile(rf"^{_WORD}$")


def _strip(value: str) -> str:
    return value.strip()


Label = Annotated[str, AfterValidator(_strip), Field(min_length=1, max_length=64)]


class InvalidRules(Invalid):
    """A rule set that cannot be saved (unknown channel, group or calendar …): a 400."""


def fold(text: str) -> str:
    """How keywords and text are compared: NFKC (full-width → ASCII), then case-folded."""
    return unicodedata.normalize("NFKC", text).casefold()


@lru_cache(maxsize=1024)
def compile_regex(pattern: str) -> Pattern[str]:
    """A rule's pattern, compiled once per process (case-insensitive unless it says ``(?-i)``)."""
    return regex.compile(pattern, regex.IGNORECASE)


def _keyword_pattern(keywords: Sequence[str]) -> Pattern[str]:
    alternatives = []
    for keyword in keywords:
        word = fold(keyword)
        left = rf"(?<!{_WORD})" if _IS_WORD.match(word[0]) else ""
        right = rf"(?!{_WORD})" if _IS_WORD.match(word[-1]) else ""
        alternatives.append(f"{left}{regex.escape(word)}{right}")
    return regex.compile("|".join(alternatives))


class BusinessHoursCondition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    state: Literal["open", "closed"]
    calendar: str = Field(pattern=NAME_PATTERN, description="a calendar's name (/admin/calendars)")


class QueueCondition(BaseModel):
    """Holds while a skill group's queue is at least this long (the peak-day lever: the bot first
    once the agents fall behind)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    group: str = Field(pattern=GROUP_PATTERN, description="skill group id")
    waiting_at_least: int = Field(ge=1, le=100_000, description="conversations waiting in its chat queue")


class RuleMatch(BaseModel):
    """Conditions; every one present must hold. Lists mean "any of"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    keywords: list[Annotated[str, AfterValidator(_strip), Field(min_length=1, max_length=64)]] | None = Field(
        default=None, max_length=100, description="any of these words or phrases (CJK: as substrings)"
    )
    regex: str | None = Field(
        default=None,
        min_length=1,
        max_length=MAX_REGEX_LENGTH,
        description="a pattern searched in the text (regex package syntax, case-insensitive)",
    )
    # names are checked against the registry when the set is saved (check_references: one message per rule)
    channels: list[Annotated[str, Field(json_schema_extra={"enum": list(CHANNELS)})]] | None = Field(
        default=None, max_length=50, description="any of these channels"
    )
    accounts: list[Label] | None = Field(default=None, max_length=50, description="any of these accounts")
    tiers: list[Label] | None = Field(
        default=None, max_length=20, description="the customer's tier is one of"
    )
    tags: list[Label] | None = Field(default=None, max_length=50, description="the customer has any of")
    business_hours: BusinessHoursCondition | None = None
    queue: QueueCondition | None = Field(default=None, description="the group's queue is at least this long")
    sentiments: list[Literal["negative", "neutral", "positive"]] | None = Field(
        default=None, max_length=3, description="the message's sentiment is one of (chalicelib.assist)"
    )
    risks: list[Literal["low", "medium", "high"]] | None = Field(
        default=None,
        max_length=3,
        description="its escalation risk is one of (high: complaint, 12315, lawyer …)",
    )

    @field_validator("keywords", "channels", "accounts", "tiers", "tags", "sentiments", "risks")
    @classmethod
    def _empty_is_absent(cls, value: list[str] | None) -> list[str] | None:
        return value or None  # [] would otherwise be a condition no message meets

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                compile_regex(value)
            except regex.error as exc:
                raise ValueError(f"regex does not compile: {exc}") from exc
        return value

    @cached_property
    def _keywords(self) -> Pattern[str] | None:
        return _keyword_pattern(self.keywords) if self.keywords else None

    @cached_property
    def _tiers(self) -> frozenset[str] | None:
        return frozenset(fold(t) for t in self.tiers) if self.tiers else None

    @cached_property
    def _tags(self) -> frozenset[str] | None:
        return frozenset(fold(t) for t in self.tags) if self.tags else None


class RuleActions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    group: str | None = Field(default=None, pattern=GROUP_PATTERN, description="skill group id")
    priority: Priority | None = None
    bot_first: bool | None = Field(default=None, description="true: the bot answers before an agent")
    tags: list[Label] = Field(default_factory=list, max_length=20, description="tags for the conversation")

    def empty(self) -> bool:
        return self.group is None and self.priority is None and self.bot_first is None and not self.tags


class Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rule_id: str = Field(pattern=NAME_PATTERN, description="stable id: lowercase letters, digits, - and _")
    name: str = Field(min_length=1, max_length=120)
    enabled: bool = True
    match: RuleMatch = Field(default_factory=RuleMatch)
    actions: RuleActions = Field(default_factory=RuleActions)
    stop_processing: bool = False

    @model_validator(mode="after")
    def _does_something(self) -> Rule:
        if self.actions.empty() and not self.stop_processing:
            raise ValueError(f"rule {self.rule_id!r} has no action and does not stop processing")
        return self


def _unique_ids(rules: Sequence[Rule]) -> None:
    seen: set[str] = set()
    for rule in rules:
        if rule.rule_id in seen:
            raise ValueError(f"rule id {rule.rule_id!r} is used twice")
        seen.add(rule.rule_id)


class RuleSet(BaseModel):
    """The stored, ordered rules. ``version`` 0: nothing saved yet."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = 0
    rules: list[Rule] = Field(default_factory=list, max_length=MAX_RULES)
    updated_at: str | None = None
    updated_by: str | None = None

    @model_validator(mode="after")
    def _ids(self) -> RuleSet:
        _unique_ids(self.rules)
        return self


class RuleSetUpdate(BaseModel):
    """PUT /admin/routing-rules: the whole new list and the version it replaces."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=0, description="the version read (0 when none was saved yet)")
    rules: list[Rule] = Field(max_length=MAX_RULES)

    @model_validator(mode="after")
    def _ids(self) -> RuleSetUpdate:
        _unique_ids(self.rules)
        return self


class RoutingContext(BaseModel):
    """What rules look at: the first message and its customer."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str = ""
    channel: str
    account: str = "default"
    tier: str | None = None
    tags: list[str] = Field(default_factory=list)
    at: datetime
    waiting: dict[str, int] = Field(default_factory=dict, description="group -> conversations waiting")
    sentiment: str | None = None  # negative | neutral | positive, when a rule asks for it
    risk: str | None = None  # low | medium | high

    @field_validator("at")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        if value.tzinfo is None:
            raise ValueError("at must be timezone-aware")
        return value


class DryRun(BaseModel):
    """POST /admin/routing-rules/test: a message to route; ``rules`` tries a draft instead of the
    saved set."""

    model_config = ConfigDict(extra="forbid")

    text: str = Field(default="", max_length=MAX_TEXT)
    channel: ChannelName
    account: str = Field(default="default", min_length=1, max_length=64)
    tier: str | None = Field(default=None, max_length=64)
    tags: list[str] = Field(default_factory=list, max_length=50)
    at: datetime | None = Field(default=None, description="ISO-8601 with offset; default now")
    rules: list[Rule] | None = Field(default=None, max_length=MAX_RULES)

    @field_validator("at")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("at needs a UTC offset, e.g. 2025-01-06T09:30:00Z")
        return value


class Decision(BaseModel):
    model_config = ConfigDict(frozen=True)

    group: str | None = None
    priority: str | None = Field(default=None, description="low, normal, high or urgent")
    bot_first: bool = False
    tags: list[str] = Field(default_factory=list)
    matched: list[str] = Field(default_factory=list, description="ids of the rules that matched, in order")


class _Budget:
    """Regex time left for one decision."""

    def __init__(self, seconds: float) -> None:
        self.deadline = time.monotonic() + seconds

    def timeout(self) -> float:
        return min(REGEX_TIMEOUT, self.deadline - time.monotonic())


def _regex_matches(rule_id: str, pattern: str, text: str, budget: _Budget) -> bool:
    timeout = budget.timeout()
    if timeout <= 0:
        logger.warning("routing regex budget spent", extra={"rule_id": rule_id})
        return False
    try:
        return compile_regex(pattern).search(text, timeout=timeout) is not None
    except TimeoutError:
        logger.warning("routing regex timed out", extra={"rule_id": rule_id})
        return False


def _matches(
    rule: Rule,
    ctx: RoutingContext,
    text: str,
    folded: str,
    calendars: Mapping[str, BusinessHours],
    budget: _Budget,
) -> bool:
    m = rule.match
    if m.channels is not None and ctx.channel not in m.channels:
        return False
    if m.accounts is not None and ctx.account not in m.accounts:
        return False
    if m._tiers is not None and (ctx.tier is None or fold(ctx.tier) not in m._tiers):
        return False
    if m._tags is not None and not any(fold(t) in m._tags for t in ctx.tags):
        return False
    if m._keywords is not None and m._keywords.search(folded) is None:
        return False
    if m.sentiments is not None and ctx.sentiment not in m.sentiments:
        return False
    if m.risks is not None and ctx.risk not in m.risks:
        return False
    if m.business_hours is not None:
        calendar = calendars.get(m.business_hours.calendar)
        if calendar is None:
            logger.warning(
                "routing rule names a missing calendar",
                extra={"rule_id": rule.rule_id, "calendar": m.business_hours.calendar},
            )
            return False
        if calendar.is_open(ctx.at) != (m.business_hours.state == "open"):
            return False
    if m.queue is not None and ctx.waiting.get(m.queue.group, 0) < m.queue.waiting_at_least:
        return False
    return m.regex is None or _regex_matches(rule.rule_id, m.regex, text, budget)


def decide(
    rules: RuleSet | Sequence[Rule], ctx: RoutingContext, calendars: Mapping[str, BusinessHours]
) -> Decision:
    """Evaluate ``rules`` in order for ``ctx``; ``calendars`` by name for business-hours
    conditions (a missing calendar fails its condition). Pure but for the regex time budget."""
    ordered = rules.rules if isinstance(rules, RuleSet) else rules
    text = unicodedata.normalize("NFKC", ctx.text[:MAX_TEXT])
    folded = text.casefold()
    budget = _Budget(REGEX_BUDGET)
    group: str | None = None
    priority: Priority | None = None
    bot_first: bool | None = None
    tags: list[str] = []
    matched: list[str] = []
    for rule in ordered:
        if not rule.enabled or not _matches(rule, ctx, text, folded, calendars, budget):
            continue
        matched.append(rule.rule_id)
        actions = rule.actions
        group = group if group is not None else actions.group
        priority = priority if priority is not None else actions.priority
        bot_first = bot_first if bot_first is not None else actions.bot_first
        tags.extend(t for t in actions.tags if t not in tags)
        if rule.stop_processing:
            break
    return Decision(group=group, priority=priority, bot_first=bool(bot_first), tags=tags, matched=matched)


def wants_sentiment(rules: RuleSet | Sequence[Rule]) -> bool:
    """Whether any enabled rule looks at the message's sentiment or risk (then it is computed)."""
    ordered = rules.rules if isinstance(rules, RuleSet) else rules
    return any(r.enabled and (r.match.sentiments or r.match.risks) for r in ordered)


def check_references(
    rules: Sequence[Rule], *, channels: set[str], groups: set[str], calendars: set[str]
) -> None:
    """Every channel, skill group and calendar a rule names must exist. Raises ``InvalidRules``
    listing each problem."""
    problems: list[str] = []
    for rule in rules:
        for channel in rule.match.channels or ():
            if channel not in channels:
                problems.append(f"rule {rule.rule_id!r}: unknown channel {channel!r}")
        if rule.actions.group is not None and rule.actions.group not in groups:
            problems.append(f"rule {rule.rule_id!r}: unknown skill group {rule.actions.group!r}")
        if rule.match.queue is not None and rule.match.queue.group not in groups:
            problems.append(f"rule {rule.rule_id!r}: unknown skill group {rule.match.queue.group!r}")
        hours = rule.match.business_hours
        if hours is not None and hours.calendar not in calendars:
            problems.append(f"rule {rule.rule_id!r}: unknown calendar {hours.calendar!r}")
    if problems:
        raise InvalidRules(
            "; ".join(problems[:10]) + (f" (and {len(problems) - 10} more)" if len(problems) > 10 else "")
        )


def referenced(rules: Sequence[Rule]) -> tuple[set[str], set[str]]:
    """The skill groups and calendars ``rules`` name."""
    groups = {r.actions.group for r in rules if r.actions.group is not None}
    groups |= {r.match.queue.group for r in rules if r.match.queue is not None}
    calendars = {r.match.business_hours.calendar for r in rules if r.match.business_hours is not None}
    return groups, calendars


def dump(rules: Sequence[Rule]) -> list[dict[str, Any]]:
    """Rules as stored and shown: JSON-ready, absent conditions left out."""
    return [rule.model_dump(mode="json", exclude_none=True) for rule in rules]
