"""The KB search engine's decisions, without AWS and without the embedding model: a stand-in
embedder gives every text the same vector, so only the keyword side separates articles."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from chalicelib.errors import Invalid
from chalicelib.kb.engine import Doc, Index, Tuning, plain
from chalicelib.kb.params import SearchQuery
from chalicelib.kb.stats import cluster


class FlatEmbedder:
    name = "flat"

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), 512), dtype=np.float32)
        out[:, 0] = 1.0
        return out


DOCS = [
    Doc("invoice", "如何开具发票", "下单时选择开具发票，发到邮箱。", "zh-CN", ("怎么开发票", "能开专票吗")),
    Doc("refund", "退款多久到账", "退款原路退回，1-3 个工作日到账。", "zh-CN", ("退款什么时候到账",)),
    Doc("track", "Tracking your order", "Open My orders and choose Track.", "en", ("Where is my order?",)),
    Doc("tw", "門市自取說明", "商品到店後以簡訊通知。", "zh-TW", ("可以到門市取貨嗎",), ("web",)),
]


@pytest.fixture
def index() -> Index:
    built = Index(FlatEmbedder(), tuning=Tuning(answer_score=0.3, answer_margin=0.02, answer_coverage=0.2))
    built.extend(DOCS)
    return built


def top(index: Index, query: str, **kw: object) -> str | None:
    hits = index.search(query, **kw).results  # type: ignore[arg-type]
    return hits[0].article_id if hits else None


def test_a_homophone_typo_finds_the_article_through_pinyin(index: Index) -> None:
    assert top(index, "开发漂") == "invoice"


def test_traditional_and_colloquial_questions_meet_simplified_articles(index: Index) -> None:
    assert top(index, "退錢啥時候到賬") == "refund"
    assert top(index, "咋开发票") == "invoice"


def test_english_typos_are_corrected_against_the_kb_vocabulary(index: Index) -> None:
    assert top(index, "how to trak my ordr") == "track"


def test_a_channel_filter_hides_articles_limited_to_other_channels(index: Index) -> None:
    assert top(index, "門市取貨", channel="web") == "tw"
    assert "tw" not in [h.article_id for h in index.search("門市取貨", channel="sms").results]


def test_no_answer_when_the_question_is_about_something_no_article_covers(index: Index) -> None:
    assert index.search("退款多久到账").answer is not None
    assert index.search("你们公司招聘销售经理吗").answer is None


def test_removing_an_article_takes_it_out_of_results(index: Index) -> None:
    index.remove("invoice")
    assert "invoice" not in [h.article_id for h in index.search("开发票").results]


def test_plain_drops_markdown_but_keeps_link_text() -> None:
    assert plain("**打开** [我的订单](https://x.example/o) ![img](a.png)") == "打开 我的订单"


def test_cluster_groups_close_vectors_largest_first() -> None:
    a, b = np.array([1.0, 0.0]), np.array([0.0, 1.0])
    vectors = np.array([a, b, a * 0.99 + b * 0.01, a])
    assert cluster(["x", "y", "z", "w"], vectors, threshold=0.9) == [[0, 2, 3], [1]]


@pytest.mark.parametrize(
    "params",
    [{}, {"q": " "}, {"q": "x", "limit": "0"}, {"q": "x", "language": "de"}, {"q": "x", "channel": "SMS!"}],
)
def test_search_parameters_are_validated(params: dict[str, str]) -> None:
    with pytest.raises(Invalid):
        SearchQuery.from_params(params)


def test_the_answer_probabilities_leave_the_rest_to_no_answer() -> None:
    from chalicelib.kb.engine import answer_probabilities

    x = np.array([[1.0, 2.0], [1.0, 0.0]])
    p = answer_probabilities(x, np.array([0.0, 1.0]))
    # scores 2 and 0 against "no answer"'s 0: e^2 / (1 + e^2 + 1), 1 / (1 + e^2 + 1)
    assert p == pytest.approx([np.e**2 / (2 + np.e**2), 1 / (2 + np.e**2)])
    assert answer_probabilities(x, np.array([-50.0, 0.0])).sum() < 1e-9


def test_no_answer_when_the_model_prefers_another_candidate_to_the_first_result(index: Index) -> None:
    from dataclasses import replace

    from chalicelib.kb.engine import FEATURES, AnswerModel

    # a model that scores every candidate by how far it is *behind* the first result: the first
    # result is not its favourite, so no answer even with a threshold of 0; the reverse answers
    weights = [0.0] * len(FEATURES)
    weights[FEATURES.index("bias")] = 5.0
    weights[FEATURES.index("fused_gap")] = -100.0  # prefers anything but the first result
    index.tuning = replace(index.tuning, model=AnswerModel(tuple(weights), 0.0))
    ranking = index.rank("退款多久到账")
    assert index.decide(ranking) is None
    weights[FEATURES.index("fused_gap")] = 100.0
    index.tuning = replace(index.tuning, model=AnswerModel(tuple(weights), 0.5))
    found = index.decide(ranking)
    assert found is not None and found.article_id == "refund" and found.confidence > 0.5


def test_an_answer_model_fitted_on_other_features_is_refused(tmp_path: Path) -> None:
    import json

    from chalicelib.kb.engine import AnswerModel

    path = tmp_path / "answer_model.json"
    path.write_text(json.dumps({"features": ["bias", "cosine"], "weights": [0.0, 1.0], "threshold": 0.5}))
    with pytest.raises(ValueError, match="other features"):
        AnswerModel.load(path)


def test_the_shipped_answer_model_matches_the_features() -> None:
    from chalicelib.kb.engine import FEATURES, AnswerModel

    model = AnswerModel.load()
    assert len(model.weights) == len(FEATURES) and 0.0 < model.threshold < 1.0
