"""The local event source mappings behave like Lambda's: batches, partial batch failures, retries
until the redrive policy parks a poison message in its DLQ, FIFO groups waiting only on their own
failures. A tiny Chalice app consumes the queues the ``aws`` fixture provisions (visibility 1 s,
maxReceiveCount 3)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import boto3
import pytest
from aws_lambda_powertools.utilities.batch import (
    BatchProcessor,
    EventType,
    SqsFifoPartialProcessor,
    process_partial_response,
)
from aws_lambda_powertools.utilities.data_classes.sqs_event import SQSRecord
from chalice import Chalice

from infra.local.sqs_runner import SqsRunner

INBOUND = "omniflow-test-inbound.fifo"
EVENTS = "omniflow-test-events"

Seen = list[dict[str, Any]]


def consumer_app(queue: str, batch_size: int, on_record: Callable[[SQSRecord], None]) -> tuple[Chalice, Seen]:
    """A Chalice app with one SQS consumer that reports partial failures through powertools, the
    way Omniflow's consumers do (FIFO: a failure skips the rest of that message group only)."""
    app = Chalice(app_name="runner-test")
    seen: Seen = []
    lock = threading.Lock()

    def record_handler(record: SQSRecord) -> None:
        with lock:
            seen.append(
                {
                    "body": record.body,
                    "receive_count": int(record.attributes.approximate_receive_count),
                    "group": record.attributes.message_group_id,
                }
            )
        on_record(record)

    @app.on_sqs_message(queue=queue, batch_size=batch_size, name="consume")
    def consume(event: Any) -> dict[str, Any]:
        raw = event.to_dict()
        if queue.endswith(".fifo"):
            fifo = SqsFifoPartialProcessor(skip_group_on_error=True)
            return process_partial_response(event=raw, record_handler=record_handler, processor=fifo)
        return process_partial_response(
            event=raw, record_handler=record_handler, processor=BatchProcessor(EventType.SQS)
        )

    return app, seen


def queue_url(name: str) -> str:
    return boto3.client("sqs").get_queue_url(QueueName=name)["QueueUrl"]


def dead_letters(name: str) -> list[dict[str, Any]]:
    resp = boto3.client("sqs").receive_message(
        QueueUrl=queue_url(name), MaxNumberOfMessages=10, AttributeNames=["All"], WaitTimeSeconds=0
    )
    return resp.get("Messages", [])


def send_fifo(body: str, group: str) -> None:
    boto3.client("sqs").send_message(
        QueueUrl=queue_url(INBOUND), MessageBody=body, MessageGroupId=group, MessageDeduplicationId=body
    )


def test_consumers_are_discovered_from_the_chalice_app(aws):
    app, _ = consumer_app(INBOUND, 5, lambda r: None)
    [consumer] = SqsRunner(app).consumers
    assert consumer.queue_name == INBOUND
    assert consumer.queue_arn.endswith(":" + INBOUND)
    assert (consumer.batch_size, consumer.fifo, consumer.visibility_timeout) == (5, True, 1)


def test_records_arrive_in_batches_in_lambdas_event_shape(aws):
    events: list[dict[str, Any]] = []
    app = Chalice(app_name="runner-test")

    @app.on_sqs_message(queue=EVENTS, batch_size=3, name="consume")
    def consume(event: Any) -> None:
        events.append(event.to_dict())

    sqs = boto3.client("sqs")
    for i in range(7):
        sqs.send_message(
            QueueUrl=queue_url(EVENTS),
            MessageBody=f"m{i}",
            MessageAttributes={"correlation_id": {"DataType": "String", "StringValue": f"c{i}"}},
        )
    SqsRunner(app).drain(timeout=15)

    assert all(1 <= len(e["Records"]) <= 3 for e in events)
    records = [r for e in events for r in e["Records"]]
    assert sorted(r["body"] for r in records) == [f"m{i}" for i in range(7)]
    record = records[0]
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"].endswith(":" + EVENTS)
    assert record["awsRegion"] == "us-east-1"
    assert len(record["md5OfBody"]) == 32
    assert {
        "ApproximateReceiveCount",
        "SentTimestamp",
        "SenderId",
        "ApproximateFirstReceiveTimestamp",
    } <= set(record["attributes"])
    attr = record["messageAttributes"]["correlation_id"]
    assert attr["dataType"] == "String" and attr["stringValue"].startswith("c")
    assert attr["stringListValues"] == [] and attr["binaryListValues"] == []


