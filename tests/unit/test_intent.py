"""Intent detection (chalicelib/routing/intent.py): accuracy on the held-out set, the shipped model is
what training produces, edge cases, backend selection and the AWS backends' fallback (botocore
Stubber, no network)."""

from __future__ import annotations

import json
import time
from collections import Counter
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from chalicelib import config
from chalicelib.routing import evaluate, intent
from chalicelib.routing.intent import (
    LABELS,
    BedrockDetector,
    BuiltinDetector,
    ComprehendDetector,
    Intent,
    LinearModel,
    detector,
    detector_for,
)

ENDPOINT = "arn:aws:comprehend:us-east-1:123456789012:document-classifier-endpoint/intent"
MODEL_ID = "anthropic.claude-3-haiku-20240307-v1:0"


@pytest.fixture(scope="module")
def heldout() -> list[evaluate.Example]:
    return evaluate.load(evaluate.HELDOUT_PATH)


@pytest.fixture(scope="module")
def builtin() -> BuiltinDetector:
    return evaluate.shipped_detector()


@pytest.fixture
def warnings(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, dict[str, Any]]]:
    from chalicelib.observability import logger

    seen: list[tuple[str, dict[str, Any]]] = []
    monkeypatch.setattr(logger, "warning", lambda msg, extra=None, **_: seen.append((msg, extra or {})))
    return seen


# ---- accuracy and the data -------------------------------------------------------------------------
def test_heldout_accuracy_is_at_least_90_percent_overall_and_85_percent_per_language(
    builtin: BuiltinDetector, heldout: list[evaluate.Example]
) -> None:
    report = evaluate.evaluate(builtin, heldout)
    assert report.accuracy >= 0.90, f"held-out accuracy {report.accuracy:.3f}"
    for lang in evaluate.LANGS:
        assert report.lang_accuracy(lang) >= 0.85, f"{lang} accuracy {report.lang_accuracy(lang):.3f}"


def test_heldout_set_is_separate_from_training_and_covers_every_label_in_both_languages(
    heldout: list[evaluate.Example],
) -> None:
    train = evaluate.load(evaluate.TRAIN_PATH)
    assert len(heldout) >= 200
    assert len(train) + len(heldout) >= 400
    assert not {e.text.casefold() for e in train} & {e.text.casefold() for e in heldout}
    per = Counter((e.label, e.lang) for e in heldout)
    assert all(per[(label, lang)] >= 10 for label in LABELS for lang in evaluate.LANGS), per


def test_shipped_model_is_what_training_on_train_jsonl_produces() -> None:
    """Deterministic training: a retrain gives the shipped file (weights are integers in thousandths;
    one unit of slack for a last-bit difference in the platform's exp())."""
    shipped = json.loads(evaluate.MODEL_PATH.read_text(encoding="utf-8"))
    retrained = evaluate.train(evaluate.load(evaluate.TRAIN_PATH))
    assert {k: v for k, v in retrained.items() if k != "weights"} == {
        k: v for k, v in shipped.items() if k != "weights"
    }, "model settings or bias differ: run python -m chalicelib.routing.evaluate --train"
    assert retrained["weights"].keys() == shipped["weights"].keys()
    worst = max(
        abs(a - b)
        for f, ws in retrained["weights"].items()
        for a, b in zip(ws, shipped["weights"][f], strict=True)
    )
    assert worst <= 1, "intent_model.json is stale: run python -m chalicelib.routing.evaluate --train"


def test_dump_is_valid_json_that_loads_back_to_the_same_model() -> None:
    model = evaluate.train(evaluate.load(evaluate.TRAIN_PATH)[::7])
    assert json.loads(evaluate.dump(model)) == model


# ---- behaviour of the builtin detector -------------------------------------------------------------
@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("I bought this last week and it's already broken", "aftersales"),  # mentions buying
        ("上周刚买的耳机，今天左耳就没声音了，能换吗", "aftersales"),
        ("Thinking of buying the watch, does it come in 41mm?", "presales"),
        ("快递三天了还没到，单号是多少", "logistics"),
        ("App keeps crashing after the update", "technical"),
        ("再不退款我就打12315投诉你们", "complaint"),
        ("谢谢", "other"),
    ],
)
def test_typical_messages(builtin: BuiltinDetector, text: str, label: str) -> None:
    found = builtin.detect(text)
    assert found.label == label
    assert found.backend == "builtin"


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_text_is_other_with_full_confidence(builtin: BuiltinDetector, text: str) -> None:
    assert builtin.detect(text) == Intent("other", 1.0, "builtin")


@pytest.mark.parametrize("text", ["👍", "😊😊😊", "[微笑][玫瑰]", "🙏🏻"])
def test_emoji_only_is_other(builtin: BuiltinDetector, text: str) -> None:
    assert builtin.detect(text).label == "other"


def test_mixed_chinese_and_english(builtin: BuiltinDetector) -> None:
    assert builtin.detect("我的 order 什么时候 ship 啊, tracking number 有吗").label == "logistics"
    assert builtin.detect("refund 还没到账 已经一周了").label == "aftersales"


