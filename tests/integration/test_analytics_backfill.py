"""A backfill (chalicelib/analytics/backfill.py) counts history exactly as the live path would: the
demo's facts for two days counted one by one (``aggregator.record``) and counted in bulk give the
same reports (overview per dimension, hourly series); the bulk write puts 25 bucket items a request
instead of one transaction per fact, adds to items live facts made (never overwrites them), and
the same import twice counts nothing more."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import boto3

from chalicelib.analytics import aggregator, backfill, reports
from chalicelib.events import Activity
from infra.local.demo import history
from tests.support.ddbcount import DynamoCounter


def snapshot(days: list[datetime]) -> list[Any]:
    start, end = days[0], days[-1] + timedelta(days=1)
    out: list[Any] = []
    for f in ({}, {"group": "presales"}, {"agent": "agent2"}, {"channel": "wechat"}):
        out.append(reports.overview(start, end, **f))
        for d in days:
            out.append(reports.overview(d, d + timedelta(days=1), **f))
    for metric in (
        "conversations",
        "messages_out",
        "first_response_p90_s",
        "sla_breached",
        "resolution_p50_s",
    ):
        out.append(reports.timeseries(metric, "hour", start, end, by="channel"))
    return out


def empty_the_table() -> None:
    ddb = boto3.client("dynamodb")
    name = aggregator.table()
    for page in ddb.get_paginator("scan").paginate(
        TableName=name,
        ProjectionExpression="#s, #b",
        ExpressionAttributeNames={"#s": "scope", "#b": "bucket"},
    ):
        for item in page["Items"]:
            ddb.delete_item(TableName=name, Key=item)


def backfilled(facts: list[Any], import_id: str) -> tuple[int, Any]:
    counter = DynamoCounter()
    counter.install()
    try:
        with counter.window() as tally:
            written = backfill.backfill(import_id, facts)
    finally:
        counter.uninstall()
    return written, tally


def test_a_backfill_gives_the_reports_of_counting_fact_by_fact(aws: dict[str, str]) -> None:
    now = datetime.now(UTC)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    days = [today - timedelta(days=2), today - timedelta(days=1)]
    facts = list(history.facts(now, days=2))[:30]  # moto copies the table per transaction: keep it small
    for fact in facts:
        aggregator.record(fact)
    one_by_one = snapshot(days)
    assert one_by_one[0]["messages_in"]["total"] == sum(f.kind == "message_in" for f in facts) > 5

    empty_the_table()
    written, tally = backfilled(facts, "test-history")
    assert snapshot(days) == one_by_one
    assert written == len(backfill.merge(facts))  # every item new: put whole, 25 a request
    assert tally.requests["BatchWriteItem"] == -(-written // 25) and tally.requests["UpdateItem"] == 0
    assert tally.requests["TransactWriteItems"] == 0


def test_two_days_of_history_in_bulk_count_what_the_facts_say_once_beside_live_facts(
    aws: dict[str, str],
) -> None:
    now = datetime.now(UTC)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    facts = list(history.facts(now, days=2))
    live = [Activity(f"live#{i}", "message_in", f.at, f.dims) for i, f in enumerate(facts[:3])]
    for fact in live:  # counted before the import, in buckets the import also adds to
        aggregator.record(fact)
    written, tally = backfilled(facts, "test-history")
    items = len(backfill.merge(facts))
    assert written == items and tally.total < items / 5  # ~140 requests for the demo's 2,700 items
    assert tally.requests["UpdateItem"] > 0  # the live facts' items: added to, not overwritten
    r = reports.overview(today - timedelta(days=2), today)
    kinds = {k: sum(f.kind == k for f in facts) for k in ("conversation_opened", "message_in", "message_out")}
    assert r["conversations"]["total"] == kinds["conversation_opened"]
    assert r["messages_in"]["total"] == kinds["message_in"] + len(live)
    assert r["messages_out"]["total"] == kinds["message_out"]
    firsts = sorted(f.seconds["first_response"] for f in facts if "first_response" in f.seconds)
    assert r["first_response"]["count"] == len(firsts)
    assert r["sla"]["first_response_met"] == sum(f.flags.get("sla_met") is True for f in facts)
    wechat = reports.overview(today - timedelta(days=2), today, channel="wechat")
    assert wechat["messages_in"]["total"] == sum(
        f.kind == "message_in" and f.dims["channel"] == "wechat" for f in facts + live
    )

    assert backfill.backfill("test-history", facts) == 0  # imported before: nothing counted twice
    assert reports.overview(today - timedelta(days=2), today) == r


def test_the_forecast_route_plans_next_week_from_the_hour_buckets(api: Any) -> None:
    import json

    now = datetime.now(UTC)
    facts = list(history.facts(now, days=7))
    backfill.backfill("test-forecast", facts)
    supervisor = api("supervisor")
    r = supervisor.get("/reports/forecast?weeks=1")
    assert r.status_code == 200, r.body
    plan = json.loads(r.body)
    assert len(plan["slots"]) == 336 and plan["from"].endswith("T00:00:00Z")
    assert datetime.fromisoformat(plan["from"].replace("Z", "+00:00")).weekday() == 0
    opened = sum(f.kind == "conversation_opened" for f in facts)
    assert abs(sum(s["volume"] for s in plan["slots"]) - opened) < 2  # the one week, per half hour
    assert plan["handle_measured"] and plan["handle_s"] > 0
    assert max(s["agents"] for s in plan["slots"]) >= 1 and min(s["agents"] for s in plan["slots"]) == 0
    presales = json.loads(supervisor.get("/reports/forecast?weeks=1&group=presales").body)
    assert 0 < sum(s["volume"] for s in presales["slots"]) < sum(s["volume"] for s in plan["slots"])
    assert supervisor.get("/reports/forecast?weeks=0").status_code == 400
    assert supervisor.get("/reports/forecast?weeks=x").status_code == 400
    assert api("agent1").get("/reports/forecast").status_code == 403
