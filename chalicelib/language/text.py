"""Folding and language detection: the first step of every language-dependent decision (KB search,
intent detection, quality checks, auto-tags), so that "ＩＰＨＯＮＥ 保修", "iPhone 保修" and
"iphone 保修" are one text, and "發票" is "发票".

Character level and pure: each character is NFKC-normalised (full-width → half-width, ligatures,
circled digits) and case-folded, then goes through OpenCC's traditional → simplified character
table (from the ``opencc-purepy`` package, loaded on the first Chinese text). ``fold_with_offsets``
keeps, for every folded character, the index of the character of the text as sent it came from,
so a match found in folded text is reported as a span of the original.
"""

from __future__ import annotations

import re
import unicodedata
from functools import cache, lru_cache
from pathlib import Path

HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_HAN_RE = re.compile(f"[{HAN}]")
_LATIN_WORD = re.compile(r"[a-z]+")
# Phones' typographic marks that NFKC keeps but nobody means differently.
_EXTRA = str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"', "\u3000": " "})


@cache
def _t2s() -> dict[int, str]:
    """OpenCC's traditional → simplified character table (``TSCharacters.txt`` of the
    ``opencc-purepy`` package, read as data: its converter costs ~0.2-0.4 s to load, this table
    a few milliseconds). Character for character, so folding keeps every offset; a character with
    several simplified forms takes OpenCC's first (the same on both sides of any comparison)."""
    import importlib.util

    spec = importlib.util.find_spec("opencc_purepy")  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("opencc-purepy is not installed")
    path = Path(next(iter(spec.submodule_search_locations))) / "dicts" / "TSCharacters.txt"
    table: dict[int, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        source, _, targets = line.partition("\t")
        if len(source) == 1 and targets:
            table[ord(source)] = targets.split(" ", 1)[0]
    return table


def to_simplified(text: str) -> str:
    """Traditional → simplified, character for character. Text without Han characters is
    returned as is, without loading the table."""
    if not _HAN_RE.search(text):
        return text
    return text.translate(_t2s())


@lru_cache(maxsize=16384)
def _fold_char(ch: str) -> str:
    return unicodedata.normalize("NFKC", ch.translate(_EXTRA)).casefold()


def fold_with_offsets(text: str) -> tuple[str, list[int]]:
    """``fold(text)`` and, for each of its characters, the index in ``text`` of the character it
    came from (a character that NFKC expands, "㈱" → "(株)", maps every piece to the same index)."""
    pieces: list[str] = []
    offsets: list[int] = []
    for i, ch in enumerate(text):
        folded = ch if ch.isascii() and not ch.isupper() else _fold_char(ch)
        pieces.append(folded)
        offsets.extend([i] * len(folded))
    return to_simplified("".join(pieces)), offsets


def fold(text: str) -> str:
    """Full-width → half-width (NFKC), case folding, traditional → simplified."""
    return fold_with_offsets(text)[0]


def han_count(text: str) -> int:
    return len(_HAN_RE.findall(text))


def detect_language(text: str) -> str:
    """``zh-CN``, ``zh-TW`` or ``en`` (anything without Chinese). Mixed text counts Han characters
    against Latin words: "iphone 保修多久" is Chinese, "where is my 快递" English. Chinese with any
    character that OpenCC turns simplified is traditional."""
    normalised = "".join(_fold_char(c) for c in text)
    han = _HAN_RE.findall(normalised)
    if not han:
        return "en"
    if len(_LATIN_WORD.findall(normalised)) > len(han):
        return "en"
    chars = "".join(han)
    return "zh-TW" if to_simplified(chars) != chars else "zh-CN"
