"""The built-in search engine: hybrid keyword + semantic ranking of published articles. Pure (no
AWS): the index is built from :class:`Doc` records and their unit vectors, kept up to date one
article at a time (``upsert`` / ``remove``), and asked with ``search``.

Keyword side: BM25 over the language layer's tokens (jieba words, Han bigrams, Latin words) after
folding (full-width, case, traditional → simplified) and synonym rewriting (咋退钱 → 怎么退款), with
two fields: the *head* (title and the alternative questions, where customers' wordings are) and the
body. Toneless pinyin syllable bigrams of the head are indexed too, so a homophone typo (开发漂)
still meets 开发票. Besides the BM25 ranking it gives *coverage*: the share of the query's IDF mass
an article matches, an absolute figure in 0..1 (a question made of words the KB never uses has
coverage 0 everywhere).

Semantic side: cosine between the query's embedding and each of the article's units (title, each
question, the body's lead), best unit counts — multilingual, so an English question finds a Chinese
article and the reverse.

Fusion: ``score = w_sem * cosine + w_kw * coverage + w_rank * rrf`` (``rrf`` the reciprocal-rank
fusion of the BM25 and cosine ranks, normalised to 0..1) plus a small bonus for the asker's
language (a preference, never a filter). ``answer`` is set when the best score and its margin over
the runner-up both clear calibrated thresholds (:class:`Tuning`; ``make eval-kb`` prints how they do).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import pairwise

import numpy as np

from chalicelib.kb.embed import DIM, Embedder
from chalicelib.language import (
    Synonyms,
    default_synonyms,
    detect_language,
    fold,
    syllables,
    tokens_of_folded,
)

MAX_QUESTIONS = 16  # alternative questions embedded per article
LEAD_CHARS = 300  # the body's start, embedded as one more unit
SNIPPET_CHARS = 140
MAX_QUERY_CHARS = 500
K1, B = 1.2, 0.75
HEAD_WEIGHT = 2.0
RRF_K = 60
BODY_COVERAGE = 0.6


@dataclass(frozen=True)
class Doc:
    """What the index needs of one published article."""

    article_id: str
    title: str
    body: str
    language: str
    questions: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()  # empty: every channel
    version: int = 0


@dataclass(frozen=True)
class Hit:
    article_id: str
    title: str
    snippet: str
    score: float
    language: str


@dataclass(frozen=True)
class Answer:
    article_id: str
    confidence: float


@dataclass(frozen=True)
class SearchResult:
    results: list[Hit]
    answer: Answer | None
    language: str = "en"  # the asker's language, as given or detected

    def to_dict(self) -> dict[str, object]:
        return {
            "results": [
                {
                    "article_id": h.article_id,
                    "title": h.title,
                    "snippet": h.snippet,
                    "score": h.score,
                    "language": h.language,
                }
                for h in self.results
            ],
            "answer": (
                {"article_id": self.answer.article_id, "confidence": self.answer.confidence}
                if self.answer
                else None
            ),
        }


@dataclass(frozen=True)
class Tuning:
    """Weights and thresholds, calibrated on tests/data/kb/dev (docs: ``make eval-kb``)."""

    w_sem: float = 0.55
    w_kw: float = 0.35
    w_rank: float = 0.10
    same_language_bonus: float = 0.03
    min_result: float = 0.22  # below: not a result
    answer_score: float = 0.55  # an answer needs at least this score ...
    answer_margin: float = 0.06  # ... and this lead over the next article


def units(doc: Doc) -> list[str]:
    """The texts embedded for an article: title, questions, the body's lead."""
    lead = plain(doc.body)[:LEAD_CHARS]
    return [doc.title, *doc.questions[:MAX_QUESTIONS], *([lead] if lead else [])]


_MD = re.compile(r"!\[[^\]]*\]\([^)]*\)|\[([^\]]*)\]\([^)]*\)|[`*_>#|~]+")


def plain(markdown: str) -> str:
    """Markdown as plain text for snippets and embeddings: links keep their text, images and
    markup go, whitespace collapses."""
    text = _MD.sub(lambda m: m.group(1) or " ", markdown)
    return re.sub(r"\s+", " ", text).strip()


def pinyin_tokens(folded: str) -> list[str]:
    """Bigrams of the toneless syllables of each Han run, as ``py:kai_fa``."""
    out: list[str] = []
    for run in re.findall(r"[\u3400-\u9fff\uf900-\ufaff]+", folded):
        syl = syllables(run)
        out.extend(f"py:{a}_{b}" for a, b in pairwise(syl))
    return out


def _language_family(language: str) -> str:
    return language.split("-", 1)[0]


def sentences(text: str) -> list[str]:
    return [s.strip() for s in re.split(r"(?<=[。！？!?.;；\n])\s*", text) if s.strip()]


