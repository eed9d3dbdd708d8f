"""Lambda's SQS event source mappings, emulated for the local stack and in-process tests.

Every ``@app.on_sqs_message`` handler registered on the Chalice app gets a poller that does what
the Lambda service does with ``ReportBatchItemFailures`` on: long-poll ``ReceiveMessage`` up to the
batch size, hand the function the real SQS event (records in Lambda's shape), delete the records
that succeeded and leave the failed ones to reappear after the visibility timeout, until SQS's
redrive policy parks them in the dead-letter queue. Consumers are discovered from
``app.event_sources``, so a new consumer needs no change here.

moto implements the redrive itself (at receive time, once ``ApproximateReceiveCount`` reached
``maxReceiveCount``) and blocks a FIFO message group while one of its messages is in flight, like
SQS; ``tests/integration/test_sqs_runner.py`` pins both.
"""

from __future__ import annotations

import base64
import logging
import os
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from infra.local.server import LambdaContext

log = logging.getLogger("infra.local.sqs")

RECEIVE_MAX = 10  # SQS's per-call limit
FIFO_BLOCKED_BACKOFF = 0.2  # see SqsRunner._poller

RELEASE_MARGIN = 0.25  # seconds before the visibility timeout ends that failed FIFO records are released


@dataclass
class Consumer:
    """One event source mapping: a queue, a batch size and the function it feeds."""

    name: str
    handler: Callable[[dict[str, Any], Any], Any]
    queue_name: str
    queue_url: str
    queue_arn: str
    batch_size: int
    fifo: bool
    visibility_timeout: int
    function_name: str
    # Until then a FIFO group of ours may be blocked by a failed message still in flight.
    blocked_until: float = field(default=0.0)
    # Receipt handles of failed FIFO records, released once their visibility timeout has passed.
    to_release: list[str] = field(default_factory=list)
    received_at: float = field(default=0.0)


@dataclass(frozen=True)
class BatchResult:
    received: int
    failed: list[str]


def lambda_record(message: dict[str, Any], *, queue_arn: str, region: str) -> dict[str, Any]:
    """One ``ReceiveMessage`` message as Lambda puts it in ``event["Records"]``."""
    attributes = {}
    for name, attr in (message.get("MessageAttributes") or {}).items():
        value: dict[str, Any] = {
            "stringListValues": list(attr.get("StringListValues") or []),
            "binaryListValues": [_b64(v) for v in attr.get("BinaryListValues") or []],
            "dataType": attr["DataType"],
        }
        if "StringValue" in attr:
            value["stringValue"] = attr["StringValue"]
        if "BinaryValue" in attr:
            value["binaryValue"] = _b64(attr["BinaryValue"])
        attributes[name] = value
    record: dict[str, Any] = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": dict(message.get("Attributes") or {}),
        "messageAttributes": attributes,
        "md5OfBody": message.get("MD5OfBody", ""),
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if message.get("MD5OfMessageAttributes"):
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def _b64(value: bytes | str) -> str:
    return base64.b64encode(value if isinstance(value, bytes) else value.encode()).decode("ascii")


def failed_ids(result: Any, message_ids: list[str]) -> list[str]:
    """Which records Lambda retries for a function result (partial batch response rules): no or
    empty ``batchItemFailures`` means all succeeded; an identifier that is missing, empty or not in
    the batch makes the whole batch fail."""
    if result is None or not isinstance(result, dict):
        return []
    failures = result.get("batchItemFailures")
    if not failures:
        return []
    if not isinstance(failures, list):
        return list(message_ids)
    out: list[str] = []
    for item in failures:
        ident = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not ident or ident not in message_ids:
            log.warning("invalid batchItemFailures entry %r: the whole batch is retried", item)
            return list(message_ids)
        out.append(ident)
    return out


