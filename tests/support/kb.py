"""A small, real knowledge base in memory, for the bot's tests: articles with alternative
questions, a TF-IDF ranking over lower-cased words and Chinese character bigrams, and a confident
``answer`` only when the best article clearly beats the next. It answers with the interface of
``chalicelib.kb`` (``search`` → results + answer; ``get_article``), so the bot is tested against
ranking it does not control rather than a canned answer."""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

_WORD = re.compile(r"[a-z0-9]+")
_HAN = re.compile(r"[\u3400-\u9fff]+")
STOP = {"the", "a", "an", "is", "my", "i", "to", "do", "how", "can", "what", "of", "for", "it", "you", "me"}


def tokens(text: str) -> list[str]:
    folded = unicodedata.normalize("NFKC", text).casefold()
    out = [w for w in _WORD.findall(folded) if w not in STOP]
    for run in _HAN.findall(folded):
        if len(run) == 1:
            out.append(run)
        else:
            out.extend(run[i : i + 2] for i in range(len(run) - 1))
    return out


@dataclass
class MemoryArticle:
    article_id: str
    title: str
    body: str
    questions: list[str] = field(default_factory=list)
    language: str = "zh-CN"
    status: str = "published"
    version: int = 1


@dataclass
class MemoryKB:
    answer_score: float = 0.35
    margin: float = 1.3
    articles: dict[str, MemoryArticle] = field(default_factory=dict)
    searches: list[str] = field(default_factory=list)
    recorded: Counter[tuple[str, str]] = field(default_factory=Counter)  # (article id, counter)

    def record(self, article_id: str, counter: str) -> None:
        self.recorded[(article_id, counter)] += 1

    def add(
        self, article_id: str, title: str, body: str, questions: list[str] | None = None, **kw: Any
    ) -> None:
        self.articles[article_id] = MemoryArticle(article_id, title, body, list(questions or []), **kw)

    def edit(self, article_id: str, body: str) -> None:
        a = self.articles[article_id]
        a.body, a.version = body, a.version + 1

    def _published(self) -> list[MemoryArticle]:
        return [a for a in self.articles.values() if a.status == "published"]

    def _score(self, query: list[str], doc: list[str], idf: dict[str, float]) -> float:
        if not query or not doc:
            return 0.0
        have = Counter(doc)
        hit = sum(idf.get(t, 0.0) for t in set(query) if t in have)
        total = sum(idf.get(t, 1.0) for t in set(query)) or 1.0
        return hit / total

    def search(
        self, query: str, *, language: str | None = None, limit: int = 5, channel: str | None = None
    ) -> dict[str, Any]:
        self.searches.append(query)
        articles = self._published()
        docs = {a.article_id: [a.title, *a.questions] for a in articles}
        n = max(len(articles), 1)
        df: Counter[str] = Counter()
        for a in articles:
            df.update(set(tokens(" ".join([a.title, *a.questions, a.body]))))
        idf = {t: math.log(1 + n / c) for t, c in df.items()}
        q = tokens(query)
        scored = []
        for a in articles:
            best = max(self._score(q, tokens(text), idf) for text in docs[a.article_id])
            body = 0.5 * self._score(q, tokens(a.body), idf)
            score = max(best, body)
            if score > 0.12:
                scored.append((score, a))
        scored.sort(key=lambda sa: -sa[0])
        results = [
            {
                "article_id": a.article_id,
                "title": a.title,
                "snippet": a.body[:80],
                "score": round(s, 3),
                "language": a.language,
            }
            for s, a in scored[:limit]
        ]
        answer = None
        if scored and scored[0][0] >= self.answer_score:
            runner = scored[1][0] if len(scored) > 1 else 0.0
            if scored[0][0] >= runner * self.margin:
                answer = {"article_id": scored[0][1].article_id, "confidence": round(scored[0][0], 3)}
        return {"results": results, "answer": answer}

    def get_article(self, article_id: str) -> dict[str, Any] | None:
        a = self.articles.get(article_id)
        if a is None or a.status != "published":
            return None
        return {
            "article_id": a.article_id,
            "title": a.title,
            "body": a.body,
            "language": a.language,
            "version": a.version,
        }


def demo_kb() -> MemoryKB:
    """A handful of articles as a shop's help centre has them."""
    kb = MemoryKB()
    kb.add(
        "art-return",
        "七天无理由退货怎么申请",
        "签收后 **7 天内**，商品未使用、包装完好，可在「我的订单」中申请退货。\n\n"
        "- 进入订单详情\n- 点击 *申请售后*\n- 选择“七天无理由”\n\n详见 [退货政策](https://shop.example/returns)。",
        ["怎么退货", "七天无理由退货", "退货流程", "咋退货", "想退货"],
    )
    kb.add(
        "art-invoice",
        "如何开发票",
        "下单后可在「我的订单 → 申请发票」开具电子发票，支持个人和企业抬头。",
        ["开发票", "怎么开发票", "发票抬头", "电子发票"],
    )
    kb.add(
        "art-shipping-fee",
        "运费怎么算",
        "订单满 99 元包邮，不满 99 元收取 8 元运费。偏远地区另计。",
        ["运费多少", "包邮吗", "邮费"],
    )
    kb.add(
        "art-warranty",
        "Warranty for electronics",
        "All electronics carry a **one-year** warranty. Keep your order number and contact us for a repair.",
        ["warranty", "iphone warranty", "is it under warranty", "保修多久"],
        language="en",
    )
    kb.add(
        "art-password",
        "Reset your password",
        "Open *Account → Security* and choose **Reset password**; a link arrives by e-mail within a minute.",
        ["forgot password", "reset password", "can't log in"],
        language="en",
    )
    return kb
