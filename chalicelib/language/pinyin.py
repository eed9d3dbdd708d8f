"""Toneless pinyin keys, for typos by sound: customers type with pinyin input methods, so the
wrong character usually sounds like the right one (开发漂 for 开发票, 退宽 for 退款).

Uses pypinyin's single-character table only (``pypinyin.pinyin_dict``, ~0.3 s to load here,
against ~1 s for the phrase tables); a character with several readings takes its most common one,
the same on both sides of a comparison, which is what a key needs.
"""

from __future__ import annotations

import unicodedata
from functools import cache, lru_cache

from chalicelib.language.text import fold


@cache
def _table() -> dict[int, str]:
    from pypinyin.pinyin_dict import pinyin_dict

    table: dict[int, str] = pinyin_dict
    return table


@lru_cache(maxsize=16384)
def syllable(ch: str) -> str:
    """The toneless pinyin of one Han character ("票" → "piao"), "" when it has none."""
    readings = _table().get(ord(ch))
    if not readings:
        return ""
    first = readings.split(",", 1)[0]
    plain = "".join(c for c in unicodedata.normalize("NFD", first) if not unicodedata.combining(c))
    return plain.replace("ü", "v")


def syllables(text: str) -> list[str]:
    """The toneless syllables of the Han characters of ``fold(text)``, in order."""
    return [s for s in (syllable(ch) for ch in fold(text) if ch >= "\u3400") if s]


def pinyin_key(text: str) -> str:
    """Toneless pinyin of the Han characters of ``text``, space-separated: "开发漂" and "开发票"
    both give "kai fa piao"."""
    return " ".join(syllables(text))
