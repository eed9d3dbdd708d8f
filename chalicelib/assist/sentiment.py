"""Sentiment and escalation risk of a customer's message (pure, zh and en).

A lexicon, not a model: weighted cues (``sentiment_cues.txt``) found in the language layer's folded
text (simplified, lower case, half-width), longest first so that "不满意" is not "满意"; a positive
cue the customer negates ("not happy", "不太满意") counts against; cues after a contrast ("谢谢，
但是…", "thanks, but …") weigh more than those before it. Escalation signals are found apart and
add to the negative side: a complaint, a regulator (12315, 消协, BBB), a lawyer, going public
(曝光, "post it everywhere"), a repeated question (in the text — "第三次", "asked 3 times" — or the
same question as an earlier turn), ALL CAPS, a long wait (in the text, or the time since the
customer's previous message), piled-up "!!"/"？？".

Why a lexicon: it is fast (well under a millisecond), explainable (the cues are the reasons shown
to the agent), needs no weights that cannot be downloaded here, and it generalises to phrasings an
evaluation set does not contain as long as the language's cues are covered.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import ahocorasick

from chalicelib.assist import sentiment_model
from chalicelib.language import fold

CUES_PATH = Path(__file__).with_name("sentiment_cues.txt")
Label = Literal["negative", "neutral", "positive"]
NEGATIVE_AT = 2.0  # this much negative weight (and at least the positive) makes a message negative
POSITIVE_AT = 2.0
LONG_WAIT_SECONDS = 3600

_SIGNALS: dict[str, tuple[float, re.Pattern[str]]] = {
    "complaint": (3, re.compile(r"投诉|申诉|差评|complain\w*|file a complaint|report (you|this)", re.I)),
    "regulator": (
        3,
        re.compile(r"12315|消协|消费者协会|工商|市场监管|黑猫|\bbbb\b|consumer protection|ftc", re.I),
    ),
    "legal": (
        3,
        re.compile(r"律师|起诉|法院|告你们|打官司|lawyer|attorney|\bsue\b|legal action|court", re.I),
    ),
    "media": (
        3,
        re.compile(
            r"曝光|发微博|发抖音|媒体|小红书|post\w* (it|this) (everywhere|online)|social media|"
            r"go public|the press",
            re.I,
        ),
    ),
    "repeated": (
        2,
        re.compile(
            r"第[二三四五六2-6]次|[两二三四五六几2-6]遍|多少次|好几次|几次了|说了多少|又问|再问一次|"
            r"(问|说|找|打|催|联系)了?[两二三四五六几\d]+次|"
            r"\b((third|fourth|fifth|\d+(st|nd|rd|th)) time|(\d+|three|four|five|several|many) times|"
            r"already (told|asked|explained|said))\b",
            re.I,
        ),
    ),
    "long_wait": (
        2,
        re.compile(
            r"等了[^，。！？,.!?]{0,6}(天|周|星期|月|小时|钟头)|(都|已经|超过)[一两二三四五六七八九十几半\d]+个?"
            r"(天|周|星期|月|小时|钟头)了?|拖了|半个月|"
            r"\b(\d+|two|three|four|five|six|several|many) (days|weeks|months|hours)\b|\ban hour\b",
            re.I,
        ),
    ),
}
_EXCLAIM = re.compile(r"[!！]{2,}|[?？]{2,}|(\w{2,6})[!！]+\s*\1[!！]")  # "人工！人工！" too
_CONTRAST = re.compile(r"但是|可是|不过|然而|但|\bbut\b|\bhowever\b|\bthough\b")
_NEGATORS_ZH = ("不太", "不够", "不是很", "不怎么", "没那么", "没有", "不", "没", "别", "未")
_NEGATION_EN = re.compile(
    r"\b(not|never|no|hardly|isn't|wasn't|aren't|don't|didn't|doesn't|n't)\W+(\w+\W+)?$"
)
_CAPS_WORD = re.compile(r"\b[A-Z]{3,}\b")
_HAN = re.compile(r"[\u3400-\u9fff]")


@dataclass(frozen=True)
class Sentiment:
    label: Label
    score: float  # -1 (angry) .. 1 (delighted)
    signals: tuple[str, ...] = ()
    risk: Literal["low", "medium", "high"] = "low"
    cues: tuple[str, ...] = field(default=())  # what decided it, for the agent

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "score": self.score,
            "signals": list(self.signals),
            "risk": self.risk,
            "cues": list(self.cues),
        }


@dataclass(frozen=True)
class _Lexicon:
    automaton: Any  # Chinese and emoji cues, found anywhere
    english: re.Pattern[str] | None
    weights: dict[str, float]


@lru_cache(maxsize=1)
def lexicon() -> _Lexicon:
    weights: dict[str, float] = {}
    english: list[str] = []
    automaton: Any = ahocorasick.Automaton()
    for line in CUES_PATH.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        weight, phrase = line.split("\t", 1)
        phrase = fold(phrase.strip())
        weights[phrase] = float(weight)
        if re.search(r"[a-z]", phrase) and not _HAN.search(phrase):
            english.append(phrase)
        else:
            automaton.add_word(phrase, phrase)
    automaton.make_automaton()
    alternatives = sorted(english, key=len, reverse=True)
    pattern = "|".join(
        rf"(?<![\w-]){re.escape(p[:-1])}\w*" if p.endswith("*") else rf"(?<![\w-]){re.escape(p)}(?![\w-])"
        for p in alternatives
    )
    return _Lexicon(automaton, re.compile(pattern) if pattern else None, weights)


def _cues(folded: str) -> list[tuple[int, int, str]]:
    """Every cue in the folded text as (start, end, cue), longest first where they overlap."""
    lex = lexicon()
    found = [(end - len(cue) + 1, end + 1, cue) for end, cue in lex.automaton.iter(folded)]
    if lex.english is not None:
        for m in lex.english.finditer(folded):
            cue = m.group(0)
            key = (
                cue
                if cue in lex.weights
                else next((p for p in lex.weights if p.endswith("*") and cue.startswith(p[:-1])), cue)
            )
            found.append((m.start(), m.end(), key))
    found.sort(key=lambda f: (-(f[1] - f[0]), f[0]))
    taken: list[tuple[int, int, str]] = []
    for start, end, cue in found:
        if all(end <= s or start >= e for s, e, _ in taken):
            taken.append((start, end, cue))
    return sorted(taken)


def _negated(folded: str, start: int, cue: str) -> bool:
    if _HAN.search(cue):
        before = folded[max(0, start - 3) : start]
        return any(before.endswith(n) for n in _NEGATORS_ZH)
    return bool(_NEGATION_EN.search(folded[max(0, start - 30) : start]))


def _similar(a: str, b: str) -> bool:
    """Two customer turns asking the same thing (character bigram overlap)."""

    def grams(s: str) -> set[str]:
        s = re.sub(r"\W+", "", s)
        return {s[i : i + 2] for i in range(len(s) - 1)}

    x, y = grams(a), grams(b)
    return bool(x and y) and len(x & y) / len(x | y) >= 0.6


@dataclass(frozen=True)
class _Lexical:
    negative: float
    positive: float
    signals: tuple[str, ...]
    cues: tuple[str, ...]

    def label(self) -> Label:
        if self.negative >= NEGATIVE_AT and self.negative >= self.positive:
            return "negative"
        if self.positive >= POSITIVE_AT and self.positive > self.negative:
            return "positive"
        return "neutral"

    def features(self) -> list[float]:
        """What the linear layer sees besides the sentence embedding."""
        s = set(self.signals)
        return [
            min(self.negative, 12.0) / 4,
            min(self.positive, 12.0) / 4,
            float(bool(ESCALATION & s)),
            float("repeated" in s),
            float("long_wait" in s),
            float("all_caps" in s),
            float("exclaim" in s),
        ]


ESCALATION = frozenset({"complaint", "regulator", "legal", "media"})


def lexical(text: str, *, previous: Sequence[str] = (), waited_seconds: float | None = None) -> _Lexical:
    """The lexicon's view of a message: weighted cues and escalation signals."""
    folded = fold(text)
    weights = lexicon().weights
    contrast = _CONTRAST.search(folded)
    pivot = contrast.start() if contrast else -1
    negative = positive = 0.0
    reasons: list[str] = []
    for start, _, cue in _cues(folded):
        w = weights.get(cue, 0.0)
        if w > 0 and _negated(folded, start, cue):
            w = -w
        if pivot >= 0:
            w *= 0.5 if start < pivot else 1.5
        if w < 0:
            negative -= w
        else:
            positive += w
        reasons.append(cue.rstrip("*"))
    signals = []
    for name, (weight, pattern) in _SIGNALS.items():
        if pattern.search(folded):
            signals.append(name)
            negative += weight
    if "repeated" not in signals and any(_similar(folded, fold(p)) for p in previous[-5:]):
        signals.append("repeated")
        negative += _SIGNALS["repeated"][0]
    letters = [c for c in text if c.isascii() and c.isalpha()]
    if len(_CAPS_WORD.findall(text)) >= 2 or (
        len(letters) >= 8 and sum(c.isupper() for c in letters) >= 0.8 * len(letters)
    ):
        signals.append("all_caps")
        negative += 2
    if waited_seconds is not None and waited_seconds >= LONG_WAIT_SECONDS and "long_wait" not in signals:
        signals.append("long_wait")
        negative += 1
    if _EXCLAIM.search(text):
        signals.append("exclaim")
        negative += 1 if negative else 0.5
    return _Lexical(negative, positive, tuple(signals), tuple(reasons[:10]))


