"""The language layer (foundation): one normalisation for every language-dependent decision —
KB search, intent detection, quality checks, auto-tags. Pure, no AWS; the heavy pieces (OpenCC
tables, jieba's dictionary, the pinyin table) load on first use, each once per process.

- ``fold`` / ``fold_with_offsets``: full-width → half-width, case, traditional → simplified.
- ``tokens``: jieba words + Han bigrams + Latin/digit words of the folded text.
- ``pinyin_key``: toneless pinyin, for homophone typos.
- ``detect_language``: "zh-CN" | "zh-TW" | "en".
- ``Synonyms`` / ``expand``: built-in and admin-defined synonym groups.
"""

from chalicelib.language.pinyin import pinyin_key, syllables
from chalicelib.language.synonyms import DEFAULT_GROUPS, Synonyms, default_synonyms, expand
from chalicelib.language.text import detect_language, fold, fold_with_offsets, han_count, to_simplified
from chalicelib.language.tokens import tokens, tokens_of_folded, words_of_folded

__all__ = [
    "DEFAULT_GROUPS",
    "Synonyms",
    "default_synonyms",
    "detect_language",
    "expand",
    "fold",
    "fold_with_offsets",
    "han_count",
    "pinyin_key",
    "syllables",
    "to_simplified",
    "tokens",
    "tokens_of_folded",
    "words_of_folded",
]
