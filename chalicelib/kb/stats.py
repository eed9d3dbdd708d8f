"""KB usage statistics: per article views, bot answers, helpful / not helpful, handoffs after it
was shown — counted by atomic ADD on two items (``total`` and the day), so reading them costs one
GetItem or one Query whatever the traffic — and the questions the KB had no answer for, grouped
by meaning on the search embeddings ("12 customers asked about 发票抬头修改").

The bot calls ``record(article_id, BOT_ANSWER)``, ``record(article_id, HELPFUL)`` … directly;
the API routes call the same functions.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import numpy as np

from chalicelib.kb.models import Stat
from chalicelib.messages import iso, utcnow

VIEWS, SHOWN, BOT_ANSWERS, HELPFUL, NOT_HELPFUL, HANDOFFS = (
    "views",
    "shown",
    "bot_answers",
    "helpful",
    "not_helpful",
    "handoffs",
)
COUNTERS = (VIEWS, SHOWN, BOT_ANSWERS, HELPFUL, NOT_HELPFUL, HANDOFFS)
TOTAL = "total"
MISS_DAYS_KEPT = 90
MAX_MISSES_READ = 2000
CLUSTER_SIMILARITY = 0.62  # cosine to a cluster's first question to join it (USE multilingual v3)


def record(article_id: str, counter: str, n: int = 1) -> None:
    """ADD ``n`` to one counter of an article, on its total and on today's item."""
    if counter not in COUNTERS:
        raise ValueError(f"unknown counter {counter!r}")
    attribute = getattr(Stat, counter)
    day = utcnow().date().isoformat()
    for period in (TOTAL, day):
        Stat(period, article_id).update(actions=[attribute.add(n)])


def record_miss(query: str, language: str, channel: str | None, top_score: float) -> None:
    """A question the KB had no confident answer for (kept 90 days)."""
    now = utcnow()
    Stat(
        f"miss#{now.date().isoformat()}",
        f"{iso(now)}#{uuid.uuid4().hex[:8]}",
        question=query[:500],
        language=language,
        channel=channel,
        top_score=round(top_score, 4),
        expires_at=int((now + timedelta(days=MISS_DAYS_KEPT)).timestamp()),
    ).save()


def _figures(item: Stat | None) -> dict[str, int]:
    return {c: int(getattr(item, c) or 0) if item is not None else 0 for c in COUNTERS}


def article_stats(article_id: str, days: int = 30) -> dict[str, Any]:
    """Totals and the last ``days`` days of one article."""
    from pynamodb.exceptions import DoesNotExist

    try:
        total = Stat.get(TOTAL, article_id)
    except DoesNotExist:
        total = None
    today = utcnow().date()
    daily = []
    for i in range(min(days, 90)):
        day = (today - timedelta(days=i)).isoformat()
        daily.append(day)
    found = {s.period: s for s in Stat.batch_get([(d, article_id) for d in daily])}
    return {
        "article_id": article_id,
        "total": _figures(total),
        "days": [{"day": d, **_figures(found.get(d))} for d in daily if d in found],
    }


def all_stats(period: str = TOTAL, limit: int = 500) -> list[dict[str, Any]]:
    """Every article's figures for one period (``total`` or a day): one Query."""
    return [{"article_id": s.key, **_figures(s)} for s in Stat.query(period, limit=limit)]


def misses(days: int = 7) -> list[dict[str, Any]]:
    today = utcnow().date()
    out: list[dict[str, Any]] = []
    for i in range(max(1, min(days, MISS_DAYS_KEPT))):
        day = (today - timedelta(days=i)).isoformat()
        for s in Stat.query(f"miss#{day}", scan_index_forward=False, limit=MAX_MISSES_READ - len(out)):
            out.append(
                {
                    "query": s.question or "",
                    "language": s.language,
                    "channel": s.channel,
                    "top_score": s.top_score,
                    "at": s.key.split("#", 1)[0],
                }
            )
        if len(out) >= MAX_MISSES_READ:
            break
    return out


def cluster(texts: list[str], vectors: np.ndarray, threshold: float = CLUSTER_SIMILARITY) -> list[list[int]]:
    """Greedy leader clustering: each text joins the first cluster whose centroid it is close
    enough to, else starts one. Pure; returns the clusters' member indices, largest first."""
    clusters: list[list[int]] = []
    centroids: list[np.ndarray] = []
    for i in range(len(texts)):
        v = vectors[i]
        best, best_sim = -1, threshold
        for c, centroid in enumerate(centroids):
            sim = float(centroid @ v) / (float(np.linalg.norm(centroid)) or 1.0)
            if sim >= best_sim:
                best, best_sim = c, sim
        if best < 0:
            clusters.append([i])
            centroids.append(v.copy())
        else:
            clusters[best].append(i)
            centroids[best] = centroids[best] + v
    return sorted(clusters, key=len, reverse=True)


def unanswered(days: int = 7, limit: int = 50) -> dict[str, Any]:
    """The unanswered questions of the last ``days`` days grouped by meaning: each group's most
    typical question (closest to its centroid), its size and a few examples."""
    from chalicelib.kb.embed import embedder

    found = misses(days)
    texts = [m["query"] for m in found]
    if not texts:
        return {"days": days, "questions": 0, "clusters": []}
    vectors = embedder().encode(texts)
    groups = []
    for members in cluster(texts, vectors)[:limit]:
        centroid = vectors[members].mean(axis=0)
        typical = max(members, key=lambda i: float(vectors[i] @ centroid))
        examples = list(dict.fromkeys(texts[i] for i in members))[:5]
        groups.append(
            {
                "question": texts[typical],
                "count": len(members),
                "examples": examples,
                "last_at": max(found[i]["at"] for i in members),
            }
        )
    return {"days": days, "questions": len(texts), "clusters": groups}
