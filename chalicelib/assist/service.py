"""Assist on the message path: each customer message the router stores is analysed once —
sentiment, escalation signals and entities — and the analysis is kept on the message (what the
console shows beside it: the badge, the one-click fills). The agent's console hears of it
(feed ``assist.analysis``); when the customer is getting angrier the conversation is marked
``mood = rising_anger`` and the agent and the supervisors hear of it (``conversation.anger``).

The same turn pushes suggested articles for what the customer has been asking
(``assist.suggestions``, see suggestions.py).

Cost per customer message: one Query (the conversation's last messages, newest first, for the
repeated-question and trend signals and the suggestions' query) and one UpdateItem; a second
UpdateItem when the mood turns; a KB search on the warm in-memory index and one counter ADD.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from chalicelib.assist import entities, sentiment, suggestions
from chalicelib.conversations.models import Conversation, Message
from chalicelib.feed import service as feed
from chalicelib.messages import iso, utcnow
from chalicelib.observability import logger

RECENT = 10  # messages looked back at
RISING = "rising_anger"


def rising_anger(current: sentiment.Sentiment, earlier: list[dict[str, Any]]) -> bool:
    """Angrier: a high-risk message, or a second negative message in a row, or a score that fell
    by half the scale since the customer's previous message. Pure."""
    if current.label != "negative":
        return False
    if current.risk == "high":
        return True
    if not earlier:
        return False
    previous = earlier[0]
    return previous.get("label") == "negative" or float(previous.get("score", 0)) - current.score >= 1.0


def on_customer_message(conversation: Conversation, message: Message) -> dict[str, Any] | None:
    """Analyse a stored customer message (never fails the router: logged instead)."""
    if not message.text:
        return None
    try:
        return _analyse(conversation, message)
    except Exception:  # noqa: BLE001 — assist is advice; the message is stored and routed anyway
        logger.exception("assist analysis failed", extra={"conversation_id": conversation.conversation_id})
        return None


def _analyse(conversation: Conversation, message: Message) -> dict[str, Any]:
    before = list(
        Message.query(
            conversation.conversation_id,
            Message.seq < int(message.seq),
            scan_index_forward=False,
            limit=RECENT,
        )
    )
    recent = [m for m in before if m.direction == "in"]
    earlier = [
        m.assist["sentiment"] for m in recent if isinstance(m.assist, dict) and "sentiment" in m.assist
    ]
    waited = None
    if conversation.first_responded_at is None and conversation.created_at:
        waited = (utcnow() - datetime.fromisoformat(conversation.created_at)).total_seconds()
    result = sentiment.analyse(
        message.text or "", previous=[m.text for m in reversed(recent) if m.text], waited_seconds=waited
    )
    analysis = {
        "sentiment": result.to_json(),
        "entities": [e.to_json() for e in entities.extract(message.text or "")],
    }
    message.update(actions=[Message.assist.set(analysis)])
    audience = {
        "agents": [conversation.assignee_id] if conversation.assignee_id else (),
        "groups": () if conversation.assignee_id else [conversation.group_id],
    }
    feed.publish(
        "assist.analysis",
        conversation_id=conversation.conversation_id,
        supervisors=False,
        data={
            "seq": int(message.seq),
            "label": result.label,
            "risk": result.risk,
            "signals": list(result.signals),
        },
        **audience,
    )
    if rising_anger(result, earlier) and conversation.mood != RISING:
        conversation.update(actions=[Conversation.mood.set(RISING), Conversation.mood_at.set(iso(utcnow()))])
        feed.publish(
            "conversation.anger",
            conversation_id=conversation.conversation_id,
            supervisors=True,
            data={"seq": int(message.seq), "risk": result.risk, "signals": list(result.signals)},
            **audience,
        )
    elif result.label == "positive" and conversation.mood == RISING:
        conversation.update(actions=[Conversation.mood.remove(), Conversation.mood_at.remove()])
    suggestions.on_customer_message(conversation, message, before)
    return analysis
