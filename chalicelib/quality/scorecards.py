"""Score cards: what every sent agent reply and every closed conversation scored.

A reply's card is stored with its message when it is sent (``reply_card``, passed to the reply's
own write: the warnings it went out with, how long the customer had waited for it). A
conversation's card is computed when it closes (``on_conversation_closed``, called in the close
request — an in-process subscriber, no nightly scan): one Query of its messages, the reply cards
summed, the closing line checked, the first-response time; per-agent and per-group day counters
move by atomic ADD (a period's scores are one Query), and a card that needs a human look (low
score, complaint, negative CSAT — ``on_csat``, subscribed to ``events.CsatAnswered`` — or the
1-in-10 sample) joins the review queue (a sparse index, lowest score first).
"""

from __future__ import annotations

import hashlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import regex
from pynamodb.exceptions import PutError
from pynamodb.expressions.update import Action

from chalicelib.conversations import service as conversations
from chalicelib.conversations.models import Conversation, Message
from chalicelib.errors import Invalid
from chalicelib.messages import iso, utcnow
from chalicelib.quality.models import ScoreCard, ScoreTotal
from chalicelib.quality.rules import QualityRuleSet, ReplyContext, check

REVIEW_BELOW = 80  # a score under this goes to review
SAMPLE_ONE_IN = 10  # and one conversation in ten, chosen by its id, whatever its score
POINTS = {"phrase": 10, "regex": 10, "required": 10, "response_time": 10}
MAX_POINTS_PER_RULE = 30
MAX_PERIOD_DAYS = 92
# What customers write when they complain (the assist capability scores sentiment in detail).
_COMPLAINT = regex.compile(
    r"投诉|投訴|12315|律师|律師|曝光|消协|消協|complain|lawyer|sue you|legal action", regex.I
)


@dataclass
class Card:
    """The pure result of scoring one conversation."""

    score: int
    replies: int
    warnings: int
    penalties: list[dict[str, Any]] = field(default_factory=list)
    first_response_seconds: float | None = None
    greeting: bool | None = None
    closing: bool | None = None
    complaint: bool = False


def reply_card(conversation: Conversation, violations: list[dict[str, Any]], at: datetime) -> dict[str, Any]:
    """What is kept on a sent reply: its violations and the customer's wait for it."""
    waited = None
    if conversation.last_inbound_at:
        waited = round((at - datetime.fromisoformat(conversation.last_inbound_at)).total_seconds(), 1)
    return {
        "violations": violations,
        "response_seconds": waited,
        "first_reply": conversation.first_responded_at is None,
    }


def score(conversation: Conversation, messages: Sequence[Message], rule_set: QualityRuleSet) -> Card:
    """Score a closed conversation from its messages (pure but for the rules' regex budget)."""
    replies = [m for m in messages if m.direction == "out"]
    cards = [m.quality for m in replies if isinstance(m.quality, dict)]
    hits: Counter[tuple[str, str]] = Counter()
    for card in cards:
        for v in card.get("violations", []):
            hits[(v["rule_id"], v.get("kind", "phrase"))] += 1
    closing = None
    if replies and replies[-1].text:
        missing = [
            v for v in check(rule_set, replies[-1].text, ReplyContext(closing=True)) if v.kind == "required"
        ]
        closing = not missing
        for v in missing:
            hits[(v.rule_id, v.kind)] += 1
    greeting = None
    first = next((c for c in cards if c.get("first_reply")), None)
    if first is not None:
        greeting = not any(v.get("kind") == "required" for v in first.get("violations", []))
    penalties: list[dict[str, Any]] = []
    for (rule_id, kind), count in sorted(hits.items()):
        points = min(MAX_POINTS_PER_RULE, POINTS.get(kind, 10) * count)
        penalties.append({"rule_id": rule_id, "kind": kind, "count": count, "points": points})
    first_response = None
    if conversation.first_responded_at and conversation.created_at:
        first_response = (
            datetime.fromisoformat(conversation.first_responded_at)
            - datetime.fromisoformat(conversation.created_at)
        ).total_seconds()
    complaint = any(
        m.direction == "in" and _COMPLAINT.search(m.text or "") is not None for m in messages
    ) or ("complaint" in (conversation.tags or set()))
    return Card(
        score=max(0, 100 - sum(int(p["points"]) for p in penalties)),
        replies=len(replies),
        warnings=sum(len(c.get("violations", [])) for c in cards),
        penalties=penalties,
        first_response_seconds=first_response,
        greeting=greeting,
        closing=closing,
        complaint=bool(complaint),
    )


