"""Outgoing webhooks end to end in moto: an admin subscribes a URL, an announced event is signed
(Standard Webhooks, checked by the ``standardwebhooks`` library as a receiver would) and delivered
through the webhooks queue with retries on the schedule, the DLQ and replays; the log shows each try."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import boto3
import pytest
from standardwebhooks import Webhook

from chalicelib import events
from tests.support.webhook_receiver import Receiver, clock_fixture, pump, receiver_fixture  # noqa: F401


def subscribe(api: Any, url: str, kinds: list[str]) -> dict[str, Any]:
    r = api("admin").post("/admin/webhooks", {"url": url, "events": kinds})
    assert r.status_code == 201, r.body
    return json.loads(r.body)


def announce_message() -> None:
    events.publish(
        events.Announced(
            "message.created", {"conversation_id": "cnv_1", "seq": 1, "text": "你好，我的订单呢"}
        )
    )


def log_of(api: Any, endpoint_id: str) -> dict[str, Any]:
    r = api("admin").get(f"/admin/webhooks/{endpoint_id}/deliveries")
    assert r.status_code == 200, r.body
    return json.loads(r.body)


def test_a_receiver_failing_three_times_gets_the_event_once_more_and_the_log_shows_each_attempt(
    aws, api, receiver: Receiver, clock
):
    receiver.fail_first = 3
    created = subscribe(api, receiver.url, ["message.created"])
    assert created["secret"].startswith("whsec_")

    announce_message()
    outcomes = pump(aws["OMNIFLOW_WEBHOOKS_QUEUE_URL"], clock)

    assert [r["answered"] for r in receiver.requests] == [500, 500, 500, 204]
    assert len(receiver.accepted) == 1 and outcomes.count("delivered") == 1
    first = receiver.requests[0]
    payload = Webhook(created["secret"]).verify(
        first["body"], first["headers"]
    )  # raises if the signature is wrong
    assert payload["type"] == "message.created" and payload["data"]["text"] == "你好，我的订单呢"
    assert {r["headers"]["webhook-id"] for r in receiver.requests} == {first["headers"]["webhook-id"]}
    assert {r["body"] for r in receiver.requests} == {first["body"]}
    stamps = [int(r["headers"]["webhook-timestamp"]) for r in receiver.requests]
    assert stamps[1] - stamps[0] >= 5 and stamps[2] - stamps[1] >= 300 and stamps[3] - stamps[2] >= 1800

    (message,) = log_of(api, created["endpoint_id"])["messages"]
    assert message["status"] == "delivered"
    assert [(a["attempt"], a["ok"], a["response_code"]) for a in message["attempts"]] == [
        (1, False, 500),
        (2, False, 500),
        (3, False, 500),
        (4, True, 204),
    ]


def test_a_receiver_down_for_good_ends_in_the_dead_letter_queue_and_a_replay_delivers_it(
    aws, api, receiver: Receiver, clock
):
    receiver.down, receiver.fail_status = True, 503
    created = subscribe(api, receiver.url, ["message.created", "ticket.created"])
    announce_message()
    pump(aws["OMNIFLOW_WEBHOOKS_QUEUE_URL"], clock)

    assert len(receiver.requests) == 8  # the first try and 7 scheduled retries
    dlq = boto3.client("sqs").receive_message(QueueUrl=aws["OMNIFLOW_WEBHOOKS_DLQ_QUEUE_URL"])["Messages"]
    assert len(dlq) == 1
    (message,) = log_of(api, created["endpoint_id"])["messages"]
    assert message["status"] == "failed" and len(message["attempts"]) == 8

    receiver.down = False
    r = api("admin").post(f"/admin/webhooks/{created['endpoint_id']}/replay", {})
    assert r.status_code == 200, r.body
    assert json.loads(r.body)["queued"] == [message["msg_id"]]
    pump(aws["OMNIFLOW_WEBHOOKS_QUEUE_URL"], clock)

    assert len(receiver.accepted) == 1
    (message,) = log_of(api, created["endpoint_id"])["messages"]
    assert message["status"] == "delivered" and message["attempts"][-1]["attempt"] == 9


def test_after_a_rotation_both_the_old_and_the_new_secret_verify_the_delivery(
    aws, api, receiver: Receiver, clock
):
    created = subscribe(api, receiver.url, ["message.created"])
    r = api("admin").post(f"/admin/webhooks/{created['endpoint_id']}/rotate-secret", {})
    assert r.status_code == 200, r.body
    rotated = json.loads(r.body)
    assert rotated["secret"] != created["secret"]

    announce_message()
    pump(aws["OMNIFLOW_WEBHOOKS_QUEUE_URL"], clock)

    (got,) = receiver.requests
    assert len(got["headers"]["webhook-signature"].split()) == 2
    for secret in (created["secret"], rotated["secret"]):
        assert Webhook(secret).verify(got["body"], got["headers"])["type"] == "message.created"


def test_an_endpoint_failing_for_days_is_disabled_and_hears_nothing_more(aws, api, receiver: Receiver, clock):
    from chalicelib.messages import iso, utcnow
    from chalicelib.webhooks.models import Endpoint

    receiver.down = True
    created = subscribe(api, receiver.url, ["message.created"])
    endpoint = Endpoint.get(f"endpoint#{created['endpoint_id']}", "endpoint")
    endpoint.update(actions=[Endpoint.failing_since.set(iso(utcnow() - timedelta(days=6)))])
    announce_message()
    pump(aws["OMNIFLOW_WEBHOOKS_QUEUE_URL"], clock)
    assert not Endpoint.get(f"endpoint#{created['endpoint_id']}", "endpoint").enabled

    seen = len(receiver.requests)
    announce_message()
    pump(aws["OMNIFLOW_WEBHOOKS_QUEUE_URL"], clock)
    assert len(receiver.requests) == seen


def test_an_event_type_nobody_subscribed_to_queues_nothing(aws, api, receiver: Receiver, clock):
    subscribe(api, receiver.url, ["ticket.created"])
    announce_message()
    assert pump(aws["OMNIFLOW_WEBHOOKS_QUEUE_URL"], clock) == []


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/latest/meta-data/",
        "https://10.0.0.7/hook",
        "https://192.168.1.2/hook",
        "https://[fd00::1]/hook",
        "https://0.0.0.0/hook",
    ],
)
def test_webhook_urls_reaching_private_or_metadata_addresses_are_refused(aws, api, url):
    r = api("admin").post("/admin/webhooks", {"url": url, "events": ["message.created"]})
    assert r.status_code == 400, r.body
    assert json.loads(r.body)["error"] == "webhook_url_blocked"


def test_loopback_is_refused_unless_the_local_stack_allows_it(aws, api):
    r = api("admin").post(
        "/admin/webhooks", {"url": "http://127.0.0.1:9/hook", "events": ["message.created"]}
    )
    assert r.status_code == 400 and json.loads(r.body)["error"] == "webhook_url_blocked"


def test_only_admins_manage_webhooks_and_unknown_event_types_are_refused(aws, api):
    body = {"url": "https://example.com/hook", "events": ["message.created"]}
    assert api("agent1").post("/admin/webhooks", body).status_code == 403
    for bad in (
        {**body, "events": ["message.deleted"]},
        {**body, "events": []},
        {**body, "url": "ftp://example.com/x"},
    ):
        assert api("admin").post("/admin/webhooks", bad).status_code == 400, bad


def test_the_admin_list_shows_endpoints_without_secrets_and_a_paused_one_hears_nothing(
    aws, api, receiver: Receiver, clock
):
    first = subscribe(api, receiver.url, ["message.created"])
    second = subscribe(api, receiver.url, ["ticket.created", "csat.received"])
    admin = api("admin")
    listed = json.loads(admin.get("/admin/webhooks").body)["items"]
    assert {e["endpoint_id"] for e in listed} == {first["endpoint_id"], second["endpoint_id"]}
    assert "whsec_" not in json.dumps(listed)
    assert next(e for e in listed if e["endpoint_id"] == second["endpoint_id"])["events"] == [
        "csat.received",
        "ticket.created",
    ]

    paused = json.loads(admin.post(f"/admin/webhooks/{first['endpoint_id']}/disable").body)
    assert (paused["enabled"], paused["disabled_reason"]) == (False, "disabled by an admin")
    announce_message()
    pump(aws["OMNIFLOW_WEBHOOKS_QUEUE_URL"], clock)
    assert receiver.requests == []
    (message,) = log_of(api, first["endpoint_id"])["messages"]
    assert message["status"] == "failed"  # kept, replayable

    assert json.loads(admin.post(f"/admin/webhooks/{first['endpoint_id']}/enable").body)["enabled"]
    assert admin.post(f"/admin/webhooks/{first['endpoint_id']}/replay", {}).status_code == 200
    pump(aws["OMNIFLOW_WEBHOOKS_QUEUE_URL"], clock)
    assert len(receiver.accepted) == 1
    assert api("agent1").get("/admin/webhooks").status_code == 403
