"""What the bot needs from the knowledge base (C10), as a small interface.

``chalicelib.kb`` provides ``search(query, *, language=None, limit=5, channel=None)`` (results:
article_id, title, snippet, score, language; answer: {article_id, confidence} | None — set only
when the engine is confident enough for a bot to answer alone) and article reads. The bot codes
against :class:`KnowledgeBase`; :func:`knowledge_base` plugs in the real one, and tests (or a
deployment) may install another with :func:`use`. Results are read by attribute or by key, so
either pydantic models or plain dicts serve.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class Hit:
    article_id: str
    title: str
    snippet: str = ""
    score: float = 0.0
    language: str | None = None


@dataclass(frozen=True)
class Found:
    """One search: ranked hits and, when the engine is sure, the article to answer with."""

    results: tuple[Hit, ...] = ()
    answer: str | None = None  # article id
    confidence: float = 0.0


@dataclass(frozen=True)
class Article:
    article_id: str
    title: str
    body: str
    language: str | None = None
    version: int | None = None
    channels: tuple[str, ...] = field(default=())


class KnowledgeBase(Protocol):
    def search(
        self, query: str, *, language: str | None = None, limit: int = 5, channel: str | None = None
    ) -> Any: ...

    def get_article(self, article_id: str) -> Any: ...

    def record(self, article_id: str, counter: str) -> None: ...


# The KB's usage counters (chalicelib/kb/stats.py) the bot moves.
SHOWN, BOT_ANSWERS, HELPFUL, NOT_HELPFUL = "shown", "bot_answers", "helpful", "not_helpful"
HANDOFFS = "handoffs"


def _get(obj: Any, name: str, default: Any = None) -> Any:
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)


def as_found(raw: Any) -> Found:
    """Any ``search`` answer (model or dict) as :class:`Found`."""
    hits = tuple(
        Hit(
            article_id=str(_get(r, "article_id")),
            title=str(_get(r, "title") or ""),
            snippet=str(_get(r, "snippet") or ""),
            score=float(_get(r, "score") or 0.0),
            language=_get(r, "language"),
        )
        for r in (_get(raw, "results") or ())
    )
    answer = _get(raw, "answer")
    if answer is None:
        return Found(hits)
    return Found(hits, str(_get(answer, "article_id")), float(_get(answer, "confidence") or 0.0))


def as_article(raw: Any) -> Article | None:
    if raw is None:
        return None
    if isinstance(raw, dict) and "article" in raw and isinstance(raw["article"], dict):
        raw = raw["article"]
    version = _get(raw, "version")
    return Article(
        article_id=str(_get(raw, "article_id")),
        title=str(_get(raw, "title") or ""),
        body=str(_get(raw, "body") or ""),
        language=_get(raw, "language"),
        version=int(version) if version is not None else None,
        channels=tuple(_get(raw, "channels") or ()),
    )


class _Builtin:
    """``chalicelib.kb``: its search, its live (published) article read, its usage counters."""

    def search(
        self,
        query: str,
        *,
        language: str | None = None,
        limit: int = 5,
        channel: str | None = None,
        record: bool = True,
    ) -> Any:
        from chalicelib import kb

        return kb.search(query, language=language, limit=limit, channel=channel, record=record)

    def get_article(self, article_id: str) -> Any:
        from chalicelib import kb

        return kb.published_article(article_id)

    def record(self, article_id: str, counter: str) -> None:
        from chalicelib.kb import stats

        stats.record(article_id, counter)


_installed: KnowledgeBase | None = None


def use(kb: KnowledgeBase | None) -> None:
    """Install a knowledge base (tests, another backend); None goes back to ``chalicelib.kb``."""
    global _installed
    _installed = kb


def knowledge_base() -> KnowledgeBase:
    """The installed knowledge base, else ``chalicelib.kb``."""
    return _installed if _installed is not None else _Builtin()


def search(
    query: str, *, language: str | None, limit: int, channel: str | None, record: bool = True
) -> Found:
    """``record`` False: a search that is no question (a visitor still typing) is not counted as
    unanswered."""
    kb = knowledge_base()
    if record or not isinstance(kb, _Builtin):
        return as_found(kb.search(query, language=language, limit=limit, channel=channel))
    return as_found(kb.search(query, language=language, limit=limit, channel=channel, record=False))


def record(article_id: str, counter: str) -> None:
    """Move one of the article's usage counters. Never raises: a counter must not undo an answer."""
    try:
        knowledge_base().record(article_id, counter)
    except Exception as exc:  # noqa: BLE001
        from chalicelib.observability import logger

        logger.warning("kb counter failed", extra={"counter": counter, "error": type(exc).__name__})


def article(article_id: str) -> Article | None:
    """The published article (None if it is gone or unpublished)."""
    try:
        return as_article(knowledge_base().get_article(article_id))
    except (KeyError, LookupError):
        return None
    except Exception as exc:
        if getattr(exc, "status", None) == 404:
            return None
        raise
