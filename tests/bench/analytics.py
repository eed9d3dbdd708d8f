"""Section "analytics": the overview for 1 day and for 90 days, at 1x and 10x the traffic.

Traffic is counted with the aggregator's own additions (``analytics.aggregator.additions``, merged
per bucket item by ``analytics.backfill``: the same buckets as the live consumer writes, without a
transaction per fact) into two groups of the same shape, one with ten times the events of the
other; the overview of each group is then asked for one day and for 90 days. Targets: DynamoDB
requests and read units the same at 1x and 10x (flat in traffic: a report reads buckets, not
conversations), p95 <= 200 ms warm (moto in-process: an upper bound of the work done, not
DynamoDB's latency).
"""

from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.bench.report import Summary, heading, table, verdict
from tests.support.ddbcount import DynamoCounter

DAYS = 90
PER_DAY = 4  # conversations per day per group at 1x (each: open, message in, reply, close)
EVERY = 1  # traffic on every day of the 90
WARM_RUNS = 20


def _seed(group: str, per_day: int, end: datetime) -> None:
    from chalicelib.analytics import backfill
    from chalicelib.events import Activity

    facts: list[Activity] = []
    for d in range(0, DAYS, EVERY):
        day = end - timedelta(days=d + 1)
        for i in range(per_day):
            # within two hours a day and without an agent dimension: fewer bucket items to seed in
            # moto; the overview reads the group's day items, whatever the hours inside them
            t0 = day + timedelta(hours=9, minutes=(i * 7) % 50)
            dims = {"channel": ("line", "wechat", "web")[i % 3], "group": group, "priority": "normal"}
            cid = f"{group}-{d}-{i}"

            def iso(t: datetime) -> str:
                return t.isoformat(timespec="milliseconds").replace("+00:00", "Z")

            for event in (
                Activity(f"open#{cid}", "conversation_opened", iso(t0), dims),
                Activity(f"msg#{cid}#0", "message_in", iso(t0), dims),
                Activity(
                    f"msg#{cid}#1",
                    "message_out",
                    iso(t0 + timedelta(seconds=20 + i % 90)),
                    dims,
                    {"first_response": 20 + i % 90},
                    {"sla_met": i % 7 != 0},
                ),
                Activity(
                    f"close#{cid}",
                    "conversation_closed",
                    iso(t0 + timedelta(minutes=10 + i % 50)),
                    dims,
                    {"resolution": (10 + i % 50) * 60},
                ),
            ):
                facts.append(event)
    backfill.backfill(f"bench-{group}", facts)


def run(summary: Summary) -> dict[str, Any]:
    from chalicelib import aws
    from chalicelib.analytics import reports

    print(heading("Analytics: overview cost, flat in traffic"))
    end = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    started = time.perf_counter()
    _seed("bench1x", PER_DAY, end)
    _seed("bench10x", PER_DAY * 10, end)
    seeded = time.perf_counter() - started
    print(
        f"  seeded {DAYS} days with {PER_DAY} and {PER_DAY * 10} conversations/day per group "
        f"in {seeded:.0f} s"
    )
    units = {"n": 0.0}

    def count_units(parsed: dict[str, Any], **_: Any) -> None:
        units["n"] += float((parsed.get("ConsumedCapacity") or {}).get("CapacityUnits") or 0)

    client = aws.client("dynamodb")
    client.meta.events.register("after-call.dynamodb.Query", count_units)
    counter = DynamoCounter()
    counter.install()
    rows: list[list[Any]] = []
    out: dict[str, Any] = {}
    try:
        for span_name, days in (("1 day", 1), ("90 days", DAYS)):
            for group in ("bench1x", "bench10x"):
                start = end - timedelta(days=days)
                reports.overview(start, end, group=group)  # warm
                units["n"] = 0.0
                with counter.window() as tally:
                    report = reports.overview(start, end, group=group)
                requests, read_units = tally.total, units["n"]
                ms = []
                for _ in range(WARM_RUNS):
                    t = time.perf_counter()
                    reports.overview(start, end, group=group)
                    ms.append((time.perf_counter() - t) * 1000)
                p95 = statistics.quantiles(ms, n=20)[-1]
                rows.append(
                    [
                        span_name,
                        group,
                        report["conversations"]["total"],
                        requests,
                        tally.distinct,
                        f"{read_units:g}",
                        f"{p95:.1f}",
                        verdict(p95 <= 200),
                    ]
                )
                out[f"{span_name} {group}"] = {
                    "conversations": report["conversations"]["total"],
                    "dynamodb_requests": requests,
                    "items_read": tally.distinct,
                    "read_units": read_units,
                    "p95_ms": round(p95, 1),
                }
    finally:
        counter.uninstall()
        client.meta.events.unregister("after-call.dynamodb.Query", count_units)
    print(
        table(
            [
                "range",
                "traffic",
                "conversations",
                "ddb requests",
                "items read",
                "read units",
                "p95 ms",
                "<= 200",
            ],
            rows,
            right=(2, 3, 4, 5, 6),
        )
    )
    for span_name in ("1 day", "90 days"):
        a, b = out[f"{span_name} bench1x"], out[f"{span_name} bench10x"]
        flat = a["dynamodb_requests"] == b["dynamodb_requests"] and a["items_read"] == b["items_read"]
        summary.add(
            f"analytics overview {span_name}: requests flat in traffic",
            flat,
            f"{a['dynamodb_requests']} -> {b['dynamodb_requests']} requests, "
            f"{a['items_read']} -> {b['items_read']} items, "
            f"{a['read_units']:g} -> {b['read_units']:g} read units at 1x -> 10x (equal)",
        )
        summary.add(
            f"analytics overview {span_name}: p95 warm", b["p95_ms"] <= 200, f"{b['p95_ms']} ms (<= 200)"
        )
    return out
