"""Tokens for keyword search and classifiers, over folded text.

Chinese runs give jieba words (a trimmed copy of jieba's dictionary plus customer-service words,
``jieba_dict.txt`` next to this file, loaded on the first Chinese text: the full dictionary took
~2 s to load here) and character bigrams, so a word jieba splits differently in a question and in
an article still matches through its bigrams; Latin words and numbers are kept whole, English
plurals folded to the singular. Stop words are light: particles, pronouns and function words only.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path
from typing import Any

from chalicelib.language.text import HAN, fold

DICT_PATH = Path(__file__).with_name("jieba_dict.txt")
_RUNS = re.compile(rf"[{HAN}]+|[a-z0-9][a-z0-9']*")

ZH_STOP = frozenset(
    "的 了 吗 呢 啊 吧 呀 哦 嘛 么 哈 呗 啦 喔 噢 哎 嗯 着 过 地 得 之 "
    "我 你 您 他 她 它 我们 你们 他们 咱 俺 是 在 和 与 及 或 就 都 也 还 又 把 被 给 让 "
    "这 那 这个 那个 这种 一下 请问 请 麻烦 谢谢 你好 您好 亲 在吗 个 "
    # question and modal words: every question has them, no answer is about them
    "怎么 怎么办 怎样 如何 什么 为什么 多少 几 哪 哪里 哪儿 吗 不 没 有没有 是不是 能 能不能 可以 "
    "可不可以 要 想 会 还 还能 呢 啥 咋".split()
)
EN_STOP = frozenset(
    "a an the is are was were be been am i me my mine we our you your yours he she it its they them "
    "their this that these those to of in on at by for with from and or but so do does did doing "
    "can could would should will shall may might must have has had please hi hello hey thanks thank "
    "there here just any some about into up out if then than as what which who whom how when where "
    "why wheres whats hows whens im ive id dont doesnt didnt cant cannot wont isnt arent want wanna "
    "need get got like also still yet really much many".split()
)


@cache
def _jieba() -> Any:
    import jieba

    jieba.setLogLevel(60)
    tokenizer = jieba.Tokenizer(dictionary=str(DICT_PATH))
    tokenizer.initialize()
    return tokenizer


def segment(run: str) -> list[str]:
    """jieba's words of a run of Han characters (no HMM: unknown words fall back to characters,
    which the bigrams cover)."""
    return list(_jieba().cut(run, HMM=False))


def _latin(word: str) -> str:
    word = word.replace("'", "")
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def tokens_of_folded(folded: str) -> list[str]:
    """``tokens`` of text already folded (callers that fold once and reuse it)."""
    out: list[str] = []
    for match in _RUNS.finditer(folded):
        run = match.group()
        if run[0] >= "\u3400":
            for word in segment(run):
                # two-character words are also bigrams: emitted once, below
                if len(word) != 2 and word not in ZH_STOP:
                    out.append(word)
            for i in range(len(run) - 1):
                bigram = run[i : i + 2]
                if bigram not in ZH_STOP and not (bigram[0] in ZH_STOP and bigram[1] in ZH_STOP):
                    out.append(bigram)
        else:
            word = _latin(run)
            if word and word not in EN_STOP:
                out.append(word)
    return out


def words_of_folded(folded: str) -> list[str]:
    """The content words of folded text: jieba words and Latin/digit words, stop words removed
    (no bigrams). What a question is *about*, for measuring how much of it an answer covers."""
    out: list[str] = []
    for match in _RUNS.finditer(folded):
        run = match.group()
        if run[0] >= "\u3400":
            out.extend(w for w in segment(run) if w not in ZH_STOP)
        else:
            word = _latin(run)
            if word and word not in EN_STOP:
                out.append(word)
    return out


def tokens(text: str) -> list[str]:
    """Search tokens of ``text``: over ``fold(text)``, jieba words + Han bigrams + Latin/digit
    words, light stop words removed. Order follows the text; repeats are kept (term frequency)."""
    return tokens_of_folded(fold(text))