def test_very_long_text_reads_only_the_start_and_stays_fast(builtin: BuiltinDetector) -> None:
    text = "My parcel hasn't arrived, where is my package? " + "blah " * 200_000
    start = time.perf_counter()
    found = builtin.detect(text)
    assert time.perf_counter() - start < 0.5
    assert found.label == "logistics"
    assert intent.features(text) == intent.features(text[: intent.MAX_CHARS])


def test_full_width_upper_case_and_curly_apostrophes_read_like_plain_text() -> None:
    assert intent.features("ＲＥＦＵＮＤ？") == intent.features("refund?")
    assert intent.features("It won\u2019t turn on") == intent.features("It won't turn on")


def test_confidence_is_a_probability_and_labels_are_known(
    builtin: BuiltinDetector, heldout: list[evaluate.Example]
) -> None:
    for example in heldout[::5]:
        found = builtin.detect(example.text)
        assert found.label in LABELS
        assert 0.0 <= found.confidence <= 1.0


def test_below_the_threshold_the_answer_is_other_and_keeps_its_low_confidence() -> None:
    shipped = json.loads(evaluate.MODEL_PATH.read_text(encoding="utf-8"))
    strict = LinearModel.from_json({**shipped, "threshold": 0.999})
    found = BuiltinDetector(strict).detect("hmm, the thing with the watch and the box")
    assert found.label == "other"
    assert found.confidence < 0.999


def test_intent_is_immutable() -> None:
    found = Intent("presales", 0.5, "builtin")
    with pytest.raises(AttributeError):
        found.label = "other"  # type: ignore[misc]


def test_builtin_detector_makes_no_aws_call(
    monkeypatch: pytest.MonkeyPatch, builtin: BuiltinDetector
) -> None:
    from chalicelib import aws

    def no_aws(service: str) -> None:
        raise AssertionError(f"builtin detector asked for a {service} client")

    monkeypatch.setattr(aws, "client", no_aws)
    assert builtin.detect("where is my parcel").label == "logistics"


def test_model_format_is_checked() -> None:
    with pytest.raises(ValueError, match="format"):
        LinearModel.from_json({"format": 999})


