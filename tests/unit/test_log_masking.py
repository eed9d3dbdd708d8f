"""The logging setup's one masking step: every line of every Lambda goes through it."""

from __future__ import annotations

import io
import json
import logging

import pytest

from chalicelib.observability import PiiMaskingFormatter, logger, mask, mask_email, mask_phone, mask_text


@pytest.mark.parametrize(
    ("raw", "secret"),
    [
        ("call +14155550123 today", "4155550123"),
        ("我的手机13800138000，谢谢", "13800138000"),
        ("手机 138-0013-8000", "0013-8000"),
        ("+86 139 1234 5678 pls", "1234 5678"),
        ("office (415) 555-0123", "555-0123"),
        ("座机010-12345678", "12345678"),
        ("mail me: Mei.Chen+shop@example.com.cn", "Mei.Chen"),
        ("身份证11010519491231002x", "19491231"),
        ("old ID 110105491231002", "491231"),
        ("卡号 6222 0212 3456 7890 128 退款", "3456 7890"),
        ("card 4111-1111-1111-1111", "4111-1111-1111"),
        ("寄到上海市浦东新区张江路100弄3号", "张江路100弄"),
        ("寄到北京市朝阳区建国路88号SOHO现代城", "建国路88号"),
        ("ship it to 221B Baker Street, Apt 4", "Baker Street"),
    ],
)
def test_pii_in_free_text_is_masked(raw: str, secret: str) -> None:
    masked = mask_text(raw)
    assert secret not in masked and masked != raw


@pytest.mark.parametrize(
    "safe",
    [
        "conversation conv_01HXYZ4155550123 stored",
        "SM11111111111111111111111111111111 accepted",
        "took 1733598030123 ms at 2026-12-07 19:00:30",
        "order 202612070001 seq 42",
        "retry 3 of 5",
    ],
)
def test_ids_times_and_counts_are_left_alone(safe: str) -> None:
    assert mask_text(safe) == safe


def test_content_keys_are_blanked_at_any_depth_and_other_values_are_pattern_masked() -> None:
    masked = mask(
        {
            "Body": "hello",
            "headers": {"Authorization": "Bearer abc"},
            "records": [{"text": "hi", "from": "+14155550123"}],
            "count": 3,
            "empty_text": None,
        }
    )
    assert masked == {
        "Body": "***",
        "headers": {"Authorization": "***"},
        "records": [{"text": "***", "from": "+141****0123"}],
        "count": 3,
        "empty_text": None,
    }


def test_console_masks_keep_the_ends() -> None:
    assert mask_phone("13812341234") == "138****1234"
    assert mask_phone("+8613812341234") == "+861****1234"
    assert mask_email("alice@example.com") == "a***@example.com"


def test_the_shared_logger_writes_every_line_through_the_masking_formatter() -> None:
    assert isinstance(logger.registered_formatter, PiiMaskingFormatter)
    buffer = io.StringIO()
    stream = logger.registered_handler.setStream(buffer)
    try:
        logger.warning(
            "customer 13912345678 wrote",
            extra={"text": "my card is lost", "email": "bob@example.net"},
        )
        try:
            raise ValueError("no such user mei@example.org")
        except ValueError:
            logger.exception("lookup failed")
    finally:
        logger.registered_handler.setStream(stream)
    first, second = (json.loads(line) for line in buffer.getvalue().splitlines())
    assert first["message"] == "customer 139****5678 wrote"
    assert (first["text"], first["email"]) == ("***", "b***@example.net")
    assert "mei@example.org" not in json.dumps(second) and "m***@example.org" in second["exception"]
    assert second["level"] == logging.getLevelName(logging.ERROR)