class SqsRunner:
    """Pollers for every SQS consumer of a Chalice app: ``start()``/``stop()`` for the local stack,
    ``drain(timeout)`` for tests that want the queues processed before asserting."""

    def __init__(
        self,
        app: Any,
        *,
        sqs: Any = None,
        endpoint_url: str | None = None,
        region: str | None = None,
        wait_seconds: int = 1,
        lock: threading.Lock | None = None,
        stage: str | None = None,
        timeout_seconds: int = 60,
    ) -> None:
        self.app = app
        self.region = region or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
        if sqs is None:
            import boto3

            endpoint = endpoint_url or os.environ.get("OMNIFLOW_AWS_ENDPOINT") or None
            sqs = boto3.session.Session().client("sqs", region_name=self.region, endpoint_url=endpoint)
        self.sqs = sqs
        self.wait_seconds = wait_seconds
        self.lock = lock or threading.Lock()
        self.stage = stage or os.environ.get("OMNIFLOW_STAGE", "local")
        self.timeout_seconds = timeout_seconds
        self._consumers: list[Consumer] | None = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._state = threading.Condition()
        self._busy = 0
        self._batches = 0
        self._tick = threading.Event()  # never set: a pause that a stopped runner does not cut short

    # ---- discovery -----------------------------------------------------------------------
    @property
    def consumers(self) -> list[Consumer]:
        if self._consumers is None:
            self._consumers = self._discover()
        return self._consumers

    def _discover(self) -> list[Consumer]:
        from chalice.app import SQSEventConfig

        consumers = []
        for source in self.app.event_sources:
            if not isinstance(source, SQSEventConfig):
                continue
            name = source.queue or (source.queue_arn or "").rsplit(":", 1)[-1]
            url = self.sqs.get_queue_url(QueueName=name)["QueueUrl"]
            attrs = self.sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["QueueArn", "FifoQueue", "VisibilityTimeout"]
            )["Attributes"]
            consumers.append(
                Consumer(
                    name=source.name,
                    handler=self.app.handler_map[source.name],
                    queue_name=name,
                    queue_url=url,
                    queue_arn=attrs["QueueArn"],
                    batch_size=max(1, int(source.batch_size)),
                    fifo=attrs.get("FifoQueue") == "true",
                    visibility_timeout=int(attrs.get("VisibilityTimeout", "30")),
                    function_name=f"{self.app.app_name}-{self.stage}-{source.name}",
                )
            )
        return consumers

    # ---- one batch -----------------------------------------------------------------------
    def _release_expired(self, consumer: Consumer) -> None:
        """Make failed FIFO records visible again, together, as their timeout runs out.

        SQS then delivers a group's messages oldest first. moto releases timed-out messages one by
        one inside ReceiveMessage while the rest of the group still counts as in flight, and so
        hands out the group's *last* failed message first. Releasing the batch explicitly (visibility
        0) a moment before the timeout ends, and before any receive after that moment, keeps SQS's
        order and its retry timing."""
        if not consumer.to_release or time.monotonic() < consumer.blocked_until:
            return
        handles, consumer.to_release = consumer.to_release, []
        for start in range(0, len(handles), RECEIVE_MAX):
            chunk = handles[start : start + RECEIVE_MAX]
            self.sqs.change_message_visibility_batch(
                QueueUrl=consumer.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0} for i, h in enumerate(chunk)
                ],
            )  # a handle that went stale (message moved on) is simply reported as failed

    def _receive(self, consumer: Consumer, wait: int) -> list[dict[str, Any]]:
        if consumer.fifo:
            self._release_expired(consumer)
        messages: list[dict[str, Any]] = []
        while len(messages) < consumer.batch_size:
            resp = self.sqs.receive_message(
                QueueUrl=consumer.queue_url,
                MaxNumberOfMessages=min(RECEIVE_MAX, consumer.batch_size - len(messages)),
                WaitTimeSeconds=wait if not messages else 0,
                AttributeNames=["All"],
                MessageSystemAttributeNames=["All"],
                MessageAttributeNames=["All"],
            )
            got = resp.get("Messages") or []
            messages.extend(got)
            if len(got) < RECEIVE_MAX:
                break
        return messages

    def poll_once(self, consumer: Consumer, *, wait: int = 0) -> BatchResult:
        """Receive one batch, invoke the function, delete what succeeded."""
        received_at = time.monotonic()
        messages = self._receive(consumer, wait)
        if not messages:
            return BatchResult(0, [])
        consumer.received_at = received_at
        with self._state:
            self._busy += 1
        try:
            return self._invoke(consumer, messages)
        finally:
            with self._state:
                self._batches += 1
                self._busy -= 1
                self._state.notify_all()

    def _invoke(self, consumer: Consumer, messages: list[dict[str, Any]]) -> BatchResult:
        ids = [m["MessageId"] for m in messages]
        event = {
            "Records": [lambda_record(m, queue_arn=consumer.queue_arn, region=self.region) for m in messages]
        }
        context = LambdaContext(consumer.function_name, timeout_seconds=self.timeout_seconds)
        try:
            with self.lock:
                result = consumer.handler(event, context)
        except Exception:  # noqa: BLE001 — a crashed invocation fails the whole batch, as in Lambda
            log.error("%s failed on %d record(s):\n%s", consumer.name, len(ids), traceback.format_exc())
            failed = list(ids)
        else:
            failed = failed_ids(result, ids)
        done = [m for m in messages if m["MessageId"] not in failed]
        for start in range(0, len(done), RECEIVE_MAX):
            chunk = done[start : start + RECEIVE_MAX]
            resp = self.sqs.delete_message_batch(
                QueueUrl=consumer.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
            for err in resp.get("Failed") or []:
                log.warning("%s: could not delete a processed message: %s", consumer.name, err.get("Message"))
        if failed:
            log.warning(
                "%s: %d of %d record(s) failed; SQS redelivers them", consumer.name, len(failed), len(ids)
            )
            if consumer.fifo:
                # just before SQS would make them visible again (see _release_expired)
                consumer.blocked_until = consumer.received_at + consumer.visibility_timeout - RELEASE_MARGIN
                consumer.to_release.extend(m["ReceiptHandle"] for m in messages if m["MessageId"] in failed)
        return BatchResult(len(messages), failed)

    # ---- background pollers --------------------------------------------------------------
    def start(self) -> SqsRunner:
        self._stop.clear()
        for consumer in self.consumers:
            thread = threading.Thread(
                target=self._poller, args=(consumer,), name=f"sqs-{consumer.name}", daemon=True
            )
            thread.start()
            self._threads.append(thread)
        return self

    def _poller(self, consumer: Consumer) -> None:
        while not self._stop.is_set():
            # moto's long poll spins while a FIFO queue has visible messages whose group is
            # blocked by an in-flight one (ours, failed, awaiting its visibility timeout); short-poll
            # with a pause until that timeout has passed instead of burning a core.
            blocked = consumer.fifo and time.monotonic() < consumer.blocked_until
            try:
                result = self.poll_once(consumer, wait=0 if blocked else self.wait_seconds)
            except Exception:
                if not self._stop.is_set():
                    log.exception("%s: polling failed", consumer.name)
                self._stop.wait(1.0)
                continue
            if blocked and not result.received:
                self._stop.wait(FIFO_BLOCKED_BACKOFF)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop polling; waits for in-flight batches (a long poll ends within ``wait_seconds``)."""
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads = [t for t in self._threads if t.is_alive()]

    def __enter__(self) -> SqsRunner:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # ---- draining ------------------------------------------------------------------------
    def queue_depths(self, consumers: Iterable[Consumer] | None = None) -> dict[str, int]:
        """Messages per consumer queue: visible + in flight + delayed."""
        names = [
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        ]
        out = {}
        for c in consumers or self.consumers:
            attrs = self.sqs.get_queue_attributes(QueueUrl=c.queue_url, AttributeNames=names)["Attributes"]
            out[c.queue_name] = sum(int(attrs.get(n, "0")) for n in names)
        return out

    def drain(self, timeout: float = 30.0, *, interval: float = 0.05) -> None:
        """Process until every consumer queue is empty (failed messages included: they are
        retried until SQS parks them in the DLQ). Runs the pollers inline unless ``start()`` was
        called, in which case it waits for them. Raises TimeoutError with the depths left.

        "Empty" must be seen twice in a row: SQS's counts are approximate, and moto computes the
        visible and in-flight counts at two instants, so a message turning visible in between is
        counted in neither."""
        deadline = time.monotonic() + timeout
        running = any(t.is_alive() for t in self._threads)
        empty_in_a_row = 0
        while True:
            if running:
                with self._state:
                    batches, idle = self._batches, self._busy == 0
                depths = self.queue_depths()
                with self._state:
                    settled = idle and self._busy == 0 and self._batches == batches
                empty = settled and not any(depths.values())
            else:
                if sum(self.poll_once(c).received for c in self.consumers):
                    empty_in_a_row = 0
                    continue
                depths = self.queue_depths()
                empty = not any(depths.values())
            empty_in_a_row = empty_in_a_row + 1 if empty else 0
            if empty_in_a_row >= 2:
                return
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"queues not drained after {timeout:.0f}s: {depths}")
            self._tick.wait(min(interval, remaining))
