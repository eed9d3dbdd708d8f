"""Auto-tags from a customer's messages: rules over normalised text, assist's signals and order facts.

Each tag comes with a source (``rules``, ``signals`` or ``orders``), a confidence in [0, 1] and its
reasons (which message and which phrase set it), so an agent can see why and remove a wrong one.
Pure and cheap: no I/O; traditional Chinese is folded to simplified (OpenCC, loaded once), full-width
to ASCII and case folded before matching; a phrase right after a negation ("不贵", "not expensive",
"没有投诉") does not count.

Confidence of a tag = 1 - Π(1 - weight) over its distinct matched cues; a tag is set at
``THRESHOLD``. A strong cue (e.g. 退货 / refund) sets it alone, a weak one (价格 / price) needs company.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Final

import regex

from chalicelib.language import fold

PRICE_SENSITIVE: Final = "price-sensitive"
AFTER_SALES: Final = "after-sales-focused"
HIGH_VALUE: Final = "high-value"
COMPLAINT_RISK: Final = "complaint-risk"
TAGS: Final = (PRICE_SENSITIVE, AFTER_SALES, HIGH_VALUE, COMPLAINT_RISK)
LABELS_ZH: Final = {
    PRICE_SENSITIVE: "价格敏感",
    AFTER_SALES: "售后关注",
    HIGH_VALUE: "高价值",
    COMPLAINT_RISK: "投诉倾向",
}
THRESHOLD: Final = 0.6

# order facts (from the order connector): a customer is high-value from either figure
HIGH_VALUE_SPEND: Final = 5000.0
HIGH_VALUE_ORDERS: Final = 8

_STRONG, _MEDIUM, _WEAK = 0.75, 0.5, 0.3

# (weight, phrases) per tag; phrases in simplified Chinese or lower-case English (typos included,
# the way customers type them). English phrases match on word boundaries, Chinese as substrings.
CUES: Final[Mapping[str, Sequence[tuple[float, Sequence[str]]]]] = {
    PRICE_SENSITIVE: (
        (
            _STRONG,
            (
                "太贵",
                "好贵",
                "有点贵",
                "贵了",
                "挺贵",
                "很贵",
                "贵死",
                "便宜点",
                "便宜一点",
                "便宜些",
                "能便宜",
                "再便宜",
                "少点",
                "打折",
                "打个折",
                "折扣",
                "优惠券",
                "优惠码",
                "有优惠",
                "什么优惠",
                "优惠吗",
                "有没有优惠",
                "降价",
                "比价",
                "价保",
                "价格保护",
                "差价",
                "最低价",
                "更便宜",
                "满减",
                "砍价",
                "划算",
                "性价比",
                "有活动吗",
                "有没有活动",
                "券",
                "红包",
                "折价",
                "降了",
                "贵了点",
                "包邮吗",
                "too expensive",
                "so expensive",
                "expensive",
                "pricey",
                "overpriced",
                "cheaper",
                "discount",
                "discounts",
                "discout",
                "discont",
                "coupon",
                "coupons",
                "cupon",
                "voucher",
                "promo code",
                "promo",
                "promotion",
                "price match",
                "price drop",
                "price dropped",
                "on sale",
                "any deal",
                "any deals",
                "best price",
                "lowest price",
                "cheapest",
                "price protection",
                "refund the difference",
                "price difference",
                "too much money",
                "costs too much",
                "budget",
                "cheap",
                "free shipping",
            ),
        ),
        (_WEAK, ("价格", "多少钱", "价钱", "price", "how much", "cost")),
    ),
    AFTER_SALES: (
        (
            _STRONG,
            (
                "退货",
                "退款",
                "换货",
                "维修",
                "保修",
                "售后",
                "返修",
                "三包",
                "退钱",
                "退回",
                "寄回",
                "换新",
                "换一个",
                "质量问题",
                "坏了",
                "坏掉",
                "故障",
                "用不了",
                "不能用",
                "没法用",
                "开不了机",
                "漏水",
                "破损",
                "有瑕疵",
                "退换",
                "退了",
                "保固",
                "refund",
                "refunds",
                "refnd",
                "refound",
                "return",
                "returns",
                "returned",
                "returning",
                "exchange",
                "repair",
                "repaired",
                "warranty",
                "warrenty",
                "waranty",
                "guarantee",
                "replacement",
                "replace it",
                "broken",
                "broke",
                "defective",
                "faulty",
                "not working",
                "doesnt work",
                "doesn't work",
                "stopped working",
                "wont turn on",
                "won't turn on",
                "damaged",
                "rma",
                "send it back",
                "money back",
                "after-sales",
                "after sales",
            ),
        ),
        (_WEAK, ("安装", "说明书", "install", "manual", "setup")),
    ),
    COMPLAINT_RISK: (
        (
            _STRONG,
            (
                "投诉",
                "举报",
                "12315",
                "消协",
                "消费者协会",
                "差评",
                "曝光",
                "工商局",
                "市场监管",
                "律师",
                "起诉",
                "骗子",
                "骗人",
                "黑店",
                "垃圾",
                "忍无可忍",
                "再也不买",
                "再也不会买",
                "气死",
                "什么破",
                "太差劲",
                "媒体",
                "黑猫",
                "退一赔三",
                "欺诈",
                "受够了",
                "complaint",
                "complain",
                "complaining",
                "complian",
                "report you",
                "reporting you",
                "scam",
                "scammed",
                "scammer",
                "fraud",
                "lawyer",
                "sue",
                "suing",
                "legal action",
                "bad review",
                "1 star",
                "one star",
                "1-star",
                "worst",
                "unacceptable",
                "ridiculous",
                "disgusting",
                "never buy again",
                "never again",
                "never ordering",
                "consumer protection",
                "chargeback",
                "bbb",
                "rip off",
                "ripoff",
                "rip-off",
                "furious",
                "fed up",
                "joke of a",
                "useless company",
                "terrible service",
            ),
        ),
        (
            _MEDIUM,
            ("太差", "失望", "生气", "离谱", "搞什么", "怎么回事", "terrible", "awful", "pathetic", "angry"),
        ),
    ),
}

# phrases that look like a cue but are not one ("return to the store"): they cover their span, so
# no cue inside it counts
IGNORED: Final = (
    "return to the store",
    "return to the shop",
    "return to my",
    "return home",
    "in return",
    "return trip",
    "return flight",
    "return the favour",
    "return the favor",
    "return your call",
    "return my call",
    "no return",
    "不用退",
    "不退了",
    "不用换",
    "不用修",
)

# assist's signals on a stored message: a sentiment at or below this, or risk "high", reads as complaint risk
NEGATIVE_SENTIMENT: Final = -0.6
_NEGATIONS_ZH: Final = (
    "不",
    "没",
    "没有",
    "别",
    "无",
    "不是",
    "不会",
    "不算",
    "不太",
    "不想",
    "不要",
    "不用",
    "不打算",
)
_NEGATIONS_EN: Final = (
    "not",
    "no",
    "never",
    "dont",
    "don't",
    "didn't",
    "didnt",
    "isn't",
    "isnt",
    "without",
    "wasn't",
)
_ASCII_WORD = regex.compile(r"[a-z0-9]")


@dataclass(frozen=True)
class Message:
    """A customer's message as stored (text plus the signals assist put on it, when it ran)."""

    text: str
    message_id: str | None = None
    sentiment: float | None = None
    risk: str | None = None


