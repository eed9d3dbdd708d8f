"""Intent detection: what a customer's message is about, for routing the messages no rule decides.

Sits in the router between "message appended" and "skill group chosen": ``detector().detect(text)``
gives an :class:`Intent` (one of :data:`LABELS`, a confidence in 0..1, the backend that decided).

Backends, chosen by ``OMNIFLOW_INTENT_BACKEND`` (``Settings.intent_backend``):

- ``builtin`` (default): runs inside the Lambda, pure Python, no AWS call. A multinomial logistic
  regression over character/word n-grams and a small bilingual lexicon of cue groups
  (``intent_cues.txt``), trained offline by ``python -m chalicelib.routing.evaluate --train`` from
  ``tests/data/intent/train.jsonl`` into ``intent_model.json`` next to this file (read lazily on
  the first call). Below the model's threshold the answer is ``other`` with the low confidence
  kept, so a caller can tell "surely small talk" from "unsure".
- ``comprehend:<endpoint-arn>``: an Amazon Comprehend custom classifier endpoint.
- ``bedrock:<model-id>``: a Bedrock model through the Converse API with a short prompt.

The two AWS backends fall back to the builtin detector on any error (a warning is logged with the
error code only: message text is never logged). boto3 and the logger are imported only on those
paths, so the builtin detector adds no AWS or powertools import to a cold start.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache, lru_cache
from itertools import pairwise
from pathlib import Path
from typing import Any, Protocol

from chalicelib.language import fold

PRESALES, AFTERSALES, TECHNICAL, LOGISTICS, COMPLAINT, OTHER = (
    "presales",
    "aftersales",
    "technical",
    "logistics",
    "complaint",
    "other",
)
LABELS: tuple[str, ...] = (PRESALES, AFTERSALES, TECHNICAL, LOGISTICS, COMPLAINT, OTHER)

MODEL_PATH = Path(__file__).with_name("intent_model.json")
MODEL_FORMAT = 1
# Only the start of a message is read: routing needs the gist, and this bounds the cost of a
# pasted e-mail thread (features grow linearly with the text).
MAX_CHARS = 2000
# Comprehend's real-time classification limit is counted in UTF-8 bytes; Bedrock prompts are
# kept short for latency and cost.
COMPREHEND_MAX_BYTES = 10_000
BEDROCK_MAX_CHARS = 2000
# An LLM gives no calibrated probability: its parsed answer is reported with this confidence.
BEDROCK_CONFIDENCE = 0.8


@dataclass(frozen=True)
class Intent:
    label: str  # one of LABELS
    confidence: float  # 0..1: the backend's probability for its best guess
    backend: str  # "builtin", "comprehend", "bedrock" (a fallback reports "builtin")


class IntentDetector(Protocol):
    def detect(self, text: str) -> Intent: ...


# ---- features ------------------------------------------------------------------------------------
# The lexicon lives in intent_cues.txt (its header says the format): groups of words that mean the
# same thing for routing, Chinese and English, each pooled into one feature ("refunded", "退钱" and
# "money back" all fire a_refund), so a phrasing never seen in training still counts. Word lists
# rather than one big regular expression per group: compiling those cost ~25 ms of a cold start.
CUES_PATH = Path(__file__).with_name("intent_cues.txt")


class _Cue:
    """One lexicon group, ready to match (a plain class: dataclasses cost import time)."""

    __slots__ = ("name", "pattern", "phrases", "prefixes", "substrings", "words")

    def __init__(self, name: str, chinese: str, english: str, pattern: str) -> None:
        entries = english.split()
        self.name = name
        self.substrings = tuple(chinese.split())
        self.words = frozenset(e for e in entries if "_" not in e and not e.endswith("*"))
        self.prefixes = tuple(e[:-1] for e in entries if "_" not in e and e.endswith("*"))  # for startswith
        # " a b " in " <words> " is the phrase "a b"; " a b" (no trailing space) lets b be a prefix
        self.phrases = tuple(
            " " + e.replace("_", " ").rstrip("*") + ("" if e.endswith("*") else " ")
            for e in entries
            if "_" in e
        )
        self.pattern = re.compile(pattern) if pattern else None

    def found(self, text: str, tokens: set[str], token_list: Sequence[str], padded: str) -> bool:
        return (
            not self.words.isdisjoint(tokens)
            or any(s in text for s in self.substrings)
            or (bool(self.prefixes) and any(t.startswith(self.prefixes) for t in token_list))
            or any(p in padded for p in self.phrases)
            or (self.pattern is not None and self.pattern.search(text) is not None)
        )


@cache
def _cues() -> tuple[_Cue, ...]:
    cues = []
    for line in CUES_PATH.read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            name, chinese, english, pattern = (part.strip() for part in [*line.split("|", 3), "", "", ""][:4])
            cues.append(_Cue(name, chinese, english, pattern))
    return tuple(cues)


_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUNS = re.compile(rf"[{_HAN}]+|[a-z][a-z']*|\d+")
_WECHAT_EMOTICON = re.compile(rf"\[[{_HAN}]{{1,4}}\]")  # [微笑], [玫瑰]: WeChat's emoji as text


def _is_emoji(ch: str) -> bool:
    return unicodedata.category(ch) == "So" or 0x1F000 <= ord(ch) <= 0x1FAFF


def normalize(text: str) -> str:
    """The language layer's folding (``chalicelib.language.fold``: full-width to half-width, so
    "？" is "?"; case; traditional to simplified, so "退貨" is "退货"; curly apostrophes straight),
    at most MAX_CHARS; "after-sales" as one word, so that it is not read as "sales"."""
    t = fold(text[:MAX_CHARS])
    return t.replace("after-sale", "aftersale").replace("after sale", "aftersale")


def features(text: str) -> list[str]:
    """The model's features of ``text``, sorted and unique. Pure.

    ``c:`` Chinese characters and bigrams within a run of Han characters; ``w:`` Latin words and
    word bigrams (numbers of 6+ digits, order and tracking numbers, as ``<longnum>``, shorter ones
    as ``<num>`` plus ``n:`` the number itself: 12315, 618); ``cue:`` the lexicon groups (intent_cues.txt);
    ``p:`` punctuation and emoji; ``len:`` a length bucket (a one-word message is more likely
    small talk)."""
    t = normalize(text)
    out: set[str] = set()
    if _WECHAT_EMOTICON.search(t):
        out.add("p:emoji")
        t = _WECHAT_EMOTICON.sub(" ", t)
    tokens: list[str] = []  # Latin words and numbers as written, for the lexicon
    words: list[str] = []  # the same, numbers replaced by their kind, for the word features
    units = 0
    for match in _RUNS.finditer(t):
        token = match.group()
        if token[0].isdigit():
            tokens.append(token)
            if len(token) < 6:
                out.add("n:" + token)
                words.append("<num>")
            else:
                words.append("<longnum>")
            units += 1
        elif token[0].isascii():
            token = token.replace("'", "")
            tokens.append(token)
            words.append(token)
            units += 1
        else:
            units += len(token)
            out.update("c:" + ch for ch in token)
            out.update("c:" + token[i : i + 2] for i in range(len(token) - 1))
    out.update("w:" + w for w in words)
    out.update(f"w:{a}_{b}" for a, b in pairwise(words))
    token_set, padded = set(tokens), " " + " ".join(tokens) + " "
    out.update("cue:" + cue.name for cue in _cues() if cue.found(t, token_set, tokens, padded))
    if "?" in t:
        out.add("p:?")
    if "!!" in t:
        out.add("p:!!")
    elif "!" in t:
        out.add("p:!")
    if any(_is_emoji(ch) for ch in t):
        out.add("p:emoji")
    out.add("len:" + _length_bucket(units))
    return sorted(out)


def _length_bucket(units: int) -> str:
    if units == 0:
        return "0"
    if units <= 2:
        return "1-2"
    if units <= 5:
        return "3-5"
    return "6-12" if units <= 12 else "13+"


# ---- the builtin model ---------------------------------------------------------------------------
def _softmax(scores: Sequence[float]) -> list[float]:
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    total = sum(exps)
    return [e / total for e in exps]


class LinearModel:
    """Multinomial logistic regression: score(label) = bias + sum of the feature weights, each
    feature valued 1/sqrt(number of features) so long and short messages weigh alike. Weights are
    kept as stored, integers in 1/scale units (no conversion pass on a cold start)."""

    __slots__ = ("bias", "labels", "scale", "threshold", "weights")

    def __init__(
        self,
        labels: Sequence[str],
        bias: Sequence[int],
        weights: Mapping[str, Sequence[int]],
        scale: float,
        threshold: float,  # below this top probability the answer is "other"
    ) -> None:
        self.labels = tuple(labels)
        self.bias = tuple(bias)
        self.weights = weights
        self.scale = scale
        self.threshold = threshold

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> LinearModel:
        if data.get("format") != MODEL_FORMAT:
            raise ValueError(f"intent model format {data.get('format')!r}, expected {MODEL_FORMAT}")
        return cls(
            labels=tuple(data["labels"]),
            bias=tuple(data["bias"]),
            weights=data["weights"],
            scale=float(data["scale"]),
            threshold=float(data["threshold"]),
        )

    def probabilities(self, feats: Sequence[str]) -> list[float]:
        """Per label, in ``labels`` order. Features the model does not know weigh 0 but still
        count in the 1/sqrt(n), as in training."""
        sums = [0] * len(self.labels)
        for f in feats:
            ws = self.weights.get(f)
            if ws is not None:
                for i, w in enumerate(ws):
                    sums[i] += w
        value = 1 / math.sqrt(len(feats)) if feats else 0.0
        return _softmax([(b + s * value) / self.scale for b, s in zip(self.bias, sums, strict=True)])


@cache
def builtin_model() -> LinearModel:
    """The shipped model, read once per process (on the first detection, not at import)."""
    return LinearModel.from_json(json.loads(MODEL_PATH.read_text(encoding="utf-8")))


class BuiltinDetector:
    name = "builtin"

    def __init__(self, model: LinearModel | None = None) -> None:
        self._model = model

    def detect(self, text: str) -> Intent:
        if not text or not text.strip():
            return Intent(OTHER, 1.0, self.name)  # nothing to route on
        model = self._model or builtin_model()
        probs = model.probabilities(features(text))
        best = max(range(len(probs)), key=probs.__getitem__)
        label = model.labels[best] if probs[best] >= model.threshold else OTHER
        return Intent(label, round(probs[best], 4), self.name)


# ---- AWS backends ----------------------------------------------------------------------------------
def _label_named(name: str) -> str | None:
    """A class name or model answer as one of LABELS: "PRE_SALES", "Pre-sales", "售前" -> presales."""
    key = re.sub(r"[^a-z\u4e00-\u9fff]", "", name.lower())
    return _ALIASES.get(key)


_ALIASES: dict[str, str] = {
    **{label: label for label in LABELS},
    "售前": PRESALES,
    "售后": AFTERSALES,
    "技术": TECHNICAL,
    "技术支持": TECHNICAL,
    "tech": TECHNICAL,
    "物流": LOGISTICS,
    "shipping": LOGISTICS,
    "delivery": LOGISTICS,
    "投诉": COMPLAINT,
    "complaints": COMPLAINT,
    "其他": OTHER,
    "其它": OTHER,
}


def _warn_fallback(backend: str, exc: BaseException) -> None:
    from chalicelib.observability import logger

    code = ""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        code = str(response.get("Error", {}).get("Code", ""))
    logger.warning(
        "intent backend failed; using the builtin detector",
        extra={"backend": backend, "error": type(exc).__name__, "code": code},
    )


def _fallback_errors() -> tuple[type[BaseException], ...]:
    from botocore.exceptions import BotoCoreError, ClientError

    return (BotoCoreError, ClientError, KeyError, IndexError, TypeError, ValueError)


class _AwsDetector:
    """An AWS-backed detector: empty text, and any failure of the service, go to the fallback
    (the builtin model) with a warning that names the error only, never the text."""

    name = "aws"
    service = ""

    def __init__(self, resource: str, client: Any = None, fallback: IntentDetector | None = None) -> None:
        self.resource = resource
        self._client = client
        self._fallback = fallback or BuiltinDetector()

    def detect(self, text: str) -> Intent:
        if not text or not text.strip():
            return self._fallback.detect(text)
        try:
            return self._classify(text)
        except _fallback_errors() as exc:
            _warn_fallback(self.name, exc)
            return self._fallback.detect(text)

    def _aws(self) -> Any:
        if self._client is None:
            from chalicelib.aws import client as aws_client

            self._client = aws_client(self.service)
        return self._client

    def _classify(self, text: str) -> Intent:  # pragma: no cover - each backend has its own
        raise NotImplementedError


class ComprehendDetector(_AwsDetector):
    """A Comprehend custom classifier (multi-class mode) whose class names are LABELS, or aliases
    such as PRE_SALES or 售后; the top class and its score are the answer."""

    name = "comprehend"
    service = "comprehend"

    @property
    def endpoint_arn(self) -> str:
        return self.resource

    def _classify(self, text: str) -> Intent:
        body = text.encode("utf-8")[:COMPREHEND_MAX_BYTES].decode("utf-8", "ignore")
        response = self._aws().classify_document(Text=body, EndpointArn=self.endpoint_arn)
        top = max(response["Classes"], key=lambda c: float(c["Score"]))
        label = _label_named(str(top["Name"]))
        if label is None:
            raise ValueError("class name is not an intent label")
        return Intent(label, round(min(max(float(top["Score"]), 0.0), 1.0), 4), self.name)


_BEDROCK_SYSTEM = (
    "You route customer-service messages of an electronics shop. Classify the customer's message "
    "into exactly one label: presales (before buying: price, coupons, stock, sizes, specs, payment), "
    "aftersales (returns, refunds, exchanges, warranty, repairs, defective or wrong items, invoices, "
    "cancellations), technical (app, account, login, pairing, Wi-Fi, firmware, errors, settings), "
    "logistics (shipping, tracking, courier, delivery, address changes), complaint (anger, "
    "escalation, threats to report or review, whatever the topic), other (greetings, thanks, small "
    "talk, anything else). The message may be Chinese or English. Answer with the label only."
)


class BedrockDetector(_AwsDetector):
    """A Bedrock model via Converse (any model that supports it): a short classification prompt,
    temperature 0, a few output tokens; the first label named in the answer wins."""

    name = "bedrock"
    service = "bedrock-runtime"

    @property
    def model_id(self) -> str:
        return self.resource

    def _classify(self, text: str) -> Intent:
        response = self._aws().converse(
            modelId=self.model_id,
            system=[{"text": _BEDROCK_SYSTEM}],
            messages=[{"role": "user", "content": [{"text": text[:BEDROCK_MAX_CHARS]}]}],
            inferenceConfig={"maxTokens": 10, "temperature": 0},
        )
        answer = "".join(part.get("text", "") for part in response["output"]["message"]["content"])
        for word in re.findall(r"[a-z\u4e00-\u9fff_-]+", answer.lower()):
            label = _label_named(word)
            if label is not None:
                return Intent(label, BEDROCK_CONFIDENCE, self.name)
        raise ValueError("no intent label in the model's answer")


# ---- configuration -------------------------------------------------------------------------------
@lru_cache(maxsize=4)
def detector_for(spec: str) -> IntentDetector:
    """The detector a backend setting names: ``builtin`` | ``comprehend:<endpoint-arn>`` |
    ``bedrock:<model-id>``. An unusable setting logs a warning and gives the builtin detector:
    a typo in configuration must not stop routing."""
    kind, _, arg = spec.strip().partition(":")
    kind = kind.lower()
    if kind in ("", "builtin"):
        return BuiltinDetector()
    if kind == "comprehend" and arg.startswith("arn:"):
        return ComprehendDetector(arg)
    if kind == "bedrock" and arg:
        return BedrockDetector(arg)
    from chalicelib.observability import logger

    logger.warning("unknown OMNIFLOW_INTENT_BACKEND; using the builtin detector", extra={"backend": kind})
    return BuiltinDetector()


def detector() -> IntentDetector:
    """The configured detector (one instance per setting, so clients and the model load once)."""
    from chalicelib.config import settings

    return detector_for(settings().intent_backend)
