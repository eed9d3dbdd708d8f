"""Entities in a customer's message, offered to the agent as one-click fills (pure).

Order numbers, phone numbers, e-mail addresses, express tracking numbers, amounts, dates and device
serials, written the Chinese or the English way. Patterns run over the language layer's fold (so
full-width "１３８…" and "ＳＦ…" read as ASCII) and report spans in the text as sent. A labelled
value ("订单号：…", "order #…", "SN: …") is preferred to a bare number; a bare number is typed
by its shape (11-digit mobile, SF + 12 digits, 15-digit IMEI …) only when unambiguous.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

from chalicelib.language import fold_with_offsets

MAX_ENTITIES = 20

_LABELLED: list[tuple[str, re.Pattern[str]]] = [
    (
        "tracking_number",
        re.compile(
            r"(?:快递单号|运单号|物流单号|快递号|tracking\s*(?:number|no\.?|#)?)\s*(?:是|为|:|：|#)?\s*([a-z0-9]{8,30})"
        ),
    ),
    (
        "order_number",
        re.compile(
            r"(?:订单号?|(?<![递运流])单号|order\s*(?:number|no\.?|#|id)?)\s*(?:是|为|:|#|：)?\s*#?([a-z0-9][a-z0-9-]{4,31})"
        ),
    ),
    (
        "serial",
        re.compile(
            r"(?:序列号|串号|sn|s/n|serial\s*(?:number|no\.?)?|imei)\s*(?:是|为|:|：|#)?\s*([a-z0-9-]{6,30})"
        ),
    ),
]
_MONTH = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*"
_SHAPES: list[tuple[str, re.Pattern[str]]] = [
    ("email", re.compile(r"[a-z0-9._%+-]+@[a-z0-9.-]+\.[a-z]{2,}")),
    # express companies' number shapes: SF Express, YTO, J&T, YunDa/ZTO (7…/ 13 digits), UPS, EMS
    (
        "tracking_number",
        re.compile(
            r"(?<![a-z0-9])(?:sf\d{12,15}|yt\d{13}|jt\d{13}|1z[0-9a-z]{16}|e[a-z]\d{9}cn)(?![a-z0-9])"
        ),
    ),
    (
        "phone",
        re.compile(
            r"(?<![\d+])(?:(?:\+|00)86[ -]?)?1[3-9]\d[ -]?\d{4}[ -]?\d{4}(?!\d)|"
            r"\+\d{1,3}[ -]?\d{2,4}[ -]?\d{3,4}[ -]?\d{3,4}(?!\d)"
        ),
    ),
    ("serial", re.compile(r"(?<!\d)\d{15}(?!\d)")),  # IMEI
    (
        "amount",
        re.compile(
            r"(?:[¥￥$]|rmb\s?|usd\s?|cny\s?|hk\$)\s?\d{1,3}(?:,\d{3})*(?:\.\d{1,2})?|"
            r"\d{1,3}(?:,\d{3})*(?:\.\d{1,2})?\s?(?:元|块钱|块|rmb|yuan|dollars?|usd)(?![a-z])"
        ),
    ),
    (
        "date",
        re.compile(
            r"\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}[日号]?|\d{1,2}月\d{1,2}[日号]|"
            r"(?:大前天|前天|昨天|今天|明天|后天|上周[一二三四五六日天]|这周[一二三四五六日天]|周[一二三四五六日天])|"
            rf"\b{_MONTH}\.? \d{{1,2}}(?:st|nd|rd|th)?(?:,? \d{{4}})?\b|"
            rf"\b\d{{1,2}}(?:st|nd|rd|th)? {_MONTH}(?: \d{{4}})?\b|"
            r"\b(?:yesterday|today|tomorrow)\b"
        ),
    ),
    ("order_number", re.compile(r"(?<![\d.])\d{12,20}(?![\d.])")),  # a long bare number: most often an order
]


@dataclass(frozen=True)
class Entity:
    type: str
    value: str  # normalised: digits without spaces, upper-case codes, E.164 for Chinese mobiles
    text: str  # as the customer wrote it
    start: int
    end: int

    def to_json(self) -> dict[str, object]:
        return {
            "type": self.type,
            "value": self.value,
            "text": self.text,
            "start": self.start,
            "end": self.end,
        }


def _normalise(kind: str, raw: str) -> str:
    if kind == "phone":
        digits = re.sub(r"[^\d+]", "", raw)
        if digits.startswith("0086"):
            digits = "+86" + digits[4:]
        if re.fullmatch(r"1[3-9]\d{9}", digits):
            digits = "+86" + digits
        return digits
    if kind == "amount":
        number = re.search(r"\d{1,3}(?:,\d{3})*(?:\.\d{1,2})?", raw)
        currency = "USD" if re.search(r"\$|usd|dollar", raw) and "hk$" not in raw else "CNY"
        if "hk$" in raw:
            currency = "HKD"
        return f"{number.group(0).replace(',', '') if number else raw} {currency}"
    if kind == "email":
        return raw
    if kind == "date":
        return raw
    return raw.upper()


def _matches(folded: str) -> Iterator[tuple[str, int, int]]:
    for kind, pattern in _LABELLED:
        for m in pattern.finditer(folded):
            if any(c.isdigit() for c in m.group(1)):
                yield kind, m.start(1), m.end(1)
    for kind, pattern in _SHAPES:
        for m in pattern.finditer(folded):
            yield kind, m.start(), m.end()


def extract(text: str) -> list[Entity]:
    """The entities of ``text``, in order; where two overlap the labelled / earlier-listed wins."""
    folded, offsets = fold_with_offsets(text)
    taken: list[tuple[int, int]] = []
    found: list[Entity] = []
    for kind, start, end in _matches(folded):
        if any(start < e and s < end for s, e in taken):
            continue
        taken.append((start, end))
        o_start, o_end = offsets[start], offsets[end - 1] + 1
        raw = text[o_start:o_end]
        found.append(Entity(kind, _normalise(kind, folded[start:end]), raw, o_start, o_end))
    return sorted(found, key=lambda e: e.start)[:MAX_ENTITIES]
