"""Section 3: webhook throughput in-process, on moto.

Messages per second through ``pipeline.handle(event)`` for each channel, against a minimal handler
measured in the same run: check an HMAC-SHA256 signature over the body, ``send_message`` to the same
FIFO queue with boto3, answer 202. Same number of messages, all distinct ids; both are timed in
alternating chunks of ``CHUNK`` messages (which side goes first alternates too), so load from
elsewhere on the machine weighs on both alike. The queue is emptied before each chunk, untimed:
moto's SQS does work proportional to the queue's length on every send.

moto's own request handling (parsing, routing, its backends) is most of the time of either side and
costs about the same per AWS call; the ratio therefore mostly says how many AWS calls each message
costs (the pipeline makes three on the steady path: idempotency put, SQS send, idempotency update,
against the minimal handler's one). To separate the two, the time inside moto's botocore stub is
clocked too: what remains per message is the client side (our code, powertools, botocore's
serialising and signing, the channel's crypto: AES for WeChat, RSA for e-mail).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import json
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import boto3

from tests.bench.deliveries import Deliveries
from tests.bench.env import REGION, Stack
from tests.bench.report import Summary, heading, table, verdict
from tests.support.events import http_event

RATIO_TARGET = 0.8  # issue 19: the lean path keeps the webhook within 0.8 of a minimal handler
WARM_UP = 5
CHUNK = 25  # messages per timed chunk; the queue is emptied before each
SENDERS = 20
_MINIMAL_SECRET = b"omniflow-bench-minimal-secret"

Handler = Callable[[dict[str, Any]], dict[str, Any]]


def minimal_handler(stack: Stack) -> Handler:
    """The least a webhook can do: verify an HMAC signature, send the body to SQS, answer."""
    sqs = boto3.session.Session(region_name=REGION).client("sqs")
    queue_url = stack.env["OMNIFLOW_INBOUND_QUEUE_URL"]

    def handle(event: dict[str, Any]) -> dict[str, Any]:
        body = event["body"].encode()
        expected = hmac.new(_MINIMAL_SECRET, body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, event["headers"].get("x-signature", "")):
            return {"statusCode": 403, "body": ""}
        sqs.send_message(
            QueueUrl=queue_url,
            MessageBody=event["body"],
            MessageGroupId=event["headers"]["x-sender"],
            MessageDeduplicationId=hashlib.sha256(body).hexdigest(),
        )
        return {"statusCode": 202, "body": ""}

    return handle


def minimal_event(sender: str, message_id: str) -> dict[str, Any]:
    body = json.dumps({"text": "Is the serum good for sensitive skin?", "client_message_id": message_id})
    signature = hmac.new(_MINIMAL_SECRET, body.encode(), hashlib.sha256).hexdigest()
    headers = {"content-type": "application/json", "x-signature": signature, "x-sender": sender}
    return http_event("POST", "/webhooks/minimal", body=body, headers=headers)


@dataclass
class Side:
    """One handler's totals over the timed chunks."""

    seconds: float = 0.0
    moto_seconds: float = 0.0  # of which inside moto (request dispatch and its backends)
    aws_calls: int = 0  # requests that reached moto

    def add(self, timing: Timing) -> None:
        self.seconds += timing.seconds
        self.moto_seconds += timing.moto_seconds
        self.aws_calls += timing.aws_calls

    def rate(self, messages: int) -> float:
        return messages / self.seconds if self.seconds else 0.0

    def own_ms(self, messages: int) -> float:
        """Milliseconds per message outside moto: our code, powertools, botocore's client side."""
        return (self.seconds - self.moto_seconds) * 1000 / messages if messages else 0.0


@dataclass
class Run:
    channel: str
    messages: int
    pipeline: Side = field(default_factory=Side)
    minimal: Side = field(default_factory=Side)
    refused: int = 0
    error: str | None = None

    @property
    def ratio(self) -> float | None:
        theirs = self.minimal.rate(self.messages)
        return self.pipeline.rate(self.messages) / theirs if theirs else None


@dataclass
class Timing:
    seconds: float = 0.0
    moto_seconds: float = 0.0
    aws_calls: int = 0
    refused: int = 0


@contextlib.contextmanager
def _moto_clock(timing: Timing) -> Iterator[None]:
    """Time spent inside moto: its botocore stub (``before-send``) answers every request."""
    from moto.core.botocore_stubber import BotocoreStubber

    original = BotocoreStubber.__call__

    def timed_call(stub: BotocoreStubber, *args: Any, **kwargs: Any) -> Any:
        start = time.perf_counter()
        try:
            return original(stub, *args, **kwargs)
        finally:
            timing.moto_seconds += time.perf_counter() - start
            timing.aws_calls += 1

    BotocoreStubber.__call__ = timed_call  # type: ignore[method-assign,assignment]
    try:
        yield
    finally:
        BotocoreStubber.__call__ = original  # type: ignore[method-assign]


