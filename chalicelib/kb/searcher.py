"""KB search as the rest of Omniflow calls it: ``search(query, language=, limit=, channel=)`` →
:class:`SearchResult` (results + a confident ``answer`` or None). The bot, agent assist and
``GET /kb/search`` all come here.

The backend is pluggable (:class:`SearchBackend`), chosen by ``OMNIFLOW_KB_BACKEND``
(``Settings.kb_backend``). ``builtin`` (the default) keeps an in-memory :class:`Index` per warm
Lambda, loaded lazily from the ``kb-articles`` table's ``by_index`` GSI (published snapshots with
their stored vectors: no re-embedding) and caught up incrementally: at most every
``REFRESH_SECONDS`` one GetItem reads the index sequence (``kb-index`` in ``config``); when it moved,
one Query fetches the articles changed since (from a little before, ``OVERLAP``, since GSI reads are
eventually consistent and concurrent publishes may land out of order; an article's change is applied
only if newer than what is held). A change of the admins' synonyms rebuilds the index. A large
deployment plugs in another backend (OpenSearch, Bedrock Knowledge Bases) by implementing
:class:`SearchBackend` and registering it in :data:`BACKENDS`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

import numpy as np
from pynamodb.exceptions import DoesNotExist

from chalicelib.kb.engine import Doc, Index, SearchResult
from chalicelib.kb.models import INDEX_PART, POINTER_KIND, POINTER_NAME, Article, IndexPointer

REFRESH_SECONDS = 1.0
OVERLAP = 20


class SearchBackend(Protocol):
    name: str

    def search(
        self, query: str, *, language: str | None, limit: int, channel: str | None
    ) -> SearchResult: ...

    def applied(self, article: Article) -> None:
        """An article was saved in this process (publish, archive): make it visible now if the
        backend can."""


def _doc(item: Article) -> Doc | None:
    snap = item.published
    if item.status == "archived" or not snap:
        return None
    return Doc(
        item.article_id,
        snap["title"],
        snap["body"],
        snap["language"],
        tuple(snap.get("questions") or ()),
        tuple(snap.get("channels") or ()),
        int(snap.get("version") or 0),
    )


class BuiltinBackend:
    """The in-process hybrid index (``chalicelib/kb/engine.py``), kept in step with DynamoDB."""

    name = "builtin"

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.RLock()
        self._index: Index | None = None
        self._held: dict[str, int] = {}  # article_id -> the index_seq applied
        self._synced = 0
        self._synonyms_version = -1
        self._checked = float("-inf")

    def reset(self) -> None:
        with self._lock:
            self._index, self._held, self._synced = None, {}, 0
            self._synonyms_version, self._checked = -1, float("-inf")

    def _new_index(self) -> Index:
        from chalicelib.kb.embed import embedder
        from chalicelib.kb.models import stored_synonym_groups
        from chalicelib.language import Synonyms, default_synonyms

        _, groups = stored_synonym_groups()
        synonyms = default_synonyms() + Synonyms(groups) if groups else default_synonyms()
        return Index(embedder(), synonyms)

    def index(self) -> Index:
        """The index, caught up with the table if the last check is older than REFRESH_SECONDS."""
        with self._lock:
            now = self._clock()
            if self._index is not None and now - self._checked < REFRESH_SECONDS:
                return self._index
            self._checked = now
            try:
                pointer = IndexPointer.get(POINTER_KIND, POINTER_NAME)
                seq, synonyms_version = int(pointer.seq), int(pointer.synonyms_version or 0)
            except DoesNotExist:
                seq, synonyms_version = 0, 0
            if self._index is None or synonyms_version != self._synonyms_version:
                self._index, self._held, self._synced = self._new_index(), {}, 0
                self._synonyms_version = synonyms_version
                self._catch_up(None)
            elif seq > self._synced:
                self._catch_up(max(self._synced - OVERLAP, 0))
            return self._index

    def _catch_up(self, since: int | None) -> None:
        condition = Article.index_seq > since if since is not None else None
        for item in Article.by_index.query(INDEX_PART, range_key_condition=condition):
            self._apply(item)

    def _apply(self, item: Article) -> None:
        assert self._index is not None
        seq = int(item.index_seq or 0)
        if self._held.get(item.article_id, -1) >= seq:
            return
        self._held[item.article_id] = seq
        self._synced = max(self._synced, seq)
        doc = _doc(item)
        if doc is None:
            self._index.remove(item.article_id)
            return
        vectors = None
        if item.vectors and item.vectors_model == self._index.embedder.name:
            vectors = np.frombuffer(item.vectors, dtype=np.float16).reshape(-1, 512).astype(np.float32)
        self._index.upsert(doc, vectors)

    def applied(self, article: Article) -> None:
        with self._lock:
            if self._index is not None and article.index_seq is not None:
                self._apply(article)

    def search(self, query: str, *, language: str | None, limit: int, channel: str | None) -> SearchResult:
        return self.index().search(query, language=language, limit=limit, channel=channel)


BACKENDS: dict[str, Callable[[str], SearchBackend]] = {"builtin": lambda _: BuiltinBackend()}
_backend: SearchBackend | None = None
_backend_lock = threading.Lock()


def backend() -> SearchBackend:
    """The configured backend, made once per process: ``name`` or ``name:<resource>``."""
    global _backend
    with _backend_lock:
        if _backend is None:
            from chalicelib.config import settings

            spec = settings().kb_backend
            name, _, resource = spec.partition(":")
            if name not in BACKENDS:
                raise ValueError(f"unknown KB search backend {name!r}; known: {', '.join(BACKENDS)}")
            _backend = BACKENDS[name](resource)
        return _backend


def reset() -> None:
    """Forget the backend and its index (tests)."""
    global _backend
    with _backend_lock:
        _backend = None


def applied(article: Article) -> None:
    if _backend is not None:
        _backend.applied(article)


def search(
    query: str,
    *,
    language: str | None = None,
    limit: int = 5,
    channel: str | None = None,
    record: bool = True,
) -> SearchResult:
    """Published articles for ``query``, best first, and ``answer`` when one is confident enough
    for the bot to answer alone. ``language`` is the asker's (a preference, never a filter);
    ``channel`` keeps only articles allowed on it. A search without an answer is recorded (the
    editors' "unanswered" list) unless ``record`` is False."""
    result = backend().search(query, language=language, limit=max(1, min(limit, 20)), channel=channel)
    if record and result.answer is None and query.strip():
        from chalicelib.kb import stats

        top = result.results[0].score if result.results else 0.0
        stats.record_miss(query, result.language, channel, top)
    return result
