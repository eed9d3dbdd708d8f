"""The language layer: folding, offsets, tokens, pinyin keys, language detection, synonyms."""

from __future__ import annotations

import pytest

from chalicelib.language import (
    Synonyms,
    default_synonyms,
    detect_language,
    expand,
    fold,
    fold_with_offsets,
    pinyin_key,
    tokens,
)


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("ＩＰＨＯＮＥ　保修", "iphone 保修"),
        ("發票擡頭怎麼修改？", "发票抬头怎么修改?"),
        ("Won’t TURN ON", "won't turn on"),
        ("退貨運費誰出", "退货运费谁出"),
        ("plain ascii 123", "plain ascii 123"),
    ],
)
def test_fold_makes_width_case_and_script_variants_one_text(text: str, folded: str) -> None:
    assert fold(text) == folded


def test_fold_with_offsets_maps_every_folded_character_to_the_character_sent() -> None:
    text = "請問ＡＢ㈱發票"
    folded, offsets = fold_with_offsets(text)
    assert folded == "请问ab(株)发票"
    assert len(offsets) == len(folded)
    assert offsets == [0, 1, 2, 3, 4, 4, 4, 5, 6]
    start = folded.index("发票")
    assert text[offsets[start] : offsets[start + 1] + 1] == "發票"


def test_tokens_have_words_bigrams_and_latin_words_without_stop_words() -> None:
    out = tokens("我的快遞到哪了？iPhones 保修多久")
    assert "快递" in out and "保修" in out and "iphone" in out
    assert "到哪" in out  # a bigram jieba does not make a word
    assert "的" not in out and "了" not in out and "my" not in tokens("where is my parcel")


def test_tokens_keep_long_jieba_words_and_repeat_counts() -> None:
    out = tokens("七天无理由退货，七天无理由退货")
    assert out.count("七天无理由") == 2


def test_pinyin_key_matches_homophone_typos() -> None:
    assert pinyin_key("开发漂") == pinyin_key("开发票") == "kai fa piao"
    assert pinyin_key("開發票") == "kai fa piao"
    assert pinyin_key("退宽") == pinyin_key("退款")
    assert pinyin_key("hello") == ""


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("我的快递到哪了", "zh-CN"),
        ("我的快遞到哪了", "zh-TW"),
        ("iphone 保修多久", "zh-CN"),
        ("where is my 快递 now", "en"),
        ("How do I return this?", "en"),
        ("", "en"),
    ],
)
def test_detect_language(text: str, language: str) -> None:
    assert detect_language(text) == language


def test_default_synonyms_rewrite_colloquial_words_to_one_form() -> None:
    synonyms = default_synonyms()
    assert synonyms.rewrite(fold("咋退錢")) == "怎么退款"
    assert synonyms.rewrite(fold("啥时候到")) == "什么时候到"
    assert synonyms.rewrite("物流信息") == "快递信息"
    assert synonyms.rewrite("packaged") == "packaged"  # English words match whole


def test_english_terms_rewrite_to_the_chinese_term_so_keywords_match_across_languages() -> None:
    synonyms = default_synonyms()
    assert synonyms.rewrite("where is my package") == "where is my 快递"
    assert synonyms.rewrite(fold("Can I get a REFUND")) == "can i get a 退款"
    assert synonyms.rewrite("does it support android") == "does it support android"


def test_a_member_inside_a_longer_word_is_not_rewritten() -> None:
    synonyms = Synonyms([("优惠券", "券"), ("退款", "退钱")])
    assert synonyms.rewrite("优惠券") == "优惠券"
    assert synonyms.rewrite("领券") == "领优惠券"


def test_admin_groups_combine_with_the_defaults_and_fold_their_words() -> None:
    synonyms = default_synonyms() + Synonyms([("發票抬頭", "开票名称")])
    assert synonyms.rewrite("开票名称怎么改") == "发票抬头怎么改"
    assert synonyms.rewrite("咋改") == "怎么改"


def test_expand_adds_the_other_members_once() -> None:
    assert expand(["快递", "快递", "x"], Synonyms([("快递", "物流", "包裹")])) == [
        "快递",
        "快递",
        "x",
        "物流",
        "包裹",
    ]