def review_reasons(card: Card, conversation_id: str, csat: int | None = None) -> set[str]:
    reasons = set()
    if card.score < REVIEW_BELOW:
        reasons.add("low_score")
    if card.complaint:
        reasons.add("complaint")
    if csat is not None and csat <= 2:
        reasons.add("negative_csat")
    if int(hashlib.sha256(conversation_id.encode()).hexdigest(), 16) % SAMPLE_ONE_IN == 0:
        reasons.add("sample")
    return reasons


def card_key(conversation_id: str) -> str:
    return f"card#{conversation_id}"


def on_conversation_closed(conversation: Conversation, rule_set: QualityRuleSet) -> ScoreCard:
    """Score a conversation that just closed and count it for its agent and group (once: closing
    it again after a reopen rewrites the card but counts nothing twice)."""
    messages = conversations.messages_of(conversation.conversation_id)
    card = score(conversation, messages, rule_set)
    closed_at = conversation.closed_at or iso(utcnow())
    reasons = review_reasons(card, conversation.conversation_id)
    item = ScoreCard(
        card_key(conversation.conversation_id),
        "card",
        conversation_id=conversation.conversation_id,
        agent_id=conversation.assignee_id,
        group_id=conversation.group_id,
        closed_at=closed_at,
        day=closed_at[:10],
        score=card.score,
        replies=card.replies,
        warnings=card.warnings,
        penalties=card.penalties,
        first_response_seconds=card.first_response_seconds,
        greeting=card.greeting,
        closing=card.closing,
        complaint=card.complaint,
        reasons=reasons or None,
        review_queue="pending" if reasons else None,
        review_rank=f"{card.score:03d}#{closed_at}" if reasons else None,
    )
    try:
        item.save(condition=ScoreCard.pk.does_not_exist())
    except PutError as exc:
        if getattr(exc, "cause_response_code", None) != "ConditionalCheckFailedException":
            raise
        previous = ScoreCard.get(item.pk, "card", consistent_read=True)
        item.review, item.appeal, item.appeal_state = previous.review, previous.appeal, previous.appeal_state
        if previous.review is not None:
            item.review_queue = previous.review_queue
            item.review_rank = previous.review_rank
        item.save()
        return item
    _count(item, conversations=1, score_sum=card.score, replies=card.replies, warnings=card.warnings)
    if card.first_response_seconds is not None:
        _count(item, first_response_sum=round(card.first_response_seconds), first_response_count=1)
    return item


def _count(card: ScoreCard, **amounts: int) -> None:
    """ADD ``amounts`` to the card's agent's and group's counters of the card's day."""
    keys = []
    if card.agent_id:
        keys += [("agent", f"{card.day}#{card.agent_id}"), (f"agent#{card.agent_id}", card.day)]
    if card.group_id:
        keys.append(("group", f"{card.day}#{card.group_id}"))
    for pk, sk in keys:
        ScoreTotal(pk, sk).update(actions=[getattr(ScoreTotal, k).add(v) for k, v in amounts.items()])


