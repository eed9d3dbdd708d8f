"""Quality rules (C9): what an agent's reply must not say and must say, as one versioned set an
admin edits. ``check`` is pure but for the regex time budget; the stored set and its per-version
automaton come from ``chalicelib.quality.service``.

Kinds:
- ``phrase``: forbidden or risky phrases, matched through disguise (``normalize``) with one
  Aho-Corasick automaton per rule-set version over every phrase rule's phrases.
- ``regex``: a pattern (``regex`` package, case-insensitive) searched in the text as sent, with a
  timeout: a catastrophic pattern counts as no match (all patterns of one check share a budget).
- ``required``: one of ``phrases`` must appear in the first reply (a greeting) or in the closing
  reply (a closing line); missing, the violation spans the whole reply.
- ``response_time``: the first reply came later than ``seconds`` after the conversation opened.

A violation's ``start``/``end`` index the text as sent (Python string positions).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Annotated, Any, Literal

import ahocorasick
import regex
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator
from regex import Pattern

from chalicelib.observability import logger
from chalicelib.quality import normalize
from chalicelib.quality.normalize import Phrase

MAX_RULES = 200
MAX_PHRASES = 10_000  # over the whole set
MAX_TEXT = 8000
REGEX_TIMEOUT = 0.02
REGEX_BUDGET = 0.1
RULE_ID = r"^[a-z0-9][a-z0-9_-]{0,63}$"
Severity = Literal["block", "warn"]


def _strip(value: str) -> str:
    return value.strip()


PhraseText = Annotated[str, AfterValidator(_strip), Field(min_length=1, max_length=100)]


class InvalidQualityRules(ValueError):
    """A rule set that cannot be saved: a 400."""


@lru_cache(maxsize=1024)
def compile_regex(pattern: str) -> Pattern[str]:
    return regex.compile(pattern, regex.IGNORECASE)


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rule_id: str = Field(pattern=RULE_ID, description="stable id: lowercase letters, digits, - and _")
    name: str = Field(default="", max_length=120)
    enabled: bool = True
    severity: Severity = Field(
        default="warn", description="block: the reply is refused; warn: sent, recorded"
    )


class PhraseRule(_Rule):
    kind: Literal["phrase"]
    phrases: list[PhraseText] = Field(min_length=1, max_length=MAX_PHRASES)
    ignore_negated: bool = Field(
        default=True,
        description="a phrase the agent negates does not count (我们无法保证收益): right for promises, "
        "wrong for insults",
    )

    @field_validator("phrases")
    @classmethod
    def _matchable(cls, value: list[str]) -> list[str]:
        for text in value:
            if sum(normalize.phrase(text).runs) < 2:
                raise ValueError(f"phrase {text!r} has fewer than 2 letters or characters to match")
        return value


class RegexRule(_Rule):
    kind: Literal["regex"]
    pattern: str = Field(min_length=1, max_length=500, description="regex package syntax, case-insensitive")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        try:
            compiled = compile_regex(value)
        except regex.error as exc:
            raise ValueError(f"pattern does not compile: {exc}") from exc
        if compiled.search("", timeout=REGEX_TIMEOUT) is not None:
            raise ValueError("pattern matches an empty text (it would flag every reply)")
        return value


class RequiredRule(_Rule):
    kind: Literal["required"]
    applies_to: Literal["first_reply", "closing"] = Field(
        description="first_reply: e.g. a greeting; closing: the reply sent when closing"
    )
    phrases: list[PhraseText] = Field(min_length=1, max_length=100, description="any one of these")

    @cached_property
    def matcher(self) -> Matcher:
        return Matcher([PhraseRule(rule_id=self.rule_id, kind="phrase", phrases=self.phrases)])


class ResponseTimeRule(_Rule):
    kind: Literal["response_time"]
    seconds: int = Field(ge=1, le=7 * 24 * 3600, description="the first reply later than this is flagged")
    severity: Literal["warn"] = "warn"  # blocking a late reply would only make it later


QualityRule = Annotated[PhraseRule | RegexRule | RequiredRule | ResponseTimeRule, Field(discriminator="kind")]


def _unique_ids(rules: Sequence[_Rule]) -> None:
    seen: set[str] = set()
    for rule in rules:
        if rule.rule_id in seen:
            raise ValueError(f"rule id {rule.rule_id!r} is used twice")
        seen.add(rule.rule_id)
    phrases = sum(len(r.phrases) for r in rules if isinstance(r, PhraseRule))
    if phrases > MAX_PHRASES:
        raise ValueError(f"{phrases} phrases; at most {MAX_PHRASES} in one rule set")


class QualityRuleSet(BaseModel):
    """The stored rules. ``version`` 0: nothing saved yet."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = 0
    rules: list[QualityRule] = Field(default_factory=list, max_length=MAX_RULES)
    updated_at: str | None = None
    updated_by: str | None = None

    @model_validator(mode="after")
    def _ids(self) -> QualityRuleSet:
        _unique_ids(self.rules)
        return self

    @cached_property
    def matcher(self) -> Matcher:
        """The automaton over every enabled phrase rule, built once per rule set (version)."""
        return Matcher(self.rules)


