"""Alerts: an admin's threshold over a metric and window, evaluated from the analytics buckets,
fires once (SNS, the supervisors' console feed, the outgoing webhooks' alert.fired), stays quiet
while it holds, resolves once, and both are in the history; the routes check roles and bodies."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from chalicelib import events
from chalicelib.events import Activity
from chalicelib.messages import iso, utcnow
from tests.support.analytics import count_pending


@pytest.fixture
def heard(monkeypatch: pytest.MonkeyPatch) -> list[events.Announced]:
    """What the outgoing webhooks would hear (events.Announced), instead of delivering it."""
    got: list[events.Announced] = []
    monkeypatch.setitem(events._table, events.Announced, (got.append,))
    return got


@pytest.fixture
def topic_inbox(aws: dict[str, str]) -> str:
    """An SQS queue subscribed to the alerts SNS topic."""
    from chalicelib import aws as clients

    sqs, sns = clients.client("sqs"), clients.client("sns")
    url = sqs.create_queue(QueueName="alerts-inbox")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    sns.subscribe(TopicArn=aws["OMNIFLOW_ALERTS_TOPIC_ARN"], Protocol="sqs", Endpoint=arn)
    return url


def _sns_messages(url: str) -> list[dict[str, Any]]:
    from chalicelib import aws as clients

    got = clients.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(json.loads(m["Body"])["Message"]) for m in got]


def test_a_rule_fires_once_stays_quiet_resolves_once_and_is_in_the_history(api, heard, topic_inbox):
    from chalicelib.alerts import service as alerts
    from chalicelib.feed.models import FeedEvent

    admin, supervisor = api("admin"), api("supervisor")
    made = admin.post(
        "/admin/alerts",
        {
            "name": "busy line",
            "metric": "messages_in",
            "op": ">",
            "threshold": 3,
            "window_minutes": 15,
            "channel": "line",
        },
    )
    assert made.status_code == 201, made.body
    rule_id = made.json_body["rule_id"]
    now = utcnow().replace(second=30, microsecond=0)
    for i in range(5):
        events.publish(
            Activity(
                f"msg#alert#{i}",
                "message_in",
                iso(now - timedelta(minutes=5)),
                {"channel": "line", "group": "g"},
            )
        )
    events.publish(Activity("msg#alert#sms", "message_in", iso(now), {"channel": "sms", "group": "g"}))
    count_pending()

    assert alerts.evaluate(now) == {"rules": 1, "fired": 1, "resolved": 0}
    assert alerts.evaluate(now + timedelta(minutes=1)) == {
        "rules": 1,
        "fired": 0,
        "resolved": 0,
    }  # still high
    (rule,) = admin.get("/admin/alerts").json_body["items"]
    assert (rule["state"], rule["value"]) == ("firing", 5)
    assert alerts.evaluate(now + timedelta(minutes=30)) == {"rules": 1, "fired": 0, "resolved": 1}
    assert alerts.evaluate(now + timedelta(minutes=31)) == {"rules": 1, "fired": 0, "resolved": 0}

    sns = _sns_messages(topic_inbox)
    assert [(m["type"], m["rule_id"], m["value"]) for m in sns] == [
        ("alert.fired", rule_id, 5),
        ("alert.resolved", rule_id, 0),
    ]
    assert [(e.type, e.data["value"]) for e in heard] == [("alert.fired", 5), ("alert.resolved", 0)]
    feed = [e.kind for e in FeedEvent.query("supervisors")]
    assert feed.count("alert.fired") == 1 and feed.count("alert.resolved") == 1
    history = supervisor.get("/reports/alerts").json_body["items"]
    assert [(h["kind"], h["value"]) for h in history] == [("resolved", 0), ("fired", 5)]


def test_alert_routes_check_roles_and_bodies(api):
    admin = api("admin")
    rule = {"name": "slow", "metric": "first_response_p90_s", "op": ">", "threshold": 120}
    assert api("supervisor").post("/admin/alerts", rule).status_code == 403
    assert api("agent1").get("/reports/alerts").status_code == 403
    assert admin.post("/admin/alerts", rule | {"metric": "nope"}).status_code == 400
    assert admin.post("/admin/alerts", rule | {"window_minutes": 5000}).status_code == 400
    assert admin.get("/admin/alerts").json_body["items"] == []  # nothing was created
    rule_id = admin.post("/admin/alerts", rule).json_body["rule_id"]
    assert admin.client.http.delete(f"/admin/alerts/{rule_id}", headers=admin._headers()).status_code == 204
    assert admin.client.http.delete(f"/admin/alerts/{rule_id}", headers=admin._headers()).status_code == 404