class _Entry:
    __slots__ = ("body", "body_len", "doc", "head", "head_len", "sentences", "vectors")

    def __init__(
        self,
        doc: Doc,
        head: Counter[str],
        body: Counter[str],
        sentences: list[tuple[str, frozenset[str]]],
        vectors: np.ndarray,
    ) -> None:
        self.doc = doc
        self.head = head
        self.body = body
        self.sentences = sentences
        self.head_len = sum(head.values())
        self.body_len = sum(body.values())
        self.vectors = vectors


@dataclass
class _Matrix:
    ids: list[str] = field(default_factory=list)
    vectors: np.ndarray = field(default_factory=lambda: np.zeros((0, DIM), dtype=np.float32))
    starts: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    languages: list[str] = field(default_factory=list)


class Index:
    """An in-memory index of published articles, updated one article at a time."""

    def __init__(self, embedder: Embedder, synonyms: Synonyms | None = None, tuning: Tuning | None = None):
        self.embedder = embedder
        self.synonyms = synonyms or default_synonyms()
        self.tuning = tuning or Tuning()
        self._entries: dict[str, _Entry] = {}
        self._head: dict[str, dict[str, int]] = {}  # token -> article_id -> tf
        self._body: dict[str, dict[str, int]] = {}
        self._matrix: _Matrix | None = None

    # ---- building ---------------------------------------------------------------------------
    def analyse(self, text: str) -> list[str]:
        folded = self.synonyms.rewrite(fold(text[: MAX_QUERY_CHARS * 20]))
        return tokens_of_folded(folded)

    def _head_tokens(self, doc: Doc) -> Counter[str]:
        counts: Counter[str] = Counter()
        for text in (doc.title, doc.title, *doc.questions):
            folded = self.synonyms.rewrite(fold(text))
            counts.update(tokens_of_folded(folded))
            counts.update(pinyin_tokens(folded))
        return counts

    def embed_doc(self, doc: Doc) -> np.ndarray:
        return self.embedder.encode(units(doc))

    def upsert(self, doc: Doc, vectors: np.ndarray | None = None) -> None:
        """Add or replace one article (``vectors``: its units' embeddings, computed if not given)."""
        if vectors is None:
            vectors = self.embed_doc(doc)
        self.remove(doc.article_id)
        body = [(s, self.analyse(s)) for s in sentences(plain(doc.body))]
        entry = _Entry(
            doc,
            self._head_tokens(doc),
            Counter(t for _, toks in body for t in toks),
            [(s, frozenset(t)) for s, t in body],
            vectors,
        )
        self._entries[doc.article_id] = entry
        for postings, counts in ((self._head, entry.head), (self._body, entry.body)):
            for token, tf in counts.items():
                postings.setdefault(token, {})[doc.article_id] = tf
        self._matrix = None

    def remove(self, article_id: str) -> None:
        entry = self._entries.pop(article_id, None)
        if entry is None:
            return
        for postings, counts in ((self._head, entry.head), (self._body, entry.body)):
            for token in counts:
                docs = postings.get(token)
                if docs is not None:
                    docs.pop(article_id, None)
                    if not docs:
                        del postings[token]
        self._matrix = None

    def extend(self, docs: Iterable[Doc]) -> None:
        """Add many articles, embedding them in batches."""
        batch = list(docs)
        texts = [units(d) for d in batch]
        flat = self.embedder.encode([t for ts in texts for t in ts])
        at = 0
        for doc, ts in zip(batch, texts, strict=True):
            self.upsert(doc, flat[at : at + len(ts)])
            at += len(ts)

    def __len__(self) -> int:
        return len(self._entries)

    def __contains__(self, article_id: object) -> bool:
        return article_id in self._entries

    def doc(self, article_id: str) -> Doc | None:
        entry = self._entries.get(article_id)
        return entry.doc if entry else None

    def _ensure_matrix(self) -> _Matrix:
        if self._matrix is None:
            ids = list(self._entries)
            entries = [self._entries[i] for i in ids]
            sizes = [len(e.vectors) for e in entries]
            starts = np.cumsum([0, *sizes[:-1]]).astype(np.int64) if ids else np.zeros(0, dtype=np.int64)
            vectors = (
                np.vstack([e.vectors for e in entries]).astype(np.float32)
                if ids
                else np.zeros((0, DIM), dtype=np.float32)
            )
            self._matrix = _Matrix(ids, vectors, starts, [e.doc.language for e in entries])
        return self._matrix

    def memory_bytes(self) -> int:
        """The vectors' share of memory (the dominant one)."""
        return int(self._ensure_matrix().vectors.nbytes)

    # ---- searching --------------------------------------------------------------------------
    def _idf(self, df: int, n: int) -> float:
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def _keyword(self, query_tokens: Sequence[str], ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(bm25, coverage) per article, in ``ids`` order. Coverage counts a token matched in the
        head fully and one matched only in the body at ``BODY_COVERAGE`` (bodies mention much)."""
        n = max(len(ids), 1)
        position = {a: i for i, a in enumerate(ids)}
        bm25 = np.zeros(len(ids), dtype=np.float64)
        matched = np.zeros(len(ids), dtype=np.float64)
        total_idf = 0.0
        head_avg = sum(e.head_len for e in self._entries.values()) / n or 1.0
        body_avg = sum(e.body_len for e in self._entries.values()) / n or 1.0
        for token in dict.fromkeys(query_tokens):
            head, body = self._head.get(token, {}), self._body.get(token, {})
            idf = self._idf(len(head.keys() | body.keys()), n)
            total_idf += idf
            for article_id, tf in head.items():
                i = position[article_id]
                norm = K1 * (1 - B + B * self._entries[article_id].head_len / head_avg)
                bm25[i] += HEAD_WEIGHT * idf * tf * (K1 + 1) / (tf + norm)
                matched[i] += idf
            for article_id, tf in body.items():
                i = position[article_id]
                norm = K1 * (1 - B + B * self._entries[article_id].body_len / body_avg)
                bm25[i] += idf * tf * (K1 + 1) / (tf + norm)
                if article_id not in head:
                    matched[i] += BODY_COVERAGE * idf
        coverage = matched / total_idf if total_idf else matched
        return bm25, coverage

    def search(
        self, query: str, *, language: str | None = None, limit: int = 5, channel: str | None = None
    ) -> SearchResult:
        query = query[:MAX_QUERY_CHARS]
        asker = language or detect_language(query)
        if not query.strip() or not self._entries:
            return SearchResult([], None, asker)
        t = self.tuning
        matrix = self._ensure_matrix()
        folded = self.synonyms.rewrite(fold(query))
        query_tokens = tokens_of_folded(folded) + pinyin_tokens(folded)
        bm25, coverage = self._keyword(query_tokens, matrix.ids)
        qvec = self.embedder.encode([query])[0]
        cos_units = matrix.vectors @ qvec
        cosine = np.maximum.reduceat(cos_units, matrix.starts) if len(matrix.starts) else cos_units
        n = len(matrix.ids)
        rrf = np.zeros(n)
        for ranking, present in ((np.argsort(-bm25, kind="stable"), bm25 > 0), (np.argsort(-cosine), None)):
            ranks = np.empty(n)
            ranks[ranking] = np.arange(1, n + 1)
            part = 1.0 / (RRF_K + ranks)
            if present is not None:
                part = np.where(present, part, 0.0)
            rrf += part
        rrf = rrf * (RRF_K + 1) / 2  # 1.0 when first on both
        score = t.w_sem * cosine + t.w_kw * coverage + t.w_rank * rrf
        family = _language_family(asker)
        bonus = np.array(
            [
                t.same_language_bonus
                if lang == asker
                else t.same_language_bonus / 2
                if _language_family(lang) == family
                else 0.0
                for lang in matrix.languages
            ]
        )
        score = score + bonus
        if channel:
            allowed = np.array(
                [
                    not self._entries[a].doc.channels or channel in self._entries[a].doc.channels
                    for a in matrix.ids
                ]
            )
            score = np.where(allowed, score, -1.0)
        order = np.argsort(-score, kind="stable")[: max(limit, 2)]
        hits = []
        for i in order[:limit]:
            if score[i] < t.min_result:
                break
            doc = self._entries[matrix.ids[i]].doc
            hits.append(
                Hit(
                    doc.article_id,
                    doc.title,
                    self.snippet(doc.article_id, query_tokens),
                    round(float(score[i]), 4),
                    doc.language,
                )
            )
        answer = None
        if len(order) and score[order[0]] >= t.answer_score:
            runner_up = float(score[order[1]]) if len(order) > 1 else 0.0
            if float(score[order[0]]) - runner_up >= t.answer_margin:
                answer = Answer(matrix.ids[order[0]], round(float(score[order[0]]), 4))
        return SearchResult(hits, answer, asker)

    def features(
        self, query: str, language: str | None = None
    ) -> list[tuple[str, float, float, float, float]]:
        """(article_id, score, cosine, coverage, rrf) for every article, best first (evaluation)."""
        matrix = self._ensure_matrix()
        folded = self.synonyms.rewrite(fold(query))
        bm25, coverage = self._keyword(tokens_of_folded(folded) + pinyin_tokens(folded), matrix.ids)
        cosine = np.maximum.reduceat(matrix.vectors @ self.embedder.encode([query])[0], matrix.starts)
        order = np.argsort(-cosine)
        return [(matrix.ids[i], 0.0, float(cosine[i]), float(coverage[i]), float(bm25[i])) for i in order]

    def snippet(self, article_id: str, query_tokens: Sequence[str]) -> str:
        """The body sentence sharing most tokens with the query (the first one if none does)."""
        entry = self._entries[article_id]
        if not entry.sentences:
            return entry.doc.title
        wanted = set(query_tokens)
        best = max(entry.sentences, key=lambda st: len(wanted & st[1]))[0]
        return best if len(best) <= SNIPPET_CHARS else best[: SNIPPET_CHARS - 1] + "…"
