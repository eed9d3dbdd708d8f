"""Suggested replies: for each new customer message, the knowledge-base articles for what the
customer has been asking (the last customer turns, not just the last line) pushed on the console
feed (``assist.suggestions``); in the composer, articles and canned replies for what the agent
types (search-as-you-type) or, without a query, for the conversation. Which suggestions were used
is counted (shown / used per kind and day): the acceptance rate the analytics reports show. Lists
pushed or asked for the conversation count as shown; search-as-you-type lists do not (every
keystroke asks again), their insertions count as used.

KB search is ``chalicelib.kb.search`` (its in-memory index per warm Lambda); canned replies are the
agent's visible ones (one Query per scope) ranked by shared words with the query (language layer
tokens), so a customer's sentence finds a reply whose title or body talks about the same thing.
"""

from __future__ import annotations

import threading
from datetime import date
from typing import Any, Literal

from cachetools import TTLCache

from chalicelib import kb
from chalicelib.assist.models import SuggestionCount
from chalicelib.auth.service import Principal
from chalicelib.conversations.models import Conversation, Message
from chalicelib.errors import Invalid
from chalicelib.feed import service as feed
from chalicelib.language import detect_language, tokens
from chalicelib.messages import utcnow
from chalicelib.observability import logger

TURNS = 3  # customer turns a suggestion looks at
CANNED_SECONDS = 30
MAX_QUERY = 300
KINDS = ("article", "canned")
Kind = Literal["article", "canned"]


def conversation_query(messages: list[Message]) -> str:
    """What the customer has been asking: their last ``TURNS`` messages, oldest first. Pure."""
    turns = [m.text for m in messages if m.direction == "in" and m.text][:TURNS]
    return " ".join(reversed(turns))[-MAX_QUERY:]


def recent(conversation_id: str, limit: int = 10) -> list[Message]:
    """The conversation's last messages, newest first (one Query)."""
    return list(Message.query(conversation_id, scan_index_forward=False, limit=limit))


def _articles(query: str, conversation: Conversation, limit: int) -> list[dict[str, Any]]:
    if not query.strip():
        return []
    found = kb.search(
        query, language=detect_language(query), limit=limit, channel=conversation.last_channel, record=False
    )
    return [
        {"article_id": h.article_id, "title": h.title, "snippet": h.snippet, "score": round(h.score, 3)}
        for h in found.results
    ]


_VISIBLE: TTLCache[str, list[tuple[frozenset[str], Any]]] = TTLCache(maxsize=256, ttl=CANNED_SECONDS)
_LOCK = threading.Lock()


def _visible(p: Principal) -> list[tuple[frozenset[str], Any]]:
    """The canned replies ``p`` may use, with their words, cached per agent for ``CANNED_SECONDS``
    (search-as-you-type asks on every keystroke; an edited reply shows up within that time)."""
    from chalicelib.canned import service as canned  # the router's path never needs it

    with _LOCK:
        cached = _VISIBLE.get(p.agent_id)
    if cached is None:
        cached = [
            (frozenset(tokens(f"{r.title} {r.body} {' '.join(r.tags or ())}")), r)
            for r in canned.search(p, "", limit=200)
        ]
        with _LOCK:
            _VISIBLE[p.agent_id] = cached
    return cached


def reset() -> None:
    with _LOCK:
        _VISIBLE.clear()


def _canned(p: Principal, query: str, limit: int) -> list[dict[str, Any]]:
    wanted = set(tokens(query))
    if not wanted:
        return []
    scored = []
    for have, reply in _visible(p):
        shared = len(wanted & have)
        if shared:
            scored.append((shared / len(wanted), reply))
    scored.sort(key=lambda pair: (-pair[0], pair[1].reply_id))
    return [
        {"reply_id": r.reply_id, "title": r.title, "body": r.body, "score": round(s, 3)}
        for s, r in scored[:limit]
    ]


def suggest(p: Principal, conversation: Conversation, q: str | None = None, limit: int = 3) -> dict[str, Any]:
    """Articles and canned replies for the composer: for ``q`` as the agent types, else for the
    customer's last turns."""
    query = (q or "").strip()[:MAX_QUERY] or conversation_query(recent(conversation.conversation_id))
    limit = max(1, min(limit, 10))
    articles, replies = _articles(query, conversation, limit), _canned(p, query, limit)
    if not q:  # as the agent types, every keystroke asks again: those lists are not counted as shown
        _count_shown(len(articles), len(replies))
    return {
        "query": query,
        "source": "typeahead" if q else "conversation",
        "articles": articles,
        "canned": replies,
    }


def on_customer_message(conversation: Conversation, message: Message, messages: list[Message]) -> None:
    """Push the articles for the customer's last turns to whoever handles the conversation."""
    try:
        query = conversation_query([message, *messages])
        articles = _articles(query, conversation, 3)
    except Exception:  # noqa: BLE001 — advice only: the message is stored and routed anyway
        logger.exception("suggestions failed", extra={"conversation_id": conversation.conversation_id})
        return
    if not articles:
        return
    feed.publish(
        "assist.suggestions",
        conversation_id=conversation.conversation_id,
        agents=[conversation.assignee_id] if conversation.assignee_id else (),
        groups=() if conversation.assignee_id else [conversation.group_id],
        supervisors=False,
        data={"seq": int(message.seq), "articles": [a["article_id"] for a in articles]},
    )
    _count_shown(len(articles), 0)


def _add(pk: str, sk: str, **amounts: int) -> None:
    SuggestionCount(pk, sk).update(actions=[getattr(SuggestionCount, k).add(v) for k, v in amounts.items()])


def _count_shown(articles: int, replies: int) -> None:
    day = utcnow().date().isoformat()
    if articles:
        _add("suggestions", f"{day}#article", shown=articles)
    if replies:
        _add("suggestions", f"{day}#canned", shown=replies)


def used(p: Principal, conversation: Conversation, kind: str, item_id: str) -> dict[str, Any]:
    """The agent inserted a suggestion: counted for the acceptance rate (and a canned reply's own
    use count)."""
    if kind not in KINDS:
        raise Invalid("kind is article or canned")
    day = utcnow().date().isoformat()
    _add("suggestions", f"{day}#{kind}", used=1)
    _add(f"{kind}#{item_id}", day, used=1)
    if kind == "canned":
        from chalicelib.canned import service as canned

        canned.record_use(item_id)
    return {
        "conversation_id": conversation.conversation_id,
        "kind": kind,
        "item_id": item_id,
        "counted": True,
    }


def acceptance(first: date, last: date) -> dict[str, Any]:
    """Suggestions shown and used per kind over a period, and the acceptance rate: one Query."""
    totals = {k: {"shown": 0, "used": 0} for k in KINDS}
    for row in SuggestionCount.query(
        "suggestions", SuggestionCount.sk.between(f"{first.isoformat()}#", f"{last.isoformat()}#\uffff")
    ):
        kind = row.sk.split("#", 1)[1]
        if kind in totals:
            totals[kind]["shown"] += int(row.shown or 0)
            totals[kind]["used"] += int(row.used or 0)
    return {
        "from": first.isoformat(),
        "to": last.isoformat(),
        "kinds": {
            k: {**v, "acceptance_rate": round(v["used"] / v["shown"], 3) if v["shown"] else None}
            for k, v in totals.items()
        },
    }
