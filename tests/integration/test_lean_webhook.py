"""The lean path on moto: a webhook makes ONE AWS call per message (the SQS FIFO SendMessage, no
DynamoDB), and a platform's retry is still stored once — inside the FIFO queue's five-minute
deduplication window (the queue drops it) and after it (the router's conditional dedupe marker)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import botocore.client
import pytest

from chalicelib.conversations import service as conversations
from chalicelib.router import service as router
from tests.integration.test_sms_webhook import sms_form, twilio_event, webhook
from tests.support.queues import drain_inbound


@contextmanager
def aws_calls() -> Iterator[Counter[str]]:
    """Every botocore call made inside the block, as ``service:Operation``."""
    calls: Counter[str] = Counter()
    base: Any = botocore.client.BaseClient  # _make_api_call is private: not in the stubs
    original = base._make_api_call

    def counted(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        calls[f"{client.meta.service_model.service_name}:{operation_name}"] += 1
        return original(client, operation_name, api_params)

    base._make_api_call = counted
    try:
        yield calls
    finally:
        base._make_api_call = original


def test_a_warm_webhook_makes_one_aws_call_per_message_and_no_dynamodb(aws):
    assert webhook(twilio_event(sms_form("SM" + "0" * 32)))["statusCode"] == 200  # cold: secret, queue url
    with aws_calls() as calls:
        for n in range(1, 4):
            assert webhook(twilio_event(sms_form(f"SM{n:032d}")))["statusCode"] == 200
    assert calls == Counter({"sqs:SendMessage": 3})
    assert len(drain_inbound(aws)) == 4


def test_a_retry_inside_the_fifo_window_is_dropped_by_the_queue(aws):
    event = twilio_event(sms_form())
    for _ in range(3):
        assert webhook(event)["statusCode"] == 200
    [msg] = drain_inbound(aws)
    assert router.store(msg) is not None


@pytest.mark.parametrize("deliveries", [2, 3])
def test_a_retry_after_the_fifo_window_is_stored_once_by_the_router(aws, deliveries):
    """Each delivery is routed before the next arrives (the queue has forgotten the first: moto,
    like SQS after five minutes, accepts the same deduplication id again)."""
    event = twilio_event(sms_form(body="Where is my order?"))
    results = []
    for _ in range(deliveries):
        assert webhook(event)["statusCode"] == 200
        [msg] = drain_inbound(aws)  # on the queue again: the FIFO window did not hold it back
        results.append(router.store(msg))
    first = results[0]
    assert first is not None and not first.duplicate
    assert all(r is None or r.duplicate for r in results[1:])
    texts = [m.text for m in conversations.messages_of(first.conversation.conversation_id)]
    assert texts.count("Where is my order?") == 1
