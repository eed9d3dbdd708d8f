"""Analytics: a scripted day counted as it happens (redelivered and out-of-order events included)
equals the figures computed by hand; real messages appear per channel; the report reads buckets
only, as many requests for 10x the traffic; the API's roles, ranges and CSV."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from chalicelib import events
from chalicelib.analytics import aggregator, reports
from chalicelib.events import Activity
from tests.support.analytics import count_pending, pending_bodies
from tests.support.ddbcount import DynamoCounter

DAY = "2026-12-01"


def at(hms: str, day: str = DAY) -> str:
    return f"{day}T{hms}.000Z"


def t(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=UTC)


def dims(channel: str, group: str, priority: str, agent: str | None = None) -> dict[str, str]:
    d = {"channel": channel, "group": group, "priority": priority}
    return d | ({"agent": agent} if agent else {})


# The day, by hand:
#  A  line    presales   normal  opened 09:00:00, in 09:00:00 + 09:02:00, agent1 answers 09:00:42 (42 s,
#     in time), out again 09:03:00, closed 09:30:00 (1800 s)
#  B  wechat  aftersales high    opened 10:15:00, in 10:15:00, agent2 answers 10:20:05 (305 s, late),
#     closed 13:15:00 (10800 s)
#  C  line    presales   urgent  opened 23:58:00, in 23:58:00, agent1 answers 23:59:59 (119 s, in time)
#     — published before C's opening (out of order)
#  A's second message and B's close are delivered twice; D (sms) is the next day and outside the range.
SCRIPT = [
    Activity("open#A", "conversation_opened", at("09:00:00"), dims("line", "presales", "normal")),
    Activity("msg#A#0", "message_in", at("09:00:00"), dims("line", "presales", "normal")),
    Activity(
        "msg#A#1",
        "message_out",
        at("09:00:42"),
        dims("line", "presales", "normal", "agent1"),
        {"first_response": 42},
        {"sla_met": True},
    ),
    Activity("msg#A#2", "message_in", at("09:02:00"), dims("line", "presales", "normal", "agent1")),
    Activity("msg#A#2", "message_in", at("09:02:00"), dims("line", "presales", "normal", "agent1")),
    Activity("msg#A#3", "message_out", at("09:03:00"), dims("line", "presales", "normal", "agent1")),
    Activity(
        "close#A",
        "conversation_closed",
        at("09:30:00"),
        dims("line", "presales", "normal", "agent1"),
        {"resolution": 1800, "handle": 1770},
    ),
    Activity("open#B", "conversation_opened", at("10:15:00"), dims("wechat", "aftersales", "high")),
    Activity("msg#B#0", "message_in", at("10:15:00"), dims("wechat", "aftersales", "high")),
    Activity(
        "msg#B#1",
        "message_out",
        at("10:20:05"),
        dims("wechat", "aftersales", "high", "agent2"),
        {"first_response": 305},
        {"sla_met": False},
    ),
    Activity(
        "close#B",
        "conversation_closed",
        at("13:15:00"),
        dims("wechat", "aftersales", "high", "agent2"),
        {"resolution": 10800, "handle": 10730},
    ),
    Activity(
        "close#B",
        "conversation_closed",
        at("13:15:00"),
        dims("wechat", "aftersales", "high", "agent2"),
        {"resolution": 10800, "handle": 10730},
    ),
    Activity(
        "msg#C#1",
        "message_out",
        at("23:59:59"),
        dims("line", "presales", "urgent", "agent1"),
        {"first_response": 119},
        {"sla_met": True},
    ),
    Activity("open#C", "conversation_opened", at("23:58:00"), dims("line", "presales", "urgent")),
    Activity("msg#C#0", "message_in", at("23:58:00"), dims("line", "presales", "urgent")),
    Activity(
        "open#D", "conversation_opened", at("00:00:30", "2026-12-02"), dims("sms", "presales", "normal")
    ),
    Activity("msg#D#0", "message_in", at("00:00:30", "2026-12-02"), dims("sms", "presales", "normal")),
]


# The rest of the day, by hand: A assigned to agent1 at 09:00:30 (waited 30 s); B to agent2 at
# 10:15:45 (45 s), transferred at 10:16:00, to agent1 at 10:16:10 (10 s in the queue again); B's
# first-response clock breached at 10:20:00; handle times: A 09:00:30-09:30:00 (1770 s), B
# 10:16:10-13:15:00 (10730 s); A reopened at 11:00; CSAT 5 for A, 3 for B (delivered twice); the
# bot held E (resolved), F (handed off) and G (abandoned) on web.
def bot(cid: str, kind: str, hms: str) -> Activity:
    return Activity(f"{kind}#{cid}", kind, at(hms), dims("web", "presales", "normal"))


MORE = [
    Activity(
        "assign#A",
        "conversation_assigned",
        at("09:00:30"),
        dims("line", "presales", "normal", "agent1"),
        {"wait": 30},
    ),
    Activity(
        "assign#B1",
        "conversation_assigned",
        at("10:15:45"),
        dims("wechat", "aftersales", "high", "agent2"),
        {"wait": 45},
    ),
    Activity(
        "transfer#B",
        "conversation_transferred",
        at("10:16:00"),
        dims("wechat", "aftersales", "high", "agent2"),
    ),
    Activity(
        "assign#B2",
        "conversation_assigned",
        at("10:16:10"),
        dims("wechat", "aftersales", "high", "agent1"),
        {"wait": 10},
    ),
    Activity("sla_breached#B", "sla_breached", at("10:20:00"), dims("wechat", "aftersales", "high")),
    Activity(
        "reopen#A", "conversation_reopened", at("11:00:00"), dims("line", "presales", "normal", "agent1")
    ),
    Activity(
        "csat#A", "csat_answered", at("09:40:00"), dims("line", "presales", "normal"), values={"csat": 5}
    ),
    Activity(
        "csat#B", "csat_answered", at("13:20:00"), dims("wechat", "aftersales", "high"), values={"csat": 3}
    ),
    Activity(
        "csat#B", "csat_answered", at("13:20:00"), dims("wechat", "aftersales", "high"), values={"csat": 3}
    ),
    bot("E", "bot_started", "14:00:00"),
    bot("E", "bot_resolved", "14:05:00"),
    bot("F", "bot_started", "15:00:00"),
    bot("F", "bot_handed_off", "15:02:00"),
    bot("G", "bot_started", "16:00:00"),
    bot("G", "bot_abandoned", "16:30:00"),
]


@pytest.fixture
def scripted_day(aws):
    """The script published as the services do; one batch (an invocation's) is delivered twice."""
    from chalicelib.analytics import outbox

    with outbox.batched():
        for event in SCRIPT[:6]:
            events.publish(event)
    (body,) = pending_bodies()
    for _ in range(2):  # SQS delivers at least once: the same batch twice
        aws_sqs_send(body)
    for event in SCRIPT[6:] + MORE:
        events.publish(event)
    count_pending()


def aws_sqs_send(body: str) -> None:
    from chalicelib import aws

    aws.client("sqs").send_message(QueueUrl=aws.queue_url("analytics"), MessageBody=body)


def test_a_scripted_day_equals_the_figures_computed_by_hand(scripted_day):
    r = reports.overview(t(f"{DAY}T00:00"), t("2026-12-02T00:00"))
    assert r["conversations"] == {
        "total": 3,
        "by_channel": {"line": 2, "wechat": 1},
        "by_priority": {"high": 1, "normal": 1, "urgent": 1},
    }
    assert r["messages_in"] == {"total": 4, "by_channel": {"line": 3, "wechat": 1}}
    assert r["messages_out"] == {"total": 4, "by_channel": {"line": 3, "wechat": 1}}
    assert r["resolved"] == {"total": 2, "by_channel": {"line": 1, "wechat": 1}}
    fr = r["first_response"]
    assert (fr["count"], fr["avg_s"], fr["p50_s"]) == (3, round((42 + 305 + 119) / 3, 1), 119)
    assert abs(fr["p90_s"] - 305) <= 305 * 0.01  # above 2 minutes the sketch is within 1 %
    res = r["resolution"]
    assert (res["count"], res["avg_s"]) == (2, 6300.0)
    assert abs(res["p50_s"] - 1800) <= 18 and abs(res["p90_s"] - 10800) <= 108
    assert r["sla"] == {
        "first_response_met": 2,
        "first_response_breached": 1,
        "attainment": round(2 / 3, 4),
        "breaches": 1,
    }
    assert r["assigned"]["total"] == 3 and r["assigned"]["by_channel"] == {"line": 1, "wechat": 2}
    assert (r["wait"]["count"], r["wait"]["p50_s"], r["wait"]["p90_s"], r["wait"]["avg_s"]) == (
        3,
        30,
        45,
        28.3,
    )
    assert (r["handle"]["count"], r["handle"]["avg_s"]) == (2, 6250.0)
    assert r["transfers"] == {"total": 1, "by_channel": {"wechat": 1}, "rate": round(1 / 3, 4)}
    assert r["reopened"] == {"total": 1, "by_channel": {"line": 1}, "rate": 0.5}
    assert r["csat"] == {
        "responses": 2,
        "avg": 4.0,
        "satisfied_rate": 0.5,
        "nps": 0.0,
        "by_score": {"1": 0, "2": 0, "3": 1, "4": 0, "5": 1},
    }
    third = round(1 / 3, 4)
    assert r["bot"] == {
        "conversations": 3,
        "resolved": 1,
        "handed_off": 1,
        "abandoned": 1,
        "taken_over": 0,
        "resolution_rate": third,
        "handoff_rate": third,
        "abandonment_rate": third,
    }


def test_the_scripted_day_filtered_by_group_channel_and_agent(scripted_day):
    day = (t(f"{DAY}T00:00"), t("2026-12-02T00:00"))
    presales = reports.overview(*day, group="presales")
    assert presales["conversations"]["total"] == 2 and presales["messages_in"]["total"] == 3
    assert presales["first_response"]["p50_s"] == 42 and presales["first_response"]["count"] == 2
    wechat = reports.overview(*day, channel="wechat")
    assert wechat["messages_in"] == {"total": 1, "by_channel": {"wechat": 1}}
    assert wechat["sla"]["first_response_breached"] == 1 and wechat["sla"]["first_response_met"] == 0
    agent1 = reports.overview(*day, agent="agent1")
    assert agent1["messages_out"]["total"] == 3 and agent1["resolved"]["total"] == 1
    assert agent1["first_response"]["p50_s"] == 42 and agent1["first_response"]["p90_s"] == 119


def test_ranges_cut_inside_hours_count_only_their_minutes(scripted_day):
    morning = reports.overview(t(f"{DAY}T09:01"), t(f"{DAY}T10:16"))
    assert morning["messages_in"]["total"] == 2  # A's 09:02 and B's 10:15
    assert morning["conversations"]["total"] == 1  # B
    assert reports.overview(t(f"{DAY}T23:59"), t("2026-12-02T00:01"))["messages_in"]["by_channel"] == {
        "sms": 1
    }


def test_timeseries_per_hour_with_a_breakdown_by_channel(scripted_day):
    series = reports.timeseries("messages_in", "hour", t(f"{DAY}T09:00"), t(f"{DAY}T11:00"), by="channel")
    assert series["points"] == [
        {"t": f"{DAY}T09:00:00Z", "value": 2, "by": {"line": 2}},
        {"t": f"{DAY}T10:00:00Z", "value": 1, "by": {"wechat": 1}},
    ]
    daily = reports.timeseries("first_response_p50_s", "day", t(f"{DAY}T00:00"), t("2026-12-03T00:00"))
    assert [p["value"] for p in daily["points"]] == [119, None]


def test_a_redelivered_event_counts_nothing(aws):
    event = Activity("msg#X#0", "message_in", at("08:00:00"), dims("sms", "presales", "normal"))
    assert aggregator.record(event) is True
    assert aggregator.record(event) is False


def test_real_messages_replies_and_closes_are_counted_per_channel(aws):
    from chalicelib.conversations import service as conversations
    from chalicelib.messages import utcnow
    from chalicelib.router import service as router
    from tests.support.factories import inbound

    start = utcnow()
    first = router.store(inbound("line", "U-1", "你好", msg_id="L-1"))
    router.store(inbound("line", "U-1", "在吗", msg_id="L-2"))
    router.store(inbound("line", "U-1", "在吗", msg_id="L-2"), receive_count=2)  # redelivered
    router.store(inbound("telegram", "T-9", "hello"))
    c = first.conversation
    conversations.append_reply(
        c.conversation_id,
        "agent1",
        "在的",
        (c.last_channel, c.last_account, c.last_channel_user_id),
        may_take_over=True,
        mailbox=False,
    )
    conversations.close(c.conversation_id, "agent1")
    from datetime import timedelta

    assert reports.overview(start - timedelta(minutes=1), utcnow() + timedelta(minutes=1))["messages_in"] == {
        "total": 0,
        "by_channel": {},
    }  # nothing counted on the message path
    count_pending()

    r = reports.overview(start - timedelta(minutes=1), utcnow() + timedelta(minutes=1))
    assert r["conversations"]["by_channel"] == {"line": 1, "telegram": 1}
    assert r["messages_in"] == {"total": 3, "by_channel": {"line": 2, "telegram": 1}}
    assert r["messages_out"] == {"total": 1, "by_channel": {"line": 1}}
    assert r["resolved"]["total"] == 1 and r["first_response"]["count"] == 1


def test_the_overview_costs_the_same_requests_at_ten_times_the_traffic(aws):
    counter = DynamoCounter()
    counter.install()
    try:
        cost = []
        for volume in (1, 10):
            for i in range(volume * 5):
                for hour in ("03", "15"):
                    aggregator.record(
                        Activity(
                            f"v{volume}#{i}#{hour}",
                            "message_in",
                            f"2026-11-{10 + volume}T{hour}:10:00.000Z",
                            dims("line", "presales", "normal"),
                        )
                    )
            with counter.window() as tally:
                day = t(f"2026-11-{10 + volume}T00:00")
                reports.overview(day, t(f"2026-11-{11 + volume}T00:00"))
            cost.append(tally.total)
            assert (
                reports.overview(day, t(f"2026-11-{11 + volume}T00:00"))["messages_in"]["total"]
                == volume * 10
            )
        assert cost[0] == cost[1] == 1  # one Query on the day items
    finally:
        counter.uninstall()


def test_the_api_answers_supervisors_with_json_or_csv_and_refuses_bad_ranges(scripted_day, api):
    sup = api("supervisor")
    ok = sup.get(f"/reports/overview?from={DAY}T00:00:00Z&to=2026-12-02T00:00:00Z&channel=line")
    assert ok.status_code == 200 and ok.json_body["messages_in"] == {"total": 3, "by_channel": {"line": 3}}
    csv = sup.get(f"/reports/overview?from={DAY}T00:00:00Z&to=2026-12-02T00:00:00Z&format=csv")
    assert csv.status_code == 200 and csv.headers["Content-Type"] == "text/csv"
    assert "messages_in.by_channel.wechat,1" in csv.body.decode()
    xlsx = sup.get(
        f"/reports/overview?from={DAY}T00:00:00Z&to=2026-12-02T00:00:00Z&format=xlsx",
        headers={"accept": reports.XLSX},  # API Gateway (and Chalice) send binary only to who asks for it
    )
    assert xlsx.status_code == 200 and xlsx.headers["Content-Type"] == reports.XLSX
    import io

    from openpyxl import load_workbook

    sheet = load_workbook(io.BytesIO(xlsx.body)).active
    cells = {row[0]: row[1] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert cells["messages_in.by_channel.wechat"] == 1 and cells["csat.avg"] == 4.0
    assert sup.get(f"/reports/overview?from={DAY}T10:00:00Z&to={DAY}T09:00:00Z").status_code == 400
    assert sup.get(f"/reports/overview?from={DAY}&to=nonsense").status_code == 400
    both = sup.get(
        f"/reports/overview?from={DAY}T00:00:00Z&to=2026-12-02T00:00:00Z&group=presales&agent=agent1"
    )
    assert both.status_code == 400
    assert (
        api("agent1").get(f"/reports/overview?from={DAY}T00:00:00Z&to=2026-12-02T00:00:00Z").status_code
        == 403
    )
    series = sup.get(
        f"/reports/timeseries?metric=conversations&interval=day&from={DAY}T00:00:00Z&to=2026-12-03T00:00:00Z"
    )
    assert [p["value"] for p in series.json_body["points"]] == [3, 1]
    assert (
        sup.get(f"/reports/timeseries?metric=nope&from={DAY}T00:00:00Z&to=2026-12-03T00:00:00Z").status_code
        == 400
    )


def test_an_invocation_sends_its_facts_as_one_queue_message_and_writes_no_bucket(aws):
    from chalicelib.analytics import outbox

    counter = DynamoCounter()
    counter.install()
    try:
        with counter.window() as tally, outbox.batched():
            for event in SCRIPT[:5]:
                events.publish(event)
        assert tally.total == 0  # no DynamoDB request on the publisher's path
    finally:
        counter.uninstall()
    bodies = pending_bodies()
    assert len(bodies) == 1 and [e.event_id for e in map(outbox.decode, json.loads(bodies[0]))] == [
        e.event_id for e in SCRIPT[:5]
    ]


def test_an_invocations_facts_are_counted_in_one_transaction_and_a_redelivery_fact_by_fact(aws):
    counter = DynamoCounter()
    counter.install()
    try:
        with counter.window() as first:
            assert aggregator.record_many(SCRIPT[:6]) == 5  # msg#A#2 twice in the batch: once
        with counter.window() as again:  # a redelivery: the chunk is refused, then fact by fact
            assert aggregator.record_many(SCRIPT[:7]) == 1  # only close#A is new
    finally:
        counter.uninstall()
    assert first.requests == {"TransactWriteItems": 1}
    # the refused chunk and the five refused facts are not in the tally (it sees answered requests)
    assert again.requests == {"TransactWriteItems": 1}
    r = reports.overview(t(f"{DAY}T00:00"), t("2026-12-02T00:00"))
    assert (r["messages_in"]["total"], r["messages_out"]["total"], r["resolved"]["total"]) == (2, 2, 1)


def test_a_bad_record_fails_alone_and_the_rest_of_the_batch_is_counted(aws):
    from chalicelib.analytics import outbox
    from infra.local.sqs_runner import lambda_record

    good = json.dumps([outbox.encode(SCRIPT[1])])
    bad = json.dumps([{"kind": "message_in"}])  # no event id, no time
    records = [
        lambda_record(
            {"MessageId": mid, "ReceiptHandle": mid, "Body": body},
            queue_arn="arn:aws:sqs:q",
            region="us-east-1",
        )
        for mid, body in (("m-good", good), ("m-bad", bad))
    ]
    assert aggregator.handle_batch({"Records": records}) == {
        "batchItemFailures": [{"itemIdentifier": "m-bad"}]
    }
    r = reports.overview(t(f"{DAY}T00:00"), t("2026-12-02T00:00"))
    assert r["messages_in"]["total"] == 1


def test_large_invocations_split_into_bodies_under_the_sqs_limit(aws):
    from chalicelib.analytics import outbox

    many = [
        Activity(f"msg#big#{i}", "message_in", at("08:00:00"), dims("web", "presales", "normal"))
        for i in range(2000)
    ]
    parts = outbox.bodies(many)
    assert len(parts) > 1 and all(len(p.encode()) <= outbox.MAX_BODY for p in parts)
    assert sum(len(json.loads(p)) for p in parts) == 2000
