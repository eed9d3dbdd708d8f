"""Where counting leaves the request and message path: the ``events.Activity`` subscriber only
collects the fact, and the facts of one invocation (an API request, a router batch, a queue
batch) leave together as one SQS message on the analytics queue when the invocation ends
(``app.py``'s middleware opens :func:`batched`). The ``count_activity`` consumer
(``aggregator.handle_batch``) counts them, idempotent per event id.

Outside an invocation (a script, a test calling a service) a fact is sent at once. A batch that
cannot be sent is logged with its size and event ids (no PII): the request or message it came
from has succeeded and answers as such.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

from chalicelib import aws
from chalicelib.events import Activity
from chalicelib.observability import logger

MAX_BODY = 200_000  # bytes per SQS message (SQS takes 256 KiB); a fact is about 250
_pending: ContextVar[list[Activity] | None] = ContextVar("analytics_pending", default=None)


def encode(event: Activity) -> dict[str, Any]:
    return {
        "event_id": event.event_id,
        "kind": event.kind,
        "at": event.at,
        "dims": dict(event.dims),
        "seconds": dict(event.seconds),
        "flags": dict(event.flags),
        "values": dict(event.values),
    }


def decode(data: dict[str, Any]) -> Activity:
    return Activity(
        str(data["event_id"]),
        str(data["kind"]),
        str(data["at"]),
        {str(k): str(v) for k, v in (data.get("dims") or {}).items()},
        {str(k): int(v) for k, v in (data.get("seconds") or {}).items()},
        {str(k): bool(v) for k, v in (data.get("flags") or {}).items()},
        {str(k): int(v) for k, v in (data.get("values") or {}).items()},
    )


def bodies(events: Sequence[Activity]) -> list[str]:
    """The facts as SQS message bodies (JSON lists), each under ``MAX_BODY`` bytes."""
    out: list[str] = []
    chunk: list[str] = []
    size = 2
    for event in events:
        item = json.dumps(encode(event), ensure_ascii=False, separators=(",", ":"))
        if chunk and size + len(item.encode()) + 1 > MAX_BODY:
            out.append("[" + ",".join(chunk) + "]")
            chunk, size = [], 2
        chunk.append(item)
        size += len(item.encode()) + 1
    if chunk:
        out.append("[" + ",".join(chunk) + "]")
    return out


def send(events: Sequence[Activity]) -> None:
    """Put the facts on the analytics queue: one SendMessage, or SendMessageBatch for many bodies."""
    if not events:
        return
    client, url = aws.client("sqs"), aws.queue_url("analytics")
    parts = bodies(events)
    if len(parts) == 1:
        client.send_message(QueueUrl=url, MessageBody=parts[0])
        return
    for start in range(0, len(parts), 10):
        entries = [{"Id": str(i), "MessageBody": b} for i, b in enumerate(parts[start : start + 10])]
        failed = client.send_message_batch(QueueUrl=url, Entries=entries).get("Failed") or []
        if failed:
            raise RuntimeError(f"{len(failed)} analytics batch entries not sent")


def on_activity(event: Activity) -> None:
    """The ``events.Activity`` subscriber: collect within an invocation, else send now."""
    pending = _pending.get()
    if pending is None:
        send([event])
    else:
        pending.append(event)


@contextmanager
def batched() -> Iterator[None]:
    """Collect the facts published inside, and send them together at the end (even if the
    invocation failed: what was published happened, e.g. a message stored before a later step
    failed, and its redelivery will not publish it again)."""
    token = _pending.set([])
    try:
        yield
    finally:
        pending = _pending.get() or []
        _pending.reset(token)
        try:
            send(pending)
        except Exception:  # noqa: BLE001 — the invocation's own outcome stands (module docstring)
            logger.exception(
                "analytics facts not sent",
                extra={"count": len(pending), "event_ids": [e.event_id for e in pending[:50]]},
            )