def test_fifo_records_carry_group_dedupe_and_sequence(aws):
    events: list[dict[str, Any]] = []
    app = Chalice(app_name="runner-test")

    @app.on_sqs_message(queue=INBOUND, batch_size=10, name="consume")
    def consume(event: Any) -> None:
        events.extend(event.to_dict()["Records"])

    send_fifo("hello", "conv-1")
    SqsRunner(app).drain(timeout=15)
    [record] = events
    assert record["attributes"]["MessageGroupId"] == "conv-1"
    assert record["attributes"]["MessageDeduplicationId"] == "hello"
    assert record["attributes"]["SequenceNumber"]


def test_only_failed_records_come_back_after_a_partial_batch_failure(aws):
    def fail_first_delivery_of_m1(record: SQSRecord) -> None:
        if record.body == "m1" and record.attributes.approximate_receive_count == "1":
            raise RuntimeError("transient")

    app, seen = consumer_app(INBOUND, 10, fail_first_delivery_of_m1)
    for body, group in (("m1", "g1"), ("m2", "g2"), ("m3", "g3")):
        send_fifo(body, group)
    SqsRunner(app).drain(timeout=15)

    deliveries = [(s["body"], s["receive_count"]) for s in seen]
    assert sorted(deliveries) == [("m1", 1), ("m1", 2), ("m2", 1), ("m3", 1)]
    assert dead_letters("omniflow-test-inbound-dlq.fifo") == []


def test_an_exception_fails_the_whole_batch(aws):
    calls: list[list[str]] = []
    app = Chalice(app_name="runner-test")

    @app.on_sqs_message(queue=EVENTS, batch_size=10, name="consume")
    def consume(event: Any) -> None:
        calls.append(sorted(r.body for r in event))
        if len(calls) == 1:
            raise RuntimeError("boom")

    sqs = boto3.client("sqs")
    sqs.send_message_batch(
        QueueUrl=queue_url(EVENTS), Entries=[{"Id": str(i), "MessageBody": f"e{i}"} for i in range(3)]
    )
    SqsRunner(app).drain(timeout=15)
    assert sorted(b for call in calls for b in call) == ["e0", "e0", "e1", "e1", "e2", "e2"]


def test_poison_message_is_parked_in_the_dlq_and_blocks_only_its_own_group(aws):
    def poison(record: SQSRecord) -> None:
        if record.body == "poison":
            raise ValueError("cannot process")

    app, seen = consumer_app(INBOUND, 1, poison)
    send_fifo("poison", "bad")
    send_fifo("after-poison", "bad")
    for i in range(3):
        send_fifo(f"ok-{i}", "good")
    SqsRunner(app).drain(timeout=20)

    order = [s["body"] for s in seen]
    poison_attempts = [i for i, body in enumerate(order) if body == "poison"]
    assert len(poison_attempts) == 3  # maxReceiveCount
    # the other group never waited for the poison's retries ...
    assert max(order.index(f"ok-{i}") for i in range(3)) < poison_attempts[1]
    # ... while its own group waited until the poison was parked, then went on in order
    assert order.count("after-poison") == 1
    assert order.index("after-poison") > poison_attempts[-1]
    [parked] = dead_letters("omniflow-test-inbound-dlq.fifo")
    assert parked["Body"] == "poison"
    assert parked["Attributes"]["MessageGroupId"] == "bad"


def test_background_pollers_process_until_stopped(aws):
    app, seen = consumer_app(EVENTS, 10, lambda r: None)
    runner = SqsRunner(app, wait_seconds=1)
    with runner:
        boto3.client("sqs").send_message(QueueUrl=queue_url(EVENTS), MessageBody="bg")
        runner.drain(timeout=15)
        assert [s["body"] for s in seen] == ["bg"]
    assert not any(t.is_alive() for t in runner._threads)


def test_drain_reports_what_is_left_when_the_deadline_passes(aws):
    app, _ = consumer_app(EVENTS, 10, lambda r: None)
    runner = SqsRunner(app)
    boto3.client("sqs").send_message(QueueUrl=queue_url(EVENTS), MessageBody="x", DelaySeconds=5)
    with pytest.raises(TimeoutError, match=EVENTS):
        runner.drain(timeout=0.3)