# ---- backend selection -------------------------------------------------------------------------------
@pytest.fixture
def clean_settings(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    monkeypatch.delenv("OMNIFLOW_INTENT_BACKEND", raising=False)
    config.settings.cache_clear()
    yield monkeypatch
    config.settings.cache_clear()


def test_default_backend_is_builtin(clean_settings: pytest.MonkeyPatch) -> None:
    assert config.settings().intent_backend == "builtin"
    assert isinstance(detector(), BuiltinDetector)


def test_backend_is_chosen_by_the_environment_and_cached(clean_settings: pytest.MonkeyPatch) -> None:
    clean_settings.setenv("OMNIFLOW_INTENT_BACKEND", f"comprehend:{ENDPOINT}")
    config.settings.cache_clear()
    chosen = detector()
    assert isinstance(chosen, ComprehendDetector)
    assert chosen.endpoint_arn == ENDPOINT
    assert detector() is chosen

    clean_settings.setenv("OMNIFLOW_INTENT_BACKEND", f"bedrock:{MODEL_ID}")
    config.settings.cache_clear()
    chosen_bedrock = detector()
    assert isinstance(chosen_bedrock, BedrockDetector)
    assert chosen_bedrock.model_id == MODEL_ID  # model ids contain ':' themselves


@pytest.mark.parametrize(
    "spec", ["", "builtin", "BUILTIN", "nonsense", "comprehend:", "comprehend:not-an-arn", "bedrock:"]
)
def test_unusable_backend_settings_give_the_builtin_detector(spec: str) -> None:
    assert isinstance(detector_for(spec), BuiltinDetector)


def test_an_unknown_backend_is_logged(warnings: list[tuple[str, dict[str, Any]]]) -> None:
    detector_for.cache_clear()
    detector_for("watson:xyz")
    assert warnings and warnings[0][1] == {"backend": "watson"}


# ---- Amazon Comprehend ------------------------------------------------------------------------------
@pytest.fixture
def comprehend() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("comprehend", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def test_comprehend_top_class_is_the_intent(comprehend: tuple[Any, Stubber]) -> None:
    client, stubber = comprehend
    text = "The screen arrived cracked"
    stubber.add_response(
        "classify_document",
        {"Classes": [{"Name": "PRESALES", "Score": 0.05}, {"Name": "AFTER_SALES", "Score": 0.91}]},
        {"Text": text, "EndpointArn": ENDPOINT},
    )
    assert ComprehendDetector(ENDPOINT, client=client).detect(text) == Intent(
        "aftersales", 0.91, "comprehend"
    )


def test_comprehend_gets_at_most_its_byte_limit(comprehend: tuple[Any, Stubber]) -> None:
    client, stubber = comprehend
    text = "退货" * 4000  # 24,000 UTF-8 bytes
    stubber.add_response(
        "classify_document",
        {"Classes": [{"Name": "aftersales", "Score": 0.99}]},
        {"Text": "退货" * 1666 + "退", "EndpointArn": ENDPOINT},  # 9,999 bytes: no split character
    )
    assert ComprehendDetector(ENDPOINT, client=client).detect(text).label == "aftersales"


def test_comprehend_uses_the_shared_lazy_client(clean_settings: pytest.MonkeyPatch) -> None:
    from chalicelib import aws

    aws.reset()
    with Stubber(aws.client("comprehend")) as stubber:
        stubber.add_response("classify_document", {"Classes": [{"Name": "logistics", "Score": 0.7}]})
        assert ComprehendDetector(ENDPOINT).detect("where is my parcel").backend == "comprehend"
    aws.reset()


def test_comprehend_error_falls_back_to_builtin_and_logs_no_text(
    comprehend: tuple[Any, Stubber], warnings: list[tuple[str, dict[str, Any]]]
) -> None:
    client, stubber = comprehend
    text = "my parcel with order 12345 for Mr Wang has not arrived"
    stubber.add_client_error("classify_document", "ResourceUnavailableException", http_status_code=400)
    found = ComprehendDetector(ENDPOINT, client=client).detect(text)
    assert found.backend == "builtin"
    assert found.label == BuiltinDetector().detect(text).label
    assert warnings == [
        (
            "intent backend failed; using the builtin detector",
            {
                "backend": "comprehend",
                "error": "ResourceUnavailableException",
                "code": "ResourceUnavailableException",
            },
        )
    ]
    assert "Wang" not in repr(warnings)


def test_comprehend_unknown_class_name_falls_back(
    comprehend: tuple[Any, Stubber], warnings: list[tuple[str, dict[str, Any]]]
) -> None:
    client, stubber = comprehend
    stubber.add_response("classify_document", {"Classes": [{"Name": "BILLING", "Score": 0.99}]})
    assert ComprehendDetector(ENDPOINT, client=client).detect("where is my parcel").backend == "builtin"
    assert warnings[0][1]["error"] == "ValueError"


def test_comprehend_is_not_called_for_empty_text(comprehend: tuple[Any, Stubber]) -> None:
    client, _ = comprehend
    assert ComprehendDetector(ENDPOINT, client=client).detect("  ") == Intent("other", 1.0, "builtin")


# ---- Amazon Bedrock ---------------------------------------------------------------------------------
def converse_response(answer: str) -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": answer}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": 120, "outputTokens": 2, "totalTokens": 122},
        "metrics": {"latencyMs": 250},
    }


@pytest.fixture
def bedrock() -> Iterator[tuple[Any, Stubber]]:
    client = boto3.client("bedrock-runtime", region_name="us-east-1")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def test_bedrock_answer_is_parsed_into_a_label(bedrock: tuple[Any, Stubber]) -> None:
    client, stubber = bedrock
    text = "我的快递到哪了"
    stubber.add_response(
        "converse",
        converse_response("Logistics"),
        {
            "modelId": MODEL_ID,
            "system": [{"text": intent._BEDROCK_SYSTEM}],
            "messages": [{"role": "user", "content": [{"text": text}]}],
            "inferenceConfig": {"maxTokens": 10, "temperature": 0},
        },
    )
    found = BedrockDetector(MODEL_ID, client=client).detect(text)
    assert found == Intent("logistics", intent.BEDROCK_CONFIDENCE, "bedrock")


@pytest.mark.parametrize(
    ("answer", "label"), [("after-sales", "aftersales"), ("Label: complaint.", "complaint")]
)
def test_bedrock_answer_variants(bedrock: tuple[Any, Stubber], answer: str, label: str) -> None:
    client, stubber = bedrock
    stubber.add_response("converse", converse_response(answer))
    assert BedrockDetector(MODEL_ID, client=client).detect("hello?").label == label


def test_bedrock_unparseable_answer_falls_back(
    bedrock: tuple[Any, Stubber], warnings: list[tuple[str, dict[str, Any]]]
) -> None:
    client, stubber = bedrock
    stubber.add_response("converse", converse_response("I cannot help with that."))
    found = BedrockDetector(MODEL_ID, client=client).detect("where is my parcel")
    assert (found.backend, found.label) == ("builtin", "logistics")
    assert warnings[0][1]["backend"] == "bedrock"


def test_bedrock_throttling_falls_back(
    bedrock: tuple[Any, Stubber], warnings: list[tuple[str, dict[str, Any]]]
) -> None:
    client, stubber = bedrock
    stubber.add_client_error("converse", "ThrottlingException", http_status_code=429)
    found = BedrockDetector(MODEL_ID, client=client).detect("App keeps crashing after the update")
    assert (found.backend, found.label) == ("builtin", "technical")
    assert warnings[0][1]["code"] == "ThrottlingException"
