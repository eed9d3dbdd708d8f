"""What the bot needs from the knowledge base (C10), as a small interface.

``chalicelib.kb`` provides ``search(query, *, language=None, limit=5, channel=None)`` (results:
article_id, title, snippet, score, language; answer: {article_id, confidence} | None — set only
when the engine is confident enough for a bot to answer alone) and article reads. The bot codes
against :class:`KnowledgeBase`; :func:`knowledge_base` plugs in the real one, and tests (or a
deployment) may install another with :func:`use`. Results are read by attribute or by key, so
either pydantic models or plain dicts serve.
"""

from __future__ import annotations

import importlib
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


class _Missing:
    """No knowledge base deployed: nothing is ever found, so the bot offers a human."""

    def search(
        self, query: str, *, language: str | None = None, limit: int = 5, channel: str | None = None
    ) -> Any:
        return Found()

    def get_article(self, article_id: str) -> Any:
        return None


_installed: KnowledgeBase | None = None


def use(kb: KnowledgeBase | None) -> None:
    """Install a knowledge base (tests, another backend); None goes back to ``chalicelib.kb``."""
    global _installed
    _installed = kb


READERS = ("get_article", "published_article", "read_article", "article")


class _Module:
    """``chalicelib.kb``'s functions behind the interface (its article reader by any of
    ``READERS``' names)."""

    def __init__(self, module: Any, reader: str) -> None:
        self._module, self._reader = module, reader

    def search(
        self, query: str, *, language: str | None = None, limit: int = 5, channel: str | None = None
    ) -> Any:
        return self._module.search(query, language=language, limit=limit, channel=channel)

    def get_article(self, article_id: str) -> Any:
        return getattr(self._module, self._reader)(article_id)


def knowledge_base() -> KnowledgeBase:
    """The installed knowledge base, else ``chalicelib.kb`` (its service module), else none."""
    if _installed is not None:
        return _installed
    for name in ("chalicelib.kb.service", "chalicelib.kb"):
        try:
            module = importlib.import_module(name)
        except ImportError:
            continue
        reader = next((r for r in READERS if callable(getattr(module, r, None))), None)
        if callable(getattr(module, "search", None)) and reader is not None:
            return _Module(module, reader)
    return _Missing()


def search(query: str, *, language: str | None, limit: int, channel: str | None) -> Found:
    return as_found(knowledge_base().search(query, language=language, limit=limit, channel=channel))


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
