"""Synonyms: words customers use for the same thing (快递 = 物流 = 包裹, 退钱 = 退款, 咋 = 怎么).

A :class:`Synonyms` table is a list of groups; the first word of a group is its canonical form.
Two ways to use it:

- ``rewrite(folded_text)``: every member replaced by its group's canonical word, before
  tokenising, on both sides (the indexed text and the query), so "咋退钱" and "怎么退款" give the
  same tokens and bigrams, and no term's document frequency is inflated.
- ``expand(tokens, synonyms)``: the tokens plus every other member of their groups (query
  expansion for callers that cannot rewrite the indexed side).

The built-in groups (:data:`DEFAULT_GROUPS`) always apply; an admin adds groups in the knowledge
base (stored versioned, ``chalicelib.kb``). Words are folded (simplified, lower case) when the
table is built, so a group may be written in traditional characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import cache

from chalicelib.language.text import fold

DEFAULT_GROUPS: tuple[tuple[str, ...], ...] = (
    ("快递", "物流", "包裹", "快件", "邮包"),
    ("退款", "退钱", "返钱", "把钱退"),
    ("怎么", "咋", "怎样", "如何", "怎么样"),
    ("什么", "啥", "甚么", "什麽"),
    ("什么时候", "啥时候", "几时"),
    ("发票", "票据"),
    ("收货地址", "送货地址", "收件地址"),
    ("客服", "人工", "人工客服"),
    ("密码", "口令"),
    ("登录", "登陆"),
    ("优惠券", "优惠卷", "折扣券"),
    ("取消订单", "撤单", "撤销订单"),
    ("坏了", "损坏", "坏掉"),
    ("parcel", "package", "shipment"),
    ("refund", "money back", "reimburse"),
    ("cancel", "cancellation"),
    ("login", "log in", "sign in", "signin"),
    ("password", "passcode", "pwd"),
    ("invoice", "receipt", "fapiao"),
    ("warranty", "guarantee"),
)


class Synonyms:
    """Groups of equivalent words; built once per table version (it compiles one pattern)."""

    def __init__(self, groups: Iterable[Sequence[str]] = DEFAULT_GROUPS) -> None:
        self.groups: list[tuple[str, ...]] = []
        self.canonical: dict[str, str] = {}
        self.members: dict[str, tuple[str, ...]] = {}
        for group in groups:
            words = tuple(dict.fromkeys(w for w in (fold(g).strip() for g in group) if w))
            if len(words) < 2:
                continue
            self.groups.append(words)
            for word in words:
                # a word in two groups keeps its first one
                self.canonical.setdefault(word, words[0])
                self.members.setdefault(word, words)
        # canonical words too (replaced by themselves), so a member inside a longer word ("券" in
        # "优惠券") is not rewritten: the longest word at a position wins
        alternatives = sorted(self.canonical, key=len, reverse=True)
        parts = [
            rf"\b{re.escape(w)}\b" if w.isascii() else re.escape(w)  # English: whole words only
            for w in alternatives
        ]
        self._pattern = re.compile("|".join(parts)) if parts else None

    def rewrite(self, folded: str) -> str:
        """``folded`` (already ``fold``-ed) with every member word replaced by its canonical word."""
        if self._pattern is None:
            return folded
        return self._pattern.sub(lambda m: self.canonical[m.group()], folded)

    def __add__(self, other: Synonyms) -> Synonyms:
        return Synonyms([*self.groups, *other.groups])


def expand(tokens: Sequence[str], synonyms: Synonyms) -> list[str]:
    """``tokens`` followed by the other members of their synonym groups, each once."""
    out = list(tokens)
    seen = set(tokens)
    for token in tokens:
        for word in synonyms.members.get(token, ()):
            if word not in seen:
                seen.add(word)
                out.append(word)
    return out


@cache
def default_synonyms() -> Synonyms:
    """The built-in groups, built on first use (folding them loads OpenCC)."""
    return Synonyms(DEFAULT_GROUPS)