NEGATIVE_PROBABILITY = 0.4  # the embedding alone makes a message negative from here (recall first)


def combine(lex: _Lexical, probabilities: Any, labels: Sequence[str]) -> Label:
    """The lexicon's verdict and the embedding model's probabilities, one label. Negative wins
    when either side sees it (an angry customer missed costs more than a calm one flagged); a
    complaint, a regulator, a lawyer or the press is negative whatever the tone."""
    if ESCALATION & set(lex.signals):
        return "negative"
    lexical_label = lex.label()
    if probabilities is None:
        return lexical_label
    p = dict(zip(labels, (float(x) for x in probabilities), strict=True))
    if lexical_label == "negative" or p["negative"] >= NEGATIVE_PROBABILITY:
        return "negative"
    if lexical_label == "positive" or p["positive"] >= max(p["neutral"], 0.3):
        return "positive"
    return "neutral"


def analyse(
    text: str,
    *,
    previous: Sequence[str] = (),
    waited_seconds: float | None = None,
    embedding: Any = None,
) -> Sentiment:
    """Sentiment and escalation signals of one customer message. ``previous``: the customer's
    earlier turns in the conversation (newest last); ``waited_seconds``: how long they had waited
    for an answer when they wrote it; ``embedding``: its sentence embedding when the caller has it
    (else it is computed; without the model, the lexicon decides alone)."""
    lex = lexical(text, previous=previous, waited_seconds=waited_seconds)
    probabilities = None
    model = sentiment_model.load()
    if model is not None:
        vector = embedding if embedding is not None else sentiment_model.embed([text])
        if vector is not None:
            probabilities = model.predict(vector.reshape(-1))
    label = combine(lex, probabilities, model.labels if model is not None else [])
    if probabilities is not None and model is not None:
        score = float(
            probabilities[model.labels.index("positive")] - probabilities[model.labels.index("negative")]
        )
    else:
        score = (lex.positive - lex.negative) / max(4.0, lex.positive + lex.negative)
    risk: Literal["low", "medium", "high"] = (
        "high"
        if ESCALATION & set(lex.signals) or lex.negative >= 7
        else "medium"
        if label == "negative"
        else "low"
    )
    return Sentiment(label, round(max(-1.0, min(1.0, score)), 2), lex.signals, risk, lex.cues)