def record_csat(conversation_id: str, csat: int) -> ScoreCard | None:
    """A survey answer for a scored conversation: kept on its card, counted, and a 1 or 2 sends
    the card to review. None when the conversation has no card (not closed yet)."""
    try:
        card = ScoreCard.get(card_key(conversation_id), "card", consistent_read=True)
    except ScoreCard.DoesNotExist:
        return None
    first = card.csat is None
    actions: list[Action] = [ScoreCard.csat.set(csat)]
    if csat <= 2 and card.review is None:
        actions += [
            ScoreCard.reasons.add({"negative_csat"}),
            ScoreCard.review_queue.set("pending"),
            ScoreCard.review_rank.set(f"{int(card.score):03d}#{card.closed_at}"),
        ]
    card.update(actions=actions)
    if first:
        _count(card, csat_sum=csat, csat_count=1)
    return card


def on_csat(event: Any) -> None:
    """Subscriber of ``events.CsatAnswered``: the answer goes on each linked conversation's card."""
    for conversation_id in event.conversation_ids:
        record_csat(conversation_id, int(event.score))


def card_view(card: ScoreCard) -> dict[str, Any]:
    return {
        "conversation_id": card.conversation_id,
        "agent_id": card.agent_id,
        "group_id": card.group_id,
        "closed_at": card.closed_at,
        "score": int(card.score),
        "replies": int(card.replies or 0),
        "warnings": int(card.warnings or 0),
        "penalties": card.penalties or [],
        "first_response_seconds": card.first_response_seconds,
        "greeting": card.greeting,
        "closing": card.closing,
        "complaint": bool(card.complaint),
        "csat": int(card.csat) if card.csat is not None else None,
        "reasons": sorted(card.reasons or []),
        "review_queue": card.review_queue,
        "review": card.review,
        "appeal": card.appeal,
    }


def parse_period(start: str | None, end: str | None, today: date) -> tuple[date, date]:
    try:
        first = date.fromisoformat(start) if start else today
        last = date.fromisoformat(end) if end else today
    except ValueError as exc:
        raise Invalid("from and to are days: YYYY-MM-DD") from exc
    if last < first or last - first > timedelta(days=MAX_PERIOD_DAYS):
        raise Invalid(f"from must not be after to, and a period is at most {MAX_PERIOD_DAYS} days")
    return first, last


def _summary(rows: Sequence[ScoreTotal]) -> dict[str, Any]:
    def total(name: str) -> int:
        return int(sum(getattr(r, name) or 0 for r in rows))

    n, frc, csat_n, reviewed = (
        total("conversations"),
        total("first_response_count"),
        total("csat_count"),
        total("reviewed"),
    )
    return {
        "conversations": n,
        "average_score": round(total("score_sum") / n, 1) if n else None,
        "replies": total("replies"),
        "warnings": total("warnings"),
        "average_first_response_seconds": round(total("first_response_sum") / frc, 1) if frc else None,
        "average_csat": round(total("csat_sum") / csat_n, 2) if csat_n else None,
        "reviewed": reviewed,
        "average_review": round(total("review_sum") / reviewed, 1) if reviewed else None,
    }


def scores(by: str, first: date, last: date) -> dict[str, Any]:
    """Every agent's (or group's) scores over a period: one Query on the day counters."""
    if by not in ("agent", "group"):
        raise Invalid("by is agent or group")
    rows: dict[str, list[ScoreTotal]] = {}
    for row in ScoreTotal.query(
        by, ScoreTotal.sk.between(f"{first.isoformat()}#", f"{last.isoformat()}#\uffff")
    ):
        rows.setdefault(row.sk.split("#", 1)[1], []).append(row)
    return {
        "by": by,
        "from": first.isoformat(),
        "to": last.isoformat(),
        "items": [{f"{by}_id": key, **_summary(r)} for key, r in sorted(rows.items())],
    }


def agent_scores(agent_id: str, first: date, last: date) -> dict[str, Any]:
    """One agent's scores over a period, and per day: one Query."""
    rows = list(
        ScoreTotal.query(f"agent#{agent_id}", ScoreTotal.sk.between(first.isoformat(), last.isoformat()))
    )
    return {
        "agent_id": agent_id,
        "from": first.isoformat(),
        "to": last.isoformat(),
        **_summary(rows),
        "days": [{"day": r.sk, **_summary([r])} for r in rows],
    }
