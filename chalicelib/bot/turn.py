"""The bot's decisions for one customer message (pure): hand off now, or what search's answer
means (answer alone, offer the top three, or say nothing was found)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from chalicelib.bot import text as bot_text
from chalicelib.bot.knowledge import Found, Hit

FAILURES_BEFORE_HANDOFF = 2  # consecutive: nothing found / "didn't help" / unreadable
SUGGESTIONS = 3

HandoffReason = Literal[
    "asked",
    "negative",
    "repeated_failure",
    "flow_failed",
    "orders_unavailable",
    "no_article",
    "media",
    "error",
]
REASON_TEXT = {
    "asked": "the customer asked for a person",
    "negative": "the customer is upset",
    "repeated_failure": "the bot failed repeatedly",
    "flow_failed": "the customer's answers could not be read",
    "orders_unavailable": "the order system could not be reached",
    "no_article": "no policy article was found",
    "media": "the customer sent something other than text",
    "resolved": "resolved by the bot",
    "abandoned": "the customer went quiet",
    "error": "the bot could not answer (an internal error)",
}


def handoff_now(message: str, message_type: str = "text") -> HandoffReason | None:
    """A reason to hand off before anything else: the customer asks for a person, is upset, or
    sent what the bot cannot read (a picture, a voice note)."""
    if message_type not in ("text", "event") and not message.strip():
        return "media"
    if bot_text.wants_human(message):
        return "asked"
    if bot_text.is_negative(message):
        return "negative"
    return None


def failed_again(failures: int) -> bool:
    """After this many consecutive failures, the bot stops trying."""
    return failures >= FAILURES_BEFORE_HANDOFF


@dataclass(frozen=True)
class SearchPlan:
    kind: Literal["answer", "suggest", "nothing"]
    article_id: str | None = None
    options: tuple[Hit, ...] = ()


def after_search(found: Found, *, min_score: float = 0.0) -> SearchPlan:
    """Confident (the engine named an answer) → answer with it; else the top three above
    ``min_score`` as "did you mean"; else nothing. The bot never picks an answer the engine did
    not stand behind."""
    if found.answer:
        return SearchPlan("answer", found.answer)
    seen: set[str] = set()
    options: list[Hit] = []
    for hit in found.results:
        if hit.score >= min_score and hit.article_id not in seen:
            seen.add(hit.article_id)
            options.append(hit)
    if options:
        return SearchPlan("suggest", options=tuple(options[:SUGGESTIONS]))
    return SearchPlan("nothing")


def picked(message: str, offered: list[dict[str, str]]) -> str | None:
    """The article a customer picked from a "did you mean" list: by number, or by its title."""
    if not offered:
        return None
    number = bot_text.choice(message, len(offered))
    if number is not None:
        return offered[number - 1]["article_id"]
    folded = bot_text.fold(message)
    for option in offered:
        if folded and folded == bot_text.fold(option.get("title", "")):
            return option["article_id"]
    return None