def _timed(handler: Handler, events: list[dict[str, Any]]) -> Timing:
    """Handle ``events`` one by one. powertools Metrics prints EMF to stdout when its buffer fills;
    that output is swallowed."""
    timing = Timing()
    with contextlib.redirect_stdout(io.StringIO()), _moto_clock(timing):
        start = time.perf_counter()
        for event in events:
            if handler(event)["statusCode"] >= 300:
                timing.refused += 1
        timing.seconds = time.perf_counter() - start
    return timing


def measure_channel(
    stack: Stack, deliveries: Deliveries, minimal: Handler, messages: int, seq_base: int
) -> Run:
    from chalicelib.channels import pipeline

    run = Run(deliveries.channel, messages)
    sqs = boto3.session.Session(region_name=REGION).client("sqs")
    queue_url = stack.env["OMNIFLOW_INBOUND_QUEUE_URL"]
    tag = uuid.uuid4().hex[:8]
    total = messages + WARM_UP
    ours = [deliveries.event(f"tp-{tag}-{i % SENDERS}", seq_base + i) for i in range(total)]
    theirs = [minimal_event(f"tp-{tag}-{i % SENDERS}", f"{tag}-{i}") for i in range(total)]
    sides: dict[str, tuple[Handler, list[dict[str, Any]]]] = {
        "pipeline": (pipeline.handle, ours),
        "minimal": (minimal, theirs),
    }
    warm = _timed(pipeline.handle, ours[:WARM_UP])
    _timed(minimal, theirs[:WARM_UP])
    if warm.refused:
        run.error = "the pipeline refused the warm-up deliveries"
        return run
    chunks = max(1, messages // CHUNK)
    bounds = [WARM_UP + messages * k // chunks for k in range(chunks + 1)]
    for k in range(chunks):
        for side in ("pipeline", "minimal") if k % 2 == 0 else ("minimal", "pipeline"):
            handler, events = sides[side]
            sqs.purge_queue(QueueUrl=queue_url)  # untimed: keep moto's queue short (see env.py)
            timing = _timed(handler, events[bounds[k] : bounds[k + 1]])
            (run.pipeline if side == "pipeline" else run.minimal).add(timing)
            run.refused += timing.refused
    if run.refused:
        run.error = f"{run.refused} deliveries not answered 2xx"
    return run


def _share(side: Side) -> str:
    return f"{side.moto_seconds / side.seconds:.0%}" if side.seconds else "-"


def run(
    stack: Stack, builders: dict[str, Deliveries], messages: int, seq_base: int, summary: Summary
) -> dict[str, Any]:
    print(heading(f"3. Webhook throughput in-process on moto ({messages} messages per side)"))
    minimal = minimal_handler(stack)
    runs: list[Run] = []
    for d in builders.values():
        try:
            runs.append(measure_channel(stack, d, minimal, messages, seq_base))
        except Exception as exc:  # one broken channel must not hide the others' figures
            runs.append(Run(d.channel, messages, error=f"{type(exc).__name__}: {exc}"[:300]))
    rows = []
    out: dict[str, Any] = {"messages": messages, "chunk": CHUNK, "channels": {}}
    n = messages
    for r in runs:
        ok = None if r.error or r.ratio is None else r.ratio >= RATIO_TARGET
        rows.append(
            [
                r.channel,
                f"{r.pipeline.rate(n):.0f}",
                f"{r.minimal.rate(n):.0f}",
                f"{r.ratio:.2f}" if r.ratio else "-",
                f">= {RATIO_TARGET}",
                verdict(ok) if not r.error else "error",
                f"{r.pipeline.aws_calls / n:.1f} / {r.minimal.aws_calls / n:.1f}",
                f"{_share(r.pipeline)} / {_share(r.minimal)}",
                f"{r.pipeline.own_ms(n):.1f} / {r.minimal.own_ms(n):.1f}",
            ]
        )
        out["channels"][r.channel] = {
            "ratio": r.ratio,
            "error": r.error,
        } | {
            side: {
                "msgs_per_s": getattr(r, side).rate(n),
                "seconds": getattr(r, side).seconds,
                "moto_seconds": getattr(r, side).moto_seconds,
                "aws_calls_per_msg": getattr(r, side).aws_calls / n,
                "own_ms_per_msg": getattr(r, side).own_ms(n),
            }
            for side in ("pipeline", "minimal")
        }
        summary.add(
            f"throughput {r.channel} vs minimal",
            ok,
            r.error or f"{r.ratio or 0:.2f} (>= {RATIO_TARGET})",
        )
    print(
        table(
            [
                "channel",
                "pipeline msg/s",
                "minimal msg/s",
                "ratio",
                "target",
                "verdict",
                "AWS calls/msg",
                "in moto",
                "ms/msg outside moto",
            ],
            rows,
            right=(1, 2, 3),
        )
    )
    print("  minimal = HMAC check + one boto3 send_message to the same queue; pairs are pipeline / minimal.")
    print("  moto's request handling is most of both sides' time and costs about the same per AWS call, so")
    print("  the ratio mostly counts AWS calls per message; 'ms/msg outside moto' is the client-side work.")
    for r in runs:
        if r.error:
            print(f"  {r.channel}: {r.error}")
    return out
