"""Counting history in bulk: facts of the past (the demo's 30 days, a previous helpdesk's export)
counted with the aggregator's own rules, merged per bucket before they are written.

The live path counts one fact per transaction with its marker (``aggregator.record``): right for
facts that arrive one by one and may be redelivered, slow for thousands of old facts at once
(each transaction is a round trip; moto even copies the whole table for each). A backfill instead
adds up ``aggregator.additions`` of every fact per bucket item (scope, bucket) and writes each item
once (UpdateItem ``ADD``, so counts already there — live facts of the same hour — are kept). A
bucket whose keep has already run out (a minute bucket older than 48 h) is not written.

Exactly once per import, not per fact: a marker ``import#<import_id>`` is put first, conditional on
not existing, so running the same import twice counts nothing the second time. The facts of a
backfill must not also arrive on the live path (they carry no per-fact marker).
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from chalicelib import aws
from chalicelib.analytics import aggregator, buckets
from chalicelib.events import Activity

WORKERS = 4  # parallel UpdateItem calls


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


def backfill(import_id: str, facts: Iterable[Activity]) -> int:
    """Count ``facts`` once for ``import_id``; returns the bucket items written (0: imported before)."""
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

    def write(entry: tuple[tuple[str, str], dict[str, Any]]) -> None:
        (scope, bucket), item = entry
        update = aggregator._update(scope, bucket, item["adds"], item["expires"])["Update"]  # noqa: SLF001
        client.update_item(**update)

    with ThreadPoolExecutor(WORKERS) as pool:
        list(pool.map(write, merged.items()))
    return len(merged)
