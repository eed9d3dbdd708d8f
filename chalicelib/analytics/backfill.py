"""Counting history in bulk: facts of the past (the demo's 30 days, a previous helpdesk's export)
counted with the aggregator's own rules, merged per bucket before they are written.

The live path counts one fact per transaction with its marker (``aggregator.record``): right for
facts that arrive one by one and may be redelivered, slow for thousands of old facts at once
(each transaction is a round trip; moto even copies the whole table for each). A backfill instead
adds up ``aggregator.additions`` of every fact per bucket item (scope, bucket) and writes each item
once: new items 25 to a BatchWriteItem, items already there (live facts of the same hour) with an
UpdateItem ``ADD`` that keeps their counts (see ``backfill``). A bucket whose keep has already run
out (a minute bucket older than 48 h) is not written. The demo's 30 days (4,500 facts, 2,700
bucket items) are about 140 requests.

Exactly once per import, not per fact: a marker ``import#<import_id>`` is put first, conditional on
not existing, so running the same import twice counts nothing the second time. The facts of a
backfill must not also arrive on the live path (they carry no per-fact marker).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from chalicelib import aws
from chalicelib.analytics import aggregator, buckets
from chalicelib.events import Activity

PER_WRITE = 40  # attributes per UpdateItem: its expression stays far below DynamoDB's 4 KB


def merge(facts: Iterable[Activity], now: float | None = None) -> dict[tuple[str, str], dict[str, Any]]:
    """``{(scope, bucket): {"adds": {attribute: n}, "expires": ttl | None}}`` for ``facts``: what
    ``aggregator.record`` would have added, one fact at a time, summed per bucket item."""
    now = time.time() if now is None else now
    out: dict[tuple[str, str], dict[str, Any]] = {}
    for fact in facts:
        adds = aggregator.additions(fact)
        if not adds:
            continue
        at = buckets.parse(fact.at)
        for grain in buckets.GRAINS:
            expires = buckets.expires_at(at, grain)
            if expires is not None and expires <= now:
                continue  # past its keep: the live path's item would be gone already
            for dim in aggregator.dimensions(fact.dims):
                item = out.setdefault(
                    (buckets.scope(grain, dim), buckets.key(at, grain)), {"adds": {}, "expires": expires}
                )
                for name, n in adds.items():
                    item["adds"][name] = item["adds"].get(name, 0) + n
    return out


def _existing(client: Any, keys: list[tuple[str, str]]) -> set[tuple[str, str]]:
    """Which of ``keys`` are items already (BatchGetItem, 100 keys a call, keys only)."""
    found: set[tuple[str, str]] = set()
    for i in range(0, len(keys), 100):
        request: dict[str, Any] = {
            aggregator.table(): {
                "Keys": [{"scope": {"S": sc}, "bucket": {"S": b}} for sc, b in keys[i : i + 100]],
                "ProjectionExpression": "#s, #b",
                "ExpressionAttributeNames": {"#s": "scope", "#b": "bucket"},
            }
        }
        while request:
            answer = client.batch_get_item(RequestItems=request)
            for item in answer.get("Responses", {}).get(aggregator.table(), []):
                found.add((item["scope"]["S"], item["bucket"]["S"]))
            request = answer.get("UnprocessedKeys") or {}
    return found


def _put_all(client: Any, items: list[dict[str, Any]]) -> None:
    """BatchWriteItem, 25 puts a call, unprocessed ones again."""
    for i in range(0, len(items), 25):
        request: dict[str, Any] = {
            aggregator.table(): [{"PutRequest": {"Item": it}} for it in items[i : i + 25]]
        }
        while request:
            request = client.batch_write_item(RequestItems=request).get("UnprocessedItems") or {}


def backfill(import_id: str, facts: Iterable[Activity]) -> int:
    """Count ``facts`` once for ``import_id``; returns the bucket items written (0: imported
    before). A bucket item that does not exist yet is put whole (BatchWriteItem, 25 a call); one
    that exists (live facts of the same hour) gets an UpdateItem ``ADD``, ``PER_WRITE`` attributes
    at a time, so its counts are kept. Run it while no live fact lands in a bucket it creates (the
    demo: before the stack's queue pollers start), or that fact's count is overwritten."""
    client = aws.client("dynamodb")
    try:
        client.put_item(
            TableName=aggregator.table(),
            Item={"scope": {"S": f"import#{import_id}"}, "bucket": {"S": "-"}},
            ConditionExpression="attribute_not_exists(#s)",
            ExpressionAttributeNames={"#s": "scope"},
        )
    except client.exceptions.ConditionalCheckFailedException:
        return 0
    merged = merge(facts)
    existing = _existing(client, list(merged))
    puts = []
    for (scope, bucket), item in merged.items():
        if (scope, bucket) in existing:
            continue
        put: dict[str, Any] = {"scope": {"S": scope}, "bucket": {"S": bucket}}
        put.update({name: {"N": str(n)} for name, n in item["adds"].items()})
        if item["expires"] is not None:
            put["expires_at"] = {"N": str(item["expires"])}
        puts.append(put)
    _put_all(client, puts)
    updates = [
        (scope, bucket, dict(names[i : i + PER_WRITE]), merged[(scope, bucket)]["expires"])
        for scope, bucket in sorted(existing)
        for names in [sorted(merged[(scope, bucket)]["adds"].items())]
        for i in range(0, len(names), PER_WRITE)
    ]

    for entry in updates:  # one at a time: few, and parts of one item must not race
        client.update_item(**aggregator._update(*entry)["Update"])
    return len(merged)