@dataclass(frozen=True)
class OrderFacts:
    """What the order connector knows about the customer (None when it has no connector)."""

    order_count: int = 0
    total_spent: float = 0.0


@dataclass(frozen=True)
class Reason:
    message_id: str | None
    phrase: str
    source: str

    def as_dict(self) -> dict[str, Any]:
        return {"message_id": self.message_id, "phrase": self.phrase, "source": self.source}


@dataclass(frozen=True)
class AutoTag:
    tag: str
    confidence: float
    source: str  # the source of the strongest reason: rules | signals | orders
    reasons: tuple[Reason, ...] = field(default=())

    @property
    def label_zh(self) -> str:
        return LABELS_ZH[self.tag]

    def as_dict(self) -> dict[str, Any]:
        return {
            "tag": self.tag,
            "label_zh": self.label_zh,
            "confidence": self.confidence,
            "source": self.source,
            "reasons": [r.as_dict() for r in self.reasons],
        }


def normalise(text: str) -> str:
    """The language layer's fold (full-width → ASCII, case, traditional → simplified) with curly
    apostrophes straightened."""
    return fold(text).replace("\u2019", "'")


@lru_cache(maxsize=1)
def _patterns() -> dict[str, list[tuple[float, regex.Pattern[str]]]]:
    out: dict[str, list[tuple[float, regex.Pattern[str]]]] = {}
    for tag, groups in CUES.items():
        for weight, phrases in groups:
            alternatives = []
            for phrase in sorted(phrases, key=len, reverse=True):
                left = r"(?<![a-z0-9])" if _ASCII_WORD.match(phrase[0]) else ""
                right = r"(?![a-z0-9])" if _ASCII_WORD.match(phrase[-1]) else ""
                alternatives.append(f"{left}{regex.escape(phrase)}{right}")
            out.setdefault(tag, []).append((weight, regex.compile("|".join(alternatives))))
    out[_IGNORE] = [
        (0.0, regex.compile("|".join(regex.escape(p) for p in sorted(IGNORED, key=len, reverse=True))))
    ]
    return out


