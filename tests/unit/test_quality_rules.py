"""Quality rules, pure: phrase matching through disguise without false alarms, spans in the text as
sent, regex with a timeout, required elements and response times."""

from __future__ import annotations

import pytest

from chalicelib.quality import evaluate
from chalicelib.quality.rules import QualityRuleSet, ReplyContext, check

RULES = QualityRuleSet(
    version=1,
    rules=[
        {
            "rule_id": "promise",
            "kind": "phrase",
            "severity": "block",
            "phrases": ["保证收益", "guaranteed returns"],
        },
        {
            "rule_id": "insult",
            "kind": "phrase",
            "severity": "block",
            "phrases": ["idiot", "呵呵"],
            "ignore_negated": False,
        },
        {"rule_id": "claim", "kind": "phrase", "severity": "warn", "phrases": ["绝对没有质量问题", "good"]},
        {
            "rule_id": "greeting",
            "kind": "required",
            "applies_to": "first_reply",
            "phrases": ["您好", "hello"],
        },
        {"rule_id": "closing", "kind": "required", "applies_to": "closing", "phrases": ["再见", "bye"]},
        {"rule_id": "slow", "kind": "response_time", "seconds": 60},
    ],
)


def hits(text: str, context: ReplyContext | None = None) -> list[tuple[str, str]]:
    return [(v.rule_id, text[v.start : v.end]) for v in check(RULES, text, context)]


@pytest.mark.parametrize(
    ("text", "span"),
    [
        ("亲，保 证 收 益的", "保 证 收 益"),
        ("保.證.收.益", "保.證.收.益"),
        ("保保证证收收益益", "保保证证收收益益"),
        ("保\u200b证\u200b收\u200b益", "保\u200b证\u200b收\u200b益"),
        ("ＧＵＡＲＡＮＴＥＥＤ ＲＥＴＵＲＮＳ!", "ＧＵＡＲＡＮＴＥＥＤ ＲＥＴＵＲＮＳ"),
        ("gu4rant33d r3turns", "gu4rant33d r3turns"),
        ("guаrаnteed returns", "guаrаnteed returns"),  # Cyrillic а
        ("guaaaaranteed returns", "guaaaaranteed returns"),
        ("g-u-a-r-a-n-t-e-e-d returns", "g-u-a-r-a-n-t-e-e-d returns"),
    ],
)
def test_disguised_phrases_are_found_with_their_span_in_the_text_as_sent(text, span):
    assert ("promise", span) in hits(text)


@pytest.mark.parametrize(
    "text",
    [
        "我们保证质量",  # shares a word
        "收益以实际到账为准",
        "我保证。收益的问题我再确认一下",  # a sentence break, not a disguise
        "我们无法保证收益",  # negated
        "We cannot promise guaranteed returns.",
        "Returns are guaranteed for 30 days.",
        "The idiom is hard to translate.",  # a longer word
        "呵护您的每一次购物",  # one character of a doubled phrase
        "a goodbye note",  # a phrase at the start of a longer word
    ],
)
def test_ordinary_text_that_shares_characters_or_words_raises_nothing(text):
    assert hits(text) == []


def test_a_doubled_letter_is_spelling_unless_the_whole_word_is_stretched():
    rules = QualityRuleSet(version=1, rules=[{"rule_id": "g", "kind": "phrase", "phrases": ["god"]}])
    assert check(rules, "a good day") == []
    assert [v.rule_id for v in check(rules, "ggoodd")] == ["g"]
    assert [v.rule_id for v in check(rules, "gooood")] == ["g"]


def test_insults_count_even_after_a_negation_when_the_rule_says_so():
    assert hits("don't be an idiot") == [("insult", "idiot")]
    assert hits("呵呵呵") == [("insult", "呵呵呵")]


def test_required_elements_and_response_times_depend_on_the_reply_context():
    assert hits("请稍等") == []
    first = ReplyContext(first_reply=True, waited_seconds=30)
    assert [h[0] for h in hits("请稍等", first)] == ["greeting"]
    assert hits("您好，请稍等", first) == []
    late = ReplyContext(first_reply=True, waited_seconds=61)
    assert [h[0] for h in hits("Hello there", late)] == ["slow"]
    assert [h[0] for h in hits("问题已解决", ReplyContext(closing=True))] == ["closing"]


def test_a_catastrophic_regex_times_out_as_no_match():
    rules = QualityRuleSet(version=1, rules=[{"rule_id": "slow", "kind": "regex", "pattern": r"(a+)+$"}])
    assert check(rules, "a" * 40 + "b") == []


def test_block_violations_come_first():
    assert [v.severity for v in check(RULES, "绝对没有质量问题，保证收益")] == ["block", "warn"]


def test_the_disguise_set_meets_its_targets():
    r = evaluate.evaluate(evaluate.DATA_DIR)
    assert r["hits"] >= 60 and r["clean"] >= 60
    assert r["recall"] >= 0.95, r["missed"]
    assert r["false_alarms"] == 0, r["alarms"]
