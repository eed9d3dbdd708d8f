"""A webhook receiver played by a thread (``http.server``) and a clock that moves both the
delivery code's time and moto's SQS delays, so a retry schedule of hours runs in a test at once."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import boto3
import pytest


@dataclass
class Receiver:
    """Answers ``fail_status`` to the first ``fail_first`` requests (``down``: to all), then 204;
    ``requests`` records each one (headers, body, the status it got)."""

    url: str = ""
    fail_first: int = 0
    fail_status: int = 500
    down: bool = False
    requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def accepted(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["answered"] < 300]


@pytest.fixture(name="receiver")
def receiver_fixture(monkeypatch: pytest.MonkeyPatch) -> Iterator[Receiver]:
    state = Receiver()
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
            with lock:
                failing = state.down or len(state.requests) < state.fail_first
                status = state.fail_status if failing else 204
                state.requests.append(
                    {"headers": dict(self.headers.items()), "body": body, "answered": status}
                )
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    monkeypatch.setenv("OMNIFLOW_WEBHOOKS_ALLOW_LOOPBACK", "1")
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


@dataclass
class Clock:
    offset: float = 0.0

    def advance(self, seconds: float) -> None:
        self.offset += seconds


@pytest.fixture(name="clock")
def clock_fixture(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Moves ``chalicelib.webhooks.delivery.now`` and moto's SQS delay clock together."""
    from moto.sqs import models as sqs_models

    from chalicelib.webhooks import delivery

    c = Clock()
    real_millis = sqs_models.unix_time_millis
    monkeypatch.setattr(delivery, "now", lambda: time.time() + c.offset)
    monkeypatch.setattr(sqs_models, "unix_time_millis", lambda *a: real_millis(*a) + c.offset * 1000)
    return c


def pump(queue_url: str, clock: Clock, *, max_rounds: int = 1000) -> list[str]:
    """Run the webhooks queue's consumer until the queue is empty, moving the clock forward by the
    SQS delay limit whenever only delayed messages are left; returns each delivery's outcome."""
    from chalicelib.webhooks import delivery

    sqs = boto3.client("sqs")
    outcomes: list[str] = []
    for _ in range(max_rounds):
        batch = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
        for message in batch:
            outcomes.append(delivery.deliver(json.loads(message["Body"])))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        if batch:
            continue
        attrs = sqs.get_queue_attributes(
            QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessagesDelayed"]
        )
        if attrs["Attributes"]["ApproximateNumberOfMessagesDelayed"] == "0":
            return outcomes
        clock.advance(delivery.MAX_DELAY)
    raise AssertionError(f"the webhooks queue did not settle: {outcomes[-10:]}")
