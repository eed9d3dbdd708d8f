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

Fusion: ``score = w_sem * cosine + w_kw * coverage + w_rank * rrf + w_bm25 * bm25_share``
(``rrf`` the reciprocal-rank fusion of the BM25 and cosine ranks, normalised to 0..1;
``bm25_share`` BM25 over the best article's) plus an optional bonus for the asker's language (a
preference, never a filter; 0 by default). ``answer`` is decided among the best candidates by a
small fitted model (see CANDIDATES; ``make eval-kb`` prints how it does).
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import cache
from itertools import pairwise
from pathlib import Path

import numpy as np

from chalicelib.kb.embed import DIM, Embedder
from chalicelib.language import (
    Synonyms,
    default_synonyms,
    detect_language,
    fold,
    syllables,
    tokens_of_folded,
    words_of_folded,
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
class Ranking:
    """Every article's fused score and the signals it was fused from (in ``ids`` order)."""

    ids: list[str]
    score: np.ndarray
    word_coverage: np.ndarray
    query_tokens: list[str]
    language: str
    cosine: np.ndarray | None = None
    coverage: np.ndarray | None = None
    bm25: np.ndarray | None = None
    rrf: np.ndarray | None = None
    same_language: np.ndarray | None = None
    same_family: np.ndarray | None = None


# ---- the answer decision ---------------------------------------------------------------------
# Whether to answer, and with which article, is decided among the best CANDIDATES of the fused
# ranking by a small listwise model (chalicelib/kb/answer_model.json, fitted on tests/data/kb/dev
# by ``python -m chalicelib.kb.evaluate --fit``): each candidate gets a linear score over the
# features below, relative ones included (how far it is from the best candidate on each signal),
# and "no answer" competes with score 0. The softmax probability of the best candidate is the
# answer's confidence; the bot answers alone only above the model's threshold. So an article the
# embedding likes but whose words the question does not share (or the reverse), or two articles
# neck and neck, give no answer, without a hand-set rule for each case.
CANDIDATES = 6
ANSWER_MODEL_PATH = Path(__file__).with_name("answer_model.json")
FEATURES = (
    "bias",
    "cosine",
    "cosine_gap",
    "coverage",
    "coverage_gap",
    "word_coverage",
    "word_coverage_gap",
    "bm25_share",
    "rrf",
    "fused",
    "fused_gap",
    "same_language",
    "same_family",
)


@dataclass(frozen=True)
class AnswerModel:
    weights: tuple[float, ...]
    threshold: float

    @classmethod
    def load(cls, path: Path = ANSWER_MODEL_PATH) -> AnswerModel:
        data = json.loads(path.read_text(encoding="utf-8"))
        if tuple(data["features"]) != FEATURES:
            raise ValueError(f"{path.name} was fitted on other features: make eval-kb EVAL_ARGS=--fit")
        return cls(tuple(float(w) for w in data["weights"]), float(data["threshold"]))


@cache
def answer_model() -> AnswerModel:
    return AnswerModel.load()


def candidate_features(ranking: Ranking, k: int = CANDIDATES) -> tuple[np.ndarray, np.ndarray]:
    """(positions of the best ``k`` allowed articles by fused score, their feature rows)."""
    order = np.argsort(-ranking.score, kind="stable")[:k]
    order = order[ranking.score[order] > -1.0]
    if not len(order):
        return order, np.zeros((0, len(FEATURES)))
    assert ranking.cosine is not None and ranking.coverage is not None and ranking.bm25 is not None
    assert ranking.rrf is not None and ranking.same_language is not None and ranking.same_family is not None
    cos, cov = ranking.cosine[order], ranking.coverage[order]
    wcov, fused = ranking.word_coverage[order], ranking.score[order]
    bm = ranking.bm25[order]
    top_bm = float(bm.max())
    x = np.column_stack(
        [
            np.ones(len(order)),
            cos,
            cos - cos.max(),
            cov,
            cov - cov.max(),
            wcov,
            wcov - wcov.max(),
            bm / top_bm if top_bm > 0 else np.zeros(len(order)),
            ranking.rrf[order],
            fused,
            fused - fused.max(),
            ranking.same_language[order].astype(np.float64),
            ranking.same_family[order].astype(np.float64),
        ]
    )
    return order, x


def answer_probabilities(x: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Each candidate's probability of being the answer; "no answer" takes the rest."""
    s = x @ weights
    top = max(float(s.max()) if len(s) else 0.0, 0.0)
    e = np.exp(s - top)
    return np.asarray(e / (np.exp(-top) + e.sum()))


@dataclass(frozen=True)
class Tuning:
    """Weights and thresholds, calibrated on tests/data/kb/dev (docs: ``make eval-kb``)."""

    w_sem: float = 0.55
    w_kw: float = 0.35
    w_rank: float = 0.10
    # BM25 relative to the best article's: coverage says how much of the question an article
    # matches, this how strongly (repeated, rare, in the head) — it separates neighbours such as
    # "退货运费" and "退款到账" that cover the same words
    w_bm25: float = 0.15
    # the asker's language as a tie-breaker: 0 since the dev set's cross-language questions
    # showed it only hurt (a customer writing English about a Chinese-market order wants that
    # article); the answer model still sees whether the language matches
    same_language_bonus: float = 0.0
    min_result: float = 0.22  # below: not a result
    answer_score: float = 0.48  # an answer needs at least this score ...
    answer_margin: float = 0.03  # ... and this lead over the next article ...
    answer_coverage: float = 0.2  # ... and contain this share of the question's content words
    # the fitted decision (answer_model.json) instead of the three thresholds above; None: the
    # shipped model; False: the thresholds
    model: AnswerModel | bool | None = None


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
    position: dict[str, int] = field(default_factory=dict)
    head_len: np.ndarray = field(default_factory=lambda: np.zeros(0))
    body_len: np.ndarray = field(default_factory=lambda: np.zeros(0))
    language_codes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    families: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=object))
    # token -> (positions, tf) per field, built on a token's first use after a change
    head_postings: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    body_postings: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)


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
        self._vocabulary: list[str] | None = None

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
        self._vocabulary = None

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
        self._vocabulary = None

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
            self._matrix = _Matrix(
                ids,
                vectors,
                starts,
                [e.doc.language for e in entries],
                {a: i for i, a in enumerate(ids)},
                np.array([e.head_len for e in entries], dtype=np.float64),
                np.array([e.body_len for e in entries], dtype=np.float64),
                np.array([e.doc.language for e in entries], dtype=object),
                np.array([_language_family(e.doc.language) for e in entries], dtype=object),
            )
        return self._matrix

    def memory_bytes(self) -> int:
        """The vectors' share of memory (the dominant one)."""
        return int(self._ensure_matrix().vectors.nbytes)

    # ---- searching --------------------------------------------------------------------------
    def _idf(self, df: int, n: int) -> float:
        return math.log(1 + (n - df + 0.5) / (df + 0.5))

    def _postings(self, token: str, head: bool) -> tuple[np.ndarray, np.ndarray]:
        """A token's postings in one field as (positions, tf) arrays, cached until the next change."""
        matrix = self._ensure_matrix()
        cache = matrix.head_postings if head else matrix.body_postings
        found = cache.get(token)
        if found is None:
            docs = (self._head if head else self._body).get(token, {})
            found = (
                np.fromiter((matrix.position[a] for a in docs), dtype=np.int64, count=len(docs)),
                np.fromiter(docs.values(), dtype=np.float64, count=len(docs)),
            )
            cache[token] = found
        return found

    def _keyword(self, query_tokens: Sequence[str], ids: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """(bm25, coverage) per article, in ``ids`` order. Coverage counts a token matched in the
        head fully and one matched only in the body at ``BODY_COVERAGE`` (bodies mention much)."""
        matrix = self._ensure_matrix()
        n = max(len(ids), 1)
        bm25 = np.zeros(len(ids), dtype=np.float64)
        matched = np.zeros(len(ids), dtype=np.float64)
        total_idf = 0.0
        head_norm = K1 * (1 - B + B * matrix.head_len / (matrix.head_len.mean() or 1.0)) if len(ids) else None
        body_norm = K1 * (1 - B + B * matrix.body_len / (matrix.body_len.mean() or 1.0)) if len(ids) else None
        for token in dict.fromkeys(query_tokens):
            h_pos, h_tf = self._postings(token, True)
            b_pos, b_tf = self._postings(token, False)
            df = len(np.union1d(h_pos, b_pos)) if len(h_pos) and len(b_pos) else len(h_pos) + len(b_pos)
            idf = self._idf(df, n)
            total_idf += idf
            if len(h_pos):
                assert head_norm is not None
                bm25[h_pos] += HEAD_WEIGHT * idf * h_tf * (K1 + 1) / (h_tf + head_norm[h_pos])
                matched[h_pos] += idf
            if len(b_pos):
                assert body_norm is not None
                bm25[b_pos] += idf * b_tf * (K1 + 1) / (b_tf + body_norm[b_pos])
                only_body = b_pos[~np.isin(b_pos, h_pos)] if len(h_pos) else b_pos
                matched[only_body] += BODY_COVERAGE * idf
        coverage = matched / total_idf if total_idf else matched
        return bm25, coverage

    def _spelling(self) -> list[str]:
        if self._vocabulary is None:
            words = {t for t in (*self._head, *self._body) if t.isascii() and t.isalpha() and len(t) >= 4}
            words |= {w for w in self.synonyms.canonical if w.isascii() and w.isalpha() and len(w) >= 4}
            self._vocabulary = sorted(words)
        return self._vocabulary

    def correct(self, tokens: Sequence[str]) -> list[str]:
        """English words the KB does not know replaced by the closest one it does (trak → track,
        adress → address), then by their synonym group's word. Chinese typos go through pinyin."""
        out = []
        for token in tokens:
            if (
                token.isascii()
                and token.isalpha()
                and len(token) >= 4
                and token not in self._head
                and token not in self._body
            ):
                close = difflib.get_close_matches(token, self._spelling(), n=1, cutoff=0.8)
                if close:
                    token = self.synonyms.canonical.get(close[0], close[0])
            out.append(token)
        return out

    def word_coverage(self, words: Sequence[str], ids: list[str]) -> np.ndarray:
        """Per article, the IDF-weighted share of the query's content words it contains (in the
        head or body; a Han word also through its pinyin, for homophone typos). A word no article
        has weighs the most: a question about something the KB never mentions stays uncovered."""
        n = max(len(ids), 1)
        matched = np.zeros(len(ids), dtype=np.float64)
        total = 0.0
        for word in dict.fromkeys(words):
            holders = np.union1d(self._postings(word, True)[0], self._postings(word, False)[0])
            if not len(holders) and word[0] >= "\u3400" and len(word) >= 2:
                sounds = pinyin_tokens(word)
                if sounds:
                    holders = self._postings(sounds[0], True)[0]
                    for sound in sounds[1:]:
                        holders = np.intersect1d(holders, self._postings(sound, True)[0])
            idf = self._idf(len(holders), n)
            total += idf
            matched[holders] += idf
        return matched / total if total else matched

    def rank(self, query: str, *, language: str | None = None, channel: str | None = None) -> Ranking:
        """Every article's fused score (and the top ones' word coverage), for ``search`` and for
        the evaluation's threshold sweep."""
        t = self.tuning
        matrix = self._ensure_matrix()
        folded = self.synonyms.rewrite(fold(query))
        query_tokens = self.correct(tokens_of_folded(folded)) + pinyin_tokens(folded)
        bm25, coverage = self._keyword(query_tokens, matrix.ids)
        word_coverage = self.word_coverage(self.correct(words_of_folded(folded)), matrix.ids)
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
        top_bm25 = float(bm25.max()) if n else 0.0
        bm25_share = bm25 / top_bm25 if top_bm25 > 0 else bm25
        score = t.w_sem * cosine + t.w_kw * coverage + t.w_rank * rrf + t.w_bm25 * bm25_share
        asker = language or detect_language(query)
        family = _language_family(asker)
        same = matrix.language_codes == asker
        related = matrix.families == family
        bonus = np.where(same, t.same_language_bonus, np.where(related, t.same_language_bonus / 2, 0.0))
        score = score + bonus
        if channel:
            allowed = np.array(
                [
                    not self._entries[a].doc.channels or channel in self._entries[a].doc.channels
                    for a in matrix.ids
                ]
            )
            score = np.where(allowed, score, -1.0)
        return Ranking(
            matrix.ids,
            score,
            word_coverage,
            query_tokens,
            asker,
            cosine=cosine,
            coverage=coverage,
            bm25=bm25,
            rrf=rrf,
            same_language=same,
            same_family=related,
        )

    def _model(self) -> AnswerModel | None:
        model = self.tuning.model
        if model is False:
            return None
        return answer_model() if model is None or model is True else model

    def decide(self, ranking: Ranking) -> Answer | None:
        """The confident answer, if any: the first result when the fitted model gives it the
        highest probability and at least its threshold (see CANDIDATES); with
        ``Tuning(model=False)``, the best article clearing the score, its lead over the next one,
        and covering enough of the question's content words."""
        model = self._model()
        if model is not None:
            order, x = candidate_features(ranking)
            if not len(order):
                return None
            # the first result, when the model agrees it is the answer (disagreement: no answer)
            p = answer_probabilities(x, np.asarray(model.weights))
            if p[0] >= model.threshold and p[0] >= p.max():
                return Answer(ranking.ids[order[0]], round(float(p[0]), 4))
            return None
        t = self.tuning
        order = np.argsort(-ranking.score, kind="stable")[:2]
        if not len(order):
            return None
        best = float(ranking.score[order[0]])
        runner_up = float(ranking.score[order[1]]) if len(order) > 1 else 0.0
        if (
            best >= t.answer_score
            and best - runner_up >= t.answer_margin
            and ranking.word_coverage[order[0]] >= t.answer_coverage
        ):
            return Answer(ranking.ids[order[0]], round(best, 4))
        return None

    def search(
        self, query: str, *, language: str | None = None, limit: int = 5, channel: str | None = None
    ) -> SearchResult:
        query = query[:MAX_QUERY_CHARS]
        if not query.strip() or not self._entries:
            return SearchResult([], None, language or detect_language(query))
        ranking = self.rank(query, language=language, channel=channel)
        score = ranking.score
        hits = []
        for i in np.argsort(-score, kind="stable")[:limit]:
            if score[i] < self.tuning.min_result:
                break
            doc = self._entries[ranking.ids[i]].doc
            hits.append(
                Hit(
                    doc.article_id,
                    doc.title,
                    self.snippet(doc.article_id, ranking.query_tokens),
                    round(float(score[i]), 4),
                    doc.language,
                )
            )
        return SearchResult(hits, self.decide(ranking), ranking.language)

    def snippet(self, article_id: str, query_tokens: Sequence[str]) -> str:
        """The body sentence sharing most tokens with the query (the first one if none does)."""
        entry = self._entries[article_id]
        if not entry.sentences:
            return entry.doc.title
        wanted = set(query_tokens)
        best = max(entry.sentences, key=lambda st: len(wanted & st[1]))[0]
        return best if len(best) <= SNIPPET_CHARS else best[: SNIPPET_CHARS - 1] + "…"
