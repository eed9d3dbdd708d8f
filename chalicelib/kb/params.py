"""Query-string parameters of the KB routes, validated (a bad one is a 400, never a 500)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from chalicelib.errors import Invalid
from chalicelib.kb.bodies import LANGUAGES

MAX_QUERY = 500
MAX_LIMIT = 20


def int_param(
    params: Mapping[str, str], name: str, *, required: bool = False, low: int = 1, high: int = 1_000_000
) -> int | None:
    raw = params.get(name)
    if raw is None or raw == "":
        if required:
            raise Invalid(f"?{name}= is required")
        return None
    if not re.fullmatch(r"\d{1,7}", raw) or not low <= int(raw) <= high:
        raise Invalid(f"?{name}= must be a whole number from {low} to {high}")
    return int(raw)


def period_param(params: Mapping[str, str]) -> str:
    period = params.get("period") or "total"
    if period != "total" and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", period):
        raise Invalid("?period= is total or a day, YYYY-MM-DD")
    return period


@dataclass(frozen=True)
class SearchQuery:
    q: str
    language: str | None
    limit: int
    channel: str | None

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> SearchQuery:
        q = (params.get("q") or "").strip()
        if not q:
            raise Invalid("?q= is required")
        if len(q) > MAX_QUERY:
            raise Invalid(f"?q= is at most {MAX_QUERY} characters")
        language = params.get("language") or None
        if language is not None and language not in LANGUAGES:
            raise Invalid(f"?language= is one of {', '.join(LANGUAGES)}")
        channel = params.get("channel") or None
        if channel is not None and not re.fullmatch(r"[a-z][a-z0-9_]{1,31}", channel):
            raise Invalid("?channel= is a channel name")
        limit = int_param(params, "limit", low=1, high=MAX_LIMIT) or 5
        return cls(q, language, limit, channel)