class QualityRulesUpdate(BaseModel):
    """PUT /admin/quality-rules: the whole new list and the version it replaces."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=0, description="the version read (0 when none was saved yet)")
    rules: list[QualityRule] = Field(max_length=MAX_RULES)

    @model_validator(mode="after")
    def _ids(self) -> QualityRulesUpdate:
        _unique_ids(self.rules)
        return self


@dataclass(frozen=True, slots=True)
class Violation:
    rule_id: str
    severity: str
    kind: str
    start: int
    end: int

    def to_json(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "severity": self.severity,
            "kind": self.kind,
            "start": self.start,
            "end": self.end,
        }


@dataclass(frozen=True, slots=True)
class ReplyContext:
    """What rules beyond the text look at: is this the first reply / the closing one, and how long
    the customer waited for the first reply."""

    first_reply: bool = False
    closing: bool = False
    waited_seconds: float | None = None


class Matcher:
    """Every phrase of every enabled phrase rule in one Aho-Corasick automaton."""

    def __init__(self, rules: Sequence[Any]) -> None:
        self.automaton: Any = ahocorasick.Automaton()
        targets: dict[str, list[tuple[PhraseRule, Phrase]]] = {}
        for rule in rules:
            if isinstance(rule, PhraseRule) and rule.enabled:
                for text in rule.phrases:
                    p = normalize.phrase(text)
                    targets.setdefault(p.key, []).append((rule, p))
        for key, value in targets.items():
            self.automaton.add_word(key, value)
        self.size = len(targets)
        if self.size:
            self.automaton.make_automaton()

    def find(self, text: str) -> list[Violation]:
        if not self.size:
            return []
        n = normalize.normalise(text)
        found: dict[tuple[str, int], Violation] = {}
        for last, targets in self.automaton.iter(n.key):
            for rule, p in targets:
                first = last - len(p.key) + 1
                if not normalize.accept(n, first, last, p, ignore_negated=rule.ignore_negated):
                    continue
                v = Violation(
                    rule.rule_id, rule.severity, "phrase", n.entries[first].start, n.entries[last].end
                )
                # one violation per rule and start: the longest phrase there
                prev = found.get((rule.rule_id, v.start))
                if prev is None or prev.end < v.end:
                    found[(rule.rule_id, v.start)] = v
        return sorted(_drop_nested(found.values()), key=lambda v: (v.start, v.rule_id))


def _drop_nested(violations: Any) -> list[Violation]:
    """A rule's hit inside a longer hit of the same rule is the same hit."""
    out: list[Violation] = []
    for v in sorted(violations, key=lambda v: (v.rule_id, v.start, -v.end)):
        if out and out[-1].rule_id == v.rule_id and out[-1].start <= v.start and v.end <= out[-1].end:
            continue
        out.append(v)
    return out


def _regex_hits(rule: RegexRule, text: str, deadline: float) -> list[Violation]:
    timeout = min(REGEX_TIMEOUT, deadline - time.monotonic())
    if timeout <= 0:
        logger.warning("quality regex budget spent", extra={"rule_id": rule.rule_id})
        return []
    try:
        return [
            Violation(rule.rule_id, rule.severity, "regex", m.start(), m.end())
            for m in compile_regex(rule.pattern).finditer(text, timeout=timeout)
            if m.end() > m.start()
        ][:20]
    except TimeoutError:
        logger.warning("quality regex timed out", extra={"rule_id": rule.rule_id})
        return []


def _contains_any(rule: RequiredRule, text: str) -> bool:
    return rule.matcher.find(text) != []


def check(rule_set: QualityRuleSet, text: str, context: ReplyContext | None = None) -> list[Violation]:
    """Every violation of ``rule_set`` in an agent's ``text`` (block ones first)."""
    context = context or ReplyContext()
    text = text[:MAX_TEXT]
    found = list(rule_set.matcher.find(text))
    deadline = time.monotonic() + REGEX_BUDGET
    for rule in rule_set.rules:
        if not rule.enabled:
            continue
        if isinstance(rule, RegexRule):
            found.extend(_regex_hits(rule, text, deadline))
        elif isinstance(rule, RequiredRule):
            due = context.first_reply if rule.applies_to == "first_reply" else context.closing
            if due and not _contains_any(rule, text):
                found.append(Violation(rule.rule_id, rule.severity, "required", 0, len(text)))
        elif isinstance(rule, ResponseTimeRule):
            waited = context.waited_seconds
            if context.first_reply and waited is not None and waited > rule.seconds:
                found.append(Violation(rule.rule_id, rule.severity, "response_time", 0, 0))
    return sorted(found, key=lambda v: (v.severity != "block", v.start, v.rule_id))


def dump(rules: Sequence[Any]) -> list[dict[str, Any]]:
    """Rules as stored and shown: JSON-ready."""
    return [rule.model_dump(mode="json") for rule in rules]
