"""Knowledge base (C10): articles with versions, their search, usage statistics.

Other capabilities (the bot, agent assist) call ``chalicelib.kb.search(query, language=, limit=,
channel=)`` → :class:`SearchResult` (``results``: :class:`Hit` list, ``answer``: :class:`Answer` or
None), ``published_article(article_id)`` (the live content, or None), and
``chalicelib.kb.stats.record(article_id, counter)`` for what happened next.
"""

from chalicelib.kb.engine import Answer, Hit, SearchResult
from chalicelib.kb.searcher import search
from chalicelib.kb.service import published_article

__all__ = ["Answer", "Hit", "SearchResult", "published_article", "search"]
