"""The aggregator, off the request path: the analytics queue's consumer (``handle_batch``, fed by
``outbox``) counts each ``events.Activity``: it adds into its minute, hour and day buckets, for every
dimension it has (all, its group, its agent), in one DynamoDB transaction with the event's marker
— a redelivered event finds the marker and counts nothing, and a failed write counts nothing, so
a fact is counted exactly once whatever the order or the number of deliveries.

Attributes of a bucket item (all numbers, added with ADD):
``<counter>`` and ``<counter>@channel:<c>`` / ``@priority:<p>`` (conversations, messages_in,
messages_out, resolved, sla_met, sla_breached); ``<duration>_n``, ``<duration>_sum`` and sketch
counts ``<duration>#<i>`` (``chalicelib.analytics.sketch``), also per channel (not per priority).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from chalicelib import aws
from chalicelib.analytics import buckets, sketch
from chalicelib.config import settings
from chalicelib.events import Activity

COUNTERS = {  # Activity.kind -> the counter it adds 1 to (docs/metrics.md)
    "conversation_opened": "conversations",
    "message_in": "messages_in",
    "message_out": "messages_out",
    "conversation_closed": "resolved",
    "conversation_assigned": "assigned",
    "conversation_transferred": "transfers",
    "conversation_reopened": "reopened",
    "sla_breached": "sla_breaches",
    "bot_started": "bot_conversations",
    "bot_resolved": "bot_resolved",
    "bot_handed_off": "bot_handed_off",
    "bot_abandoned": "bot_abandoned",
    "bot_taken_over": "bot_taken_over",
}
DURATIONS = ("first_response", "resolution", "wait", "handle")
SCORES = {"csat": range(1, 6)}  # Activity.values -> <name>_n, <name>_sum and one counter per score
BREAKDOWNS = ("channel", "priority")  # attributes inside each item
DIMENSIONS = ("group", "agent")  # items of their own besides "all"
MARKER_DAYS = 14  # longer than any queue's retention: a redelivery always finds its marker


def table() -> str:
    return settings().table("analytics")


def dimensions(dims: Mapping[str, str]) -> list[str]:
    return ["all", *(f"{d}:{dims[d]}" for d in DIMENSIONS if dims.get(d))]


def additions(event: Activity) -> dict[str, int]:
    """What the event adds to each of its buckets (attribute -> amount)."""
    suffixes = [""] + [f"@{b}:{event.dims[b]}" for b in BREAKDOWNS if event.dims.get(b)]
    out: dict[str, int] = {}

    def add(name: str, n: int = 1) -> None:
        for suffix in suffixes:
            out[name + suffix] = out.get(name + suffix, 0) + n

    counter = COUNTERS.get(event.kind)
    if counter:
        add(counter)
    for name, seconds in event.seconds.items():
        if name in DURATIONS and seconds >= 0:
            add(f"{name}_n")
            add(f"{name}_sum", int(seconds))
            i = sketch.index(seconds)
            # sketches in total and per channel only: they are most of an item's attributes
            # (and of a report's bytes); per priority a duration keeps its count and sum
            out.update({f"{name}{suffix}#{i}": 1 for suffix in suffixes if "@priority:" not in suffix})
    for name, v in event.values.items():
        if name in SCORES and v in SCORES[name]:
            add(f"{name}_n")
            add(f"{name}_sum", int(v))
            add(f"{name}_{int(v)}")
    if "sla_met" in event.flags:
        add("sla_met" if event.flags["sla_met"] else "sla_breached")
    return out


def _update(scope: str, bucket: str, adds: Mapping[str, int], expires: int | None) -> dict[str, Any]:
    names = {f"#a{i}": name for i, name in enumerate(adds)}
    values: dict[str, Any] = {f":a{i}": {"N": str(n)} for i, n in enumerate(adds.values())}
    expression = "ADD " + ", ".join(f"#a{i} :a{i}" for i in range(len(adds)))
    if expires is not None:
        names["#ttl"], values[":ttl"] = "expires_at", {"N": str(expires)}
        expression += " SET #ttl = :ttl"
    return {
        "Update": {
            "TableName": table(),
            "Key": {"scope": {"S": scope}, "bucket": {"S": bucket}},
            "UpdateExpression": expression,
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
    }


def _marker(event: Activity) -> dict[str, Any]:
    return {
        "Put": {
            "TableName": table(),
            "Item": {
                "scope": {"S": f"event#{event.event_id}"},
                "bucket": {"S": "-"},
                "expires_at": {"N": str(int(time.time()) + MARKER_DAYS * 86400)},
            },
            "ConditionExpression": "attribute_not_exists(#s)",
            "ExpressionAttributeNames": {"#s": "scope"},
        }
    }


def _targets(event: Activity) -> list[tuple[str, str, int | None]]:
    """The bucket items (scope, bucket, expiry) the event adds into."""
    at: datetime = buckets.parse(event.at)
    return [
        (buckets.scope(grain, dim), buckets.key(at, grain), buckets.expires_at(at, grain))
        for grain in buckets.GRAINS
        for dim in dimensions(event.dims)
    ]


def _write(events: list[Activity]) -> None:
    """One TransactWriteItems: each event's marker, and the events' additions summed per bucket
    item (a transaction may touch an item once)."""
    merged: dict[tuple[str, str], tuple[dict[str, int], int | None]] = {}
    for event in events:
        adds = additions(event)
        for scope, bucket, expires in _targets(event):
            into = merged.setdefault((scope, bucket), ({}, expires))[0]
            for name, n in adds.items():
                into[name] = into.get(name, 0) + n
    items = [_marker(e) for e in events] + [
        _update(scope, bucket, adds, expires) for (scope, bucket), (adds, expires) in merged.items()
    ]
    aws.client("dynamodb").transact_write_items(TransactItems=items)


def record(event: Activity) -> bool:
    """Count ``event`` once; False if it had been counted already (a redelivery)."""
    if not additions(event):
        return False
    client = aws.client("dynamodb")
    try:
        _write([event])
    except client.exceptions.TransactionCanceledException as exc:
        reasons = exc.response.get("CancellationReasons") or []
        if reasons and reasons[0].get("Code") == "ConditionalCheckFailed":
            return False  # counted before: a redelivery
        raise
    return True


MAX_ITEMS = 100  # TransactWriteItems' limit
PER_TRANSACTION = 10  # facts per transaction: each merged update stays far below the 4 KB expression limit


def record_many(events: list[Activity]) -> int:
    """Count facts once each in as few transactions as possible (an invocation's facts share
    most bucket items: its minute, hour and day of the same group); returns how many were new. A
    chunk with a fact counted before fails as a whole and is counted fact by fact instead."""
    unique = list({e.event_id: e for e in events if additions(e)}.values())
    counted, chunk, items = 0, list[Activity](), set[tuple[str, str]]()
    client = aws.client("dynamodb")

    def flush(chunk: list[Activity]) -> int:
        if not chunk:
            return 0
        try:
            _write(chunk)
        except client.exceptions.TransactionCanceledException as exc:
            codes = [r.get("Code") for r in exc.response.get("CancellationReasons") or []]
            if "ConditionalCheckFailed" not in codes:
                raise
            return sum(record(e) for e in chunk)  # a redelivery inside: one by one
        return len(chunk)

    for event in unique:
        targets = {(s, b) for s, b, _ in _targets(event)}
        if chunk and (len(chunk) >= PER_TRANSACTION or len(chunk) + 1 + len(items | targets) > MAX_ITEMS):
            counted += flush(chunk)
            chunk, items = [], set()
        chunk.append(event)
        items |= targets
    return counted + flush(chunk)


def handle_batch(event: dict[str, Any]) -> dict[str, Any]:
    """The analytics queue's consumer: each record is a JSON list of facts (``outbox.bodies``),
    each counted once (``record_many``: one transaction for up to ten facts); a record with a fact
    that failed is reported as a partial batch failure and comes back, and its facts already
    counted find their markers."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    from chalicelib.analytics import outbox

    def record_handler(record: Any) -> None:
        record_many([outbox.decode(data) for data in json.loads(record.body)])

    return dict(
        process_partial_response(
            event=event, record_handler=record_handler, processor=BatchProcessor(event_type=EventType.SQS)
        )
    )
