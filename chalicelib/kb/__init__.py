"""Knowledge base (C10): articles with versions, their search, usage statistics.

Other capabilities (the bot, agent assist) call ``chalicelib.kb.search(query, language=, limit=,
channel=)`` → :class:`SearchResult` (``results``: :class:`Hit` list, ``answer``: :class:`Answer` or
None), ``published_article(article_id)`` (the live content, or None), and
``chalicelib.kb.stats.record(article_id, counter)`` for what happened next.

The names are resolved on first use (PEP 562): importing ``chalicelib.kb.bodies`` or
``chalicelib.kb.params`` for a route's models does not load the search engine (numpy, the
language layer) into a Lambda that never searches.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from chalicelib.kb.engine import Answer, Hit, SearchResult
    from chalicelib.kb.searcher import search
    from chalicelib.kb.service import published_article

__all__ = ["Answer", "Hit", "SearchResult", "published_article", "search"]
_WHERE = {
    "Answer": "chalicelib.kb.engine",
    "Hit": "chalicelib.kb.engine",
    "SearchResult": "chalicelib.kb.engine",
    "search": "chalicelib.kb.searcher",
    "published_article": "chalicelib.kb.service",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'chalicelib.kb' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
