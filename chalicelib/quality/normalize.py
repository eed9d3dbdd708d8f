"""Disguise-resistant normalisation for phrase matching (pure).

Agents who want a forbidden phrase past a filter write it ``保 证 收 益``, ``保.证.收.益``,
``ＧＵＡＲＡＮＴＥＥＤ``, ``保證收益``, ``guaaaranteed``, ``gu4rant33d`` or with Cyrillic ``а``/``е``/``о``.
``normalise`` turns a text into a stream of significant characters — letters and digits only, folded
by the language layer (``chalicelib.language.fold_with_offsets``: width, case, traditional →
simplified) then here (accents dropped, look-alikes to their Latin letter), runs of one
character collapsed into one entry with a count — and keeps, for each entry, where it came from in
the text as sent and what separated it from the previous entry. Phrases go through the same function,
so an automaton over the collapsed characters finds candidates, and :func:`accept` decides with the
context whether a candidate is a real hit or ordinary text that merely looks like one (a word inside
a longer word, a phrase straddling a sentence break, a phrase the agent negates, a doubled letter
that is simply spelling).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from functools import lru_cache

import regex

from chalicelib.language import fold_with_offsets

# Symbols that stand for letters when written inside a Latin word ("gu4rant33d", "$cam", "fr!e").
_LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s", "!": "i", "|": "i"}
_INNER_ONLY = frozenset("!|")  # also ordinary punctuation right after a word ("free!")
# One letter class for the look-alikes that swap freely: l / I / 1 / | / !
_CANON = {"l": "i"}
# Punctuation that ends a clause: a phrase split by one of these (once) is two sentences, not a
# disguise ("我们保证。收益以实际为准").
_BREAKS = frozenset("，。！？；：,!?;:\n\r…")
_LATIN = regex.compile(r"[a-z0-9]")
_NEGATION_ZH = regex.compile(
    r"(?:不|没|没有|无法|不能|不会|不可能|不敢|未|并不|并非|绝不|决不|从不|从未|难以|不一定|不可以|无|不要|别|"
    r"勿|切勿|严禁|禁止|谨防|防止|拒绝|不得|不可|不准|千万别|请勿|非|并非)"
    r"(?:会|能|可以|要|应该|得|再|会再|是|算|属于|为)?(?:要求|让|帮|给|向|跟|和|与|替|叫|找)?"
    r"(?:您|你|客户|顾客|大家|我们|他们|亲)?$"
)
_NEGATION_EN = regex.compile(
    r"\b(?:not|never|cannot|can't|cant|can not|don't|dont|do not|won't|will not|no|nobody|unable to)\b"
    r"(?:\W+\w+){0,3}\W*$",
)
_NEGATOR_START = regex.compile(r"^(?:不|没|无|未|别|勿|非|not|no|never|cannot|dont|don't)")


class Entry:
    """One significant character of a text: the folded character, how many times it was repeated,
    where its run starts and ends in the original text, and the separators before it."""

    __slots__ = ("char", "end", "gap", "run", "start")

    def __init__(self, char: str, run: int, start: int, end: int, gap: str) -> None:
        self.char = char
        self.run = run
        self.start = start
        self.end = end
        self.gap = gap  # the original characters between the previous entry and this one


@dataclass(frozen=True, slots=True)
class Normalised:
    text: str  # the original
    entries: list[Entry]
    key: str  # the collapsed characters the automaton searches


@lru_cache(maxsize=8192)
def _unmask(c: str) -> tuple[tuple[str, bool], ...]:
    """One character of the language layer's fold, with accents dropped and look-alikes read as
    the Latin letter they imitate, each piece marked significant (a letter or digit) or not."""
    if not c.isascii() and not ("\u3400" <= c <= "\u9fff" or "\uf900" <= c <= "\ufaff"):
        base = unicodedata.normalize("NFKD", c)
        stripped = "".join(b for b in base if not unicodedata.combining(b))
        c = stripped if stripped and stripped.isascii() else _lookalike(c)
    return tuple((x, unicodedata.category(x)[0] in "LN") for x in c)


@lru_cache(maxsize=4096)
def _lookalike(ch: str) -> str:
    """A Cyrillic/Greek/other letter that looks like a Latin one, as that Latin letter (Unicode's
    confusables data); anything else unchanged."""
    if not ch.isalpha():
        return ch
    from confusable_homoglyphs import confusables

    found = confusables.is_confusable(ch, preferred_aliases=["latin"], greedy=True) or []
    for item in found:
        for glyph in item["homoglyphs"]:
            latin = glyph["c"].casefold()
            if len(latin) == 1 and "a" <= latin <= "z":
                return latin
    return ch


_LEET_CHARS = frozenset(_LEET) | frozenset(chr(0xFF00 + ord(c) - 0x20) for c in _LEET)  # and full-width


def normalise(text: str) -> Normalised:
    """The significant characters of ``text`` with their places (see the module docstring)."""
    # Pass 1: the language layer's fold (width, case, traditional → simplified) with the index of
    # each folded character in the text as sent; then accents and look-alikes.
    folded_text, offsets = fold_with_offsets(text)
    folded: list[tuple[str, bool, int, str]] = []  # (char, significant?, original index, original)
    for c, i in zip(folded_text, offsets, strict=True):
        pieces = _unmask(c)
        if len(pieces) == 1:
            folded.append((pieces[0][0], pieces[0][1], i, text[i]))
        else:
            folded.extend((x, sig, i, text[i]) for x, sig in pieces)
    n = len(folded)
    chars: list[str | None] = [c if sig else None for c, sig, _, _ in folded]
    # Pass 2: digits and symbols inside a Latin word are look-alike letters.
    if not _LEET_CHARS.isdisjoint(text):
        for k, (sym, _, _, _) in enumerate(folded):
            if sym not in _LEET:
                continue
            left = k > 0 and _is_letter(chars[k - 1])
            right = k + 1 < n and _is_letter(chars[k + 1])
            if (left and right) or (sym not in _INNER_ONLY and (left or right)):
                chars[k] = _LEET[sym]
    # Pass 3: one entry per run of the same character, with the separators before it.
    entries: list[Entry] = []
    gap: list[str] = []
    last: Entry | None = None
    for k, maybe in enumerate(chars):
        i = folded[k][2]
        if maybe is None:
            if not (k > 0 and folded[k - 1][2] == i):  # one original char folded into several
                gap.append(folded[k][3])
            continue
        c = _CANON.get(maybe, maybe)
        if (
            last is not None
            and last.char == c
            and (not gap or (_only_spacing(gap) and (k + 1 == n or chars[k + 1] is None)))
        ):
            # a repeat; "保 保 证 证", "g o o d": a spaced-out repeat too ("up please" is not)
            last.run += 1
            last.end = i + 1
            gap = []
            continue
        if last is not None and last.end > i:  # second char of one folded original
            last = Entry(c, 1, last.start, last.end, "")
        else:
            last = Entry(c, 1, i, i + 1, "".join(gap) if gap else "")
        entries.append(last)
        gap = []
    return Normalised(text, entries, "".join(e.char for e in entries))


def _is_letter(c: str | None) -> bool:
    return c is not None and "a" <= c <= "z"


def _only_spacing(gap: list[str]) -> bool:
    return bool(gap) and all(not g.isalnum() and g not in _BREAKS for g in gap)


def is_latin(c: str) -> bool:
    return bool(_LATIN.match(c))


@dataclass(frozen=True, slots=True)
class Phrase:
    """A phrase as the automaton knows it."""

    text: str
    key: str
    runs: tuple[int, ...]
    latin_start: bool
    latin_end: bool
    negative: bool  # the phrase itself starts with a negation ("没有质量问题")


def phrase(text: str) -> Phrase:
    n = normalise(text)
    key = n.key
    return Phrase(
        text=text,
        key=key,
        runs=tuple(e.run for e in n.entries),
        latin_start=bool(key) and is_latin(key[0]),
        latin_end=bool(key) and is_latin(key[-1]),
        negative=bool(_NEGATOR_START.match(key)),
    )


def accept(n: Normalised, first: int, last: int, p: Phrase, *, ignore_negated: bool = True) -> bool:
    """Whether entries ``first..last`` of ``n`` (which spell ``p.key``) are a real occurrence.
    ``ignore_negated``: a phrase the agent negates ("我们无法保证收益") does not count."""
    entries = n.entries
    # Repeats: the text has at least the phrase's repeats; extra ones count only when they are a
    # pattern (most letters stretched, or one stretched a lot), not a spelling ("good" ≠ "god").
    extra = 0
    for k, need in enumerate(p.runs):
        have = entries[first + k].run
        if have < need:
            return False
        if have > need:
            extra += 1
            if have >= need + 2:
                extra += len(p.runs)  # "guaaaaranteed": clearly stretched
    if extra and extra * 2 < len(p.runs):
        return False
    # Word boundaries for Latin: not inside a longer word ("ass" in "class").
    if p.latin_start and first > 0 and not entries[first].gap and is_latin(entries[first - 1].char):
        return False
    if (
        p.latin_end
        and last + 1 < len(entries)
        and not entries[last + 1].gap
        and is_latin(entries[last + 1].char)
    ):
        return False
    # Separators inside: a clause break splits two sentences unless the whole phrase is spaced out.
    gaps = [entries[k].gap for k in range(first + 1, last + 1)]
    if any(_is_break(g) for g in gaps):
        spaced = sum(1 for g in gaps if g)
        if spaced < max(2, -(-len(gaps) * 2 // 3)):
            return False
    return not ignore_negated or p.negative or not _negated(n, first)


def _is_break(gap: str) -> bool:
    if any(c in _BREAKS for c in gap):
        return True
    # a full stop followed by a space ends a sentence; "g.u.a.r.d" does not
    return ". " in gap or gap.endswith(".\n")


def _negated(n: Normalised, first: int) -> bool:
    """The agent negates the phrase just before it, in the same clause ("我们无法保证收益",
    "we cannot promise guaranteed returns")."""
    entries = n.entries
    chars: list[str] = []
    k = first - 1
    if entries[first].gap and _is_break(entries[first].gap):
        return False
    while k >= 0 and len(chars) < 6:
        chars.append(entries[k].char)
        if entries[k].gap and _is_break(entries[k].gap):
            break
        k -= 1
    before = "".join(reversed(chars))
    if before and _NEGATION_ZH.search(before):
        return True
    start = entries[first].start
    window = n.text[max(0, start - 40) : start]
    cut = max(window.rfind(b) for b in _BREAKS)
    window = window[cut + 1 :].casefold()
    return bool(_NEGATION_EN.search(window))