_IGNORE: Final = "ignore"


def _cues(text: str) -> list[tuple[str, float, str]]:
    """(tag, weight, phrase) of every cue in ``text``: the longest match wins where matches overlap
    ("refund the difference" is price, not after-sales), negated ones are dropped."""
    matches = []
    for tag, weighted in _patterns().items():
        for weight, pattern in weighted:
            for match in pattern.finditer(text):
                matches.append((match.start(), match.end(), tag, weight, match.group(0)))
    kept: list[tuple[int, int, str, float, str]] = []
    for start, end, tag, weight, phrase in sorted(matches, key=lambda m: (m[0] - m[1], m[0])):
        if any(start < k_end and k_start < end for k_start, k_end, *_ in kept):
            continue
        kept.append((start, end, tag, weight, phrase))
    return [(t, w, p) for s, _, t, w, p in kept if t != _IGNORE and not _negated(text, s)]


def _negated(text: str, start: int) -> bool:
    before = text[max(0, start - 3) : start]
    if any(before.endswith(n) for n in _NEGATIONS_ZH):
        return True
    words = regex.findall(r"[a-z']+", text[max(0, start - 24) : start])
    return any(w in _NEGATIONS_EN for w in words[-2:])


def _combine(weights: Iterable[float]) -> float:
    missing = 1.0
    for weight in weights:
        missing *= 1.0 - weight
    return round(1.0 - missing, 3)


def infer(messages: Sequence[Message], orders: OrderFacts | None = None) -> list[AutoTag]:
    """The tags ``messages`` (one customer's, oldest first) and ``orders`` earn, strongest first."""
    found: dict[str, dict[str, tuple[float, Reason]]] = {tag: {} for tag in TAGS}
    for message in messages:
        for tag, weight, phrase in _cues(normalise(message.text)):
            found[tag].setdefault(phrase, (weight, Reason(message.message_id, phrase, "rules")))
        # assist's risk "high" sets the tag alone; a negative sentiment needs company
        if message.risk == "high":
            found[COMPLAINT_RISK].setdefault(
                "risk", (_STRONG, Reason(message.message_id, "risk=high", "signals"))
            )
        if message.sentiment is not None and message.sentiment <= NEGATIVE_SENTIMENT:
            reason = Reason(message.message_id, f"sentiment={message.sentiment:g}", "signals")
            found[COMPLAINT_RISK].setdefault("sentiment", (_MEDIUM, reason))
    if orders is not None:
        if orders.total_spent >= HIGH_VALUE_SPEND:
            found[HIGH_VALUE]["spent"] = (0.9, Reason(None, f"total_spent={orders.total_spent:g}", "orders"))
        if orders.order_count >= HIGH_VALUE_ORDERS:
            found[HIGH_VALUE]["orders"] = (0.8, Reason(None, f"order_count={orders.order_count}", "orders"))
    tags = []
    for tag, cues in found.items():
        confidence = _combine(weight for weight, _ in cues.values())
        if confidence < THRESHOLD:
            continue
        ranked = sorted(cues.values(), key=lambda wr: -wr[0])
        tags.append(AutoTag(tag, confidence, ranked[0][1].source, tuple(r for _, r in ranked[:5])))
    return sorted(tags, key=lambda t: (-t.confidence, t.tag))
