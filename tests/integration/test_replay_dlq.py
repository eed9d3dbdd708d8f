"""Parked messages go back to their source queue intact, and only once the source accepted them."""

from __future__ import annotations

from typing import Any

import boto3
import pytest
from chalice import Chalice

from infra.local import replay_dlq
from infra.local.sqs_runner import SqsRunner

INBOUND = "omniflow-test-inbound.fifo"
INBOUND_DLQ = "omniflow-test-inbound-dlq.fifo"
EVENTS_DLQ = "omniflow-test-events-dlq"


def url(name: str) -> str:
    return boto3.client("sqs").get_queue_url(QueueName=name)["QueueUrl"]


def receive_all(name: str) -> list[dict[str, Any]]:
    """Peek: what is visible now (left visible, so later receives still see it)."""
    return (
        boto3.client("sqs")
        .receive_message(
            QueueUrl=url(name),
            MaxNumberOfMessages=10,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
            WaitTimeSeconds=0,
            VisibilityTimeout=0,
        )
        .get("Messages", [])
    )


def park(name: str, body: str, group: str | None = None) -> None:
    params: dict[str, Any] = {
        "QueueUrl": url(name),
        "MessageBody": body,
        "MessageAttributes": {"correlation_id": {"DataType": "String", "StringValue": f"corr-{body}"}},
    }
    if group:
        params.update(MessageGroupId=group, MessageDeduplicationId=f"dedupe-{body}")
    boto3.client("sqs").send_message(**params)


def test_fifo_messages_return_with_body_attributes_and_group(aws, capsys):
    park(INBOUND_DLQ, '{"text": "你好"}', "conv-1")
    park(INBOUND_DLQ, '{"text": "second"}', "conv-1")

    assert replay_dlq.main(["--stage", "test", "--queue", "inbound"]) == 0

    assert "inbound: moved 2 message(s)" in capsys.readouterr().out
    assert receive_all(INBOUND_DLQ) == []
    back = receive_all(INBOUND)
    assert [m["Body"] for m in back] == ['{"text": "你好"}', '{"text": "second"}']  # order kept
    assert {m["Attributes"]["MessageGroupId"] for m in back} == {"conv-1"}
    assert back[0]["MessageAttributes"]["correlation_id"]["StringValue"] == 'corr-{"text": "你好"}'
    assert back[0]["Attributes"]["MessageDeduplicationId"] != 'dedupe-{"text": "你好"}'


def test_standard_queue_messages_return(aws):
    park(EVENTS_DLQ, "sla.breached")
    replay_dlq.main(["--stage", "test", "--queue", "events"])
    assert [m["Body"] for m in receive_all("omniflow-test-events")] == ["sla.breached"]


def test_dry_run_lists_and_leaves_messages_visible_in_the_dlq(aws, capsys):
    park(INBOUND_DLQ, "stuck", "conv-9")
    replay_dlq.main(["--stage", "test", "--queue", "inbound", "--dry-run"])
    out = capsys.readouterr().out
    assert "would move 1 message(s)" in out and "group=conv-9" in out and "stuck" in out
    assert [m["Body"] for m in receive_all(INBOUND_DLQ)] == ["stuck"]
    assert receive_all(INBOUND) == []


def test_a_failed_send_leaves_the_message_in_the_dlq(aws):
    park(INBOUND_DLQ, "keep-me", "conv-2")
    sqs = boto3.client("sqs")

    class SendFails:
        def __getattr__(self, name: str) -> Any:
            return getattr(sqs, name)

        def send_message(self, **kwargs: Any) -> None:
            raise RuntimeError("source queue unavailable")

    with pytest.raises(RuntimeError):
        replay_dlq.replay_queue(SendFails(), "test", "inbound")
    assert [m["Body"] for m in receive_all(INBOUND_DLQ)] == ["keep-me"]


def test_a_poison_message_is_processed_after_the_fix_and_replay(aws):
    fixed = False
    processed: list[str] = []
    app = Chalice(app_name="replay-test")

    @app.on_sqs_message(queue=INBOUND, batch_size=1, name="router")
    def router(event: Any) -> None:
        for record in event:
            if not fixed:
                raise RuntimeError("bug")
            processed.append(record.body)

    park(INBOUND, "customer message", "conv-3")
    runner = SqsRunner(app)
    runner.drain(timeout=20)
    assert [m["Body"] for m in receive_all(INBOUND_DLQ)] == ["customer message"]

    fixed = True
    replay_dlq.main(["--stage", "test"])
    runner.drain(timeout=20)
    assert processed == ["customer message"]
    assert receive_all(INBOUND_DLQ) == []
