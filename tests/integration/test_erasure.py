"""Export and erasure end to end on moto (issue 17): a customer writes in by SMS through Twilio's
signed webhook (the real Lambda handler and the router's queue consumer), an attachment copy sits
in S3; the export holds their messages; an admin asks for erasure (202 pending), the Step Functions
job (moto's executor) marks it running and hands it to the events consumer, which erases; the
status says done, ``customer.erased`` is announced, and a scan (test-only) of every moto table and
bucket finds neither the phone nor the message text. No log line on the way holds either."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
from twilio.request_validator import RequestValidator

from chalicelib import events
from chalicelib.config import settings
from infra.local.provision import DEMO_CHANNELS
from tests.support.events import LambdaContext, http_event, sqs_event

pytestmark = pytest.mark.sfn

TWILIO = DEMO_CHANNELS["sms"]
PHONE = "+14155550166"
TEXTS = ("my blender arrived cracked", "please call me back about the cracked jar")


@pytest.fixture
def no_sla_clocks(aws: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Executions really run in this module: the SLA clocks (waiting minutes) are not started, so
    none outlives the test."""
    from tests.conftest import reset_caches

    monkeypatch.setenv("OMNIFLOW_SLA_STATE_MACHINE_ARN", "")
    monkeypatch.setenv("OMNIFLOW_TICKET_SLA_STATE_MACHINE_ARN", "")
    reset_caches()
    return aws


@pytest.fixture
def log_text(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    from chalicelib.observability import logger

    buffer = io.StringIO()
    handler = logger.registered_handler
    stream = handler.setStream(buffer)
    level = logger.log_level
    logger.setLevel("DEBUG")
    try:
        yield buffer
    finally:
        logger.setLevel(level)
        handler.setStream(stream)


def _sms(sid: str, text: str) -> dict[str, Any]:
    url = "https://omniflow.test/webhooks/sms"
    form = {
        "MessageSid": sid,
        "AccountSid": TWILIO["account_sid"],
        "From": PHONE,
        "To": TWILIO["from_number"],
        "Body": text,
        "NumMedia": "0",
    }
    headers = {
        "content-type": "application/x-www-form-urlencoded",
        "x-twilio-signature": RequestValidator(TWILIO["auth_token"]).compute_signature(url, form),
    }
    return http_event("POST", "/webhooks/sms", body=urlencode(form), headers=headers, base64_body=True)


def _consume(client: Any, queue_url: str, function: str) -> None:
    """Hand what is on the queue to the app's consumer, as Lambda's event source mapping would."""
    sqs = boto3.client("sqs")
    arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    while got := sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
    ).get("Messages", []):
        assert client.lambda_.invoke(function, sqs_event(got, arn)).payload == {"batchItemFailures": []}
        for m in got:
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])


def _wait(customer_id: str, timeout: float = 20) -> dict[str, Any]:
    sfn = boto3.client("stepfunctions")
    arn = (
        settings().erasure_state_machine_arn.replace(":stateMachine:", ":execution:")
        + f":erasure-{customer_id}"
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.2)
    raise AssertionError(f"erasure job still running after {timeout}s")


def _everything_stored() -> str:
    """Test-only: every item of every moto table and every object of every bucket, as text."""
    ddb, s3, parts = boto3.client("dynamodb"), boto3.client("s3"), []
    for table in ddb.list_tables()["TableNames"]:
        for page in ddb.get_paginator("scan").paginate(TableName=table):
            parts += [json.dumps(item, ensure_ascii=False) for item in page["Items"]]
    for bucket in s3.list_buckets()["Buckets"]:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket["Name"]):
            for o in page.get("Contents", []):
                body = s3.get_object(Bucket=bucket["Name"], Key=o["Key"])["Body"].read()
                parts += [o["Key"], body.decode("utf-8", "replace")]
    return "\n".join(parts)


def test_an_sms_customer_is_exported_then_erased_from_every_table_and_bucket(
    no_sla_clocks, api, log_text, monkeypatch
) -> None:
    from chalice.test import Client

    import app as app_module
    from chalicelib.channels.pipeline import lambda_handler

    announced: list[events.Announced] = []
    table = {kind: events.subscribers(kind) for kind in (events.Announced,)}
    monkeypatch.setattr(
        events, "_table", {**events._table, events.Announced: (*table[events.Announced], announced.append)}
    )
    for n, text in enumerate(TEXTS):
        assert lambda_handler("sms")(_sms(f"SM{n}" + "6" * 31, text), LambdaContext())["statusCode"] == 200
    supervisor, admin = api("supervisor"), api("admin")
    with Client(app_module.app, stage_name="test") as client:
        _consume(client, no_sla_clocks["OMNIFLOW_INBOUND_QUEUE_URL"], "route_inbound")
        [waiting] = json.loads(supervisor.get("/conversations?view=all").body)["items"]
        cid, customer_id = waiting["conversation_id"], waiting["customer_id"]
        boto3.client("s3").put_object(  # an attachment's copy, as chalicelib/media stores it
            Bucket=settings().media_bucket, Key=f"media/{cid}/1/0", Body=f"photo from {PHONE}".encode()
        )
        assert supervisor.get(f"/customers/{customer_id}").status_code == 200  # a view, in the audit

        exported = json.loads(supervisor.get(f"/customers/{customer_id}/export").body)
        assert exported["customer_id"] == customer_id
        [conversation] = exported["conversations"]
        assert [m["text"] for m in conversation["messages"] if m["direction"] == "in"] == list(TEXTS)
        assert PHONE in json.dumps(exported["identities"])
        assert "customer" in {(r.get("details") or {}).get("what") for r in exported["audit"]}
        later = supervisor.get(f"/customers/{customer_id}/export?mode=async")  # as for a large customer
        assert later.status_code == 202, later.body
        job = json.loads(later.body)
        assert job["status"] == "pending"
        _consume(client, no_sla_clocks["OMNIFLOW_EVENTS_QUEUE_URL"], "handle_event")
        ready = json.loads(supervisor.get(f"/customers/{customer_id}/exports/{job['export_id']}").body)
        assert ready["status"] == "done" and ready["expires_in"] == 900
        assert f"exports/{customer_id}/{job['export_id']}.json" in ready["url"]
        stored_export = boto3.client("s3").get_object(
            Bucket=settings().media_bucket, Key=f"exports/{customer_id}/{job['export_id']}.json"
        )
        assert TEXTS[1] in stored_export["Body"].read().decode()
        assert supervisor.get(f"/customers/{customer_id}/exports/nope").status_code == 404
        assert PHONE in _everything_stored() and TEXTS[0] in _everything_stored()  # the scan can see them

        assert supervisor.post(f"/customers/{customer_id}/erasure").status_code == 403  # admins only
        asked = admin.post(f"/customers/{customer_id}/erasure")
        assert asked.status_code == 202, asked.body
        assert json.loads(asked.body)["status"] == "pending"
        assert _wait(customer_id)["status"] == "SUCCEEDED"
        assert json.loads(admin.get(f"/customers/{customer_id}/erasure").body)["status"] == "running"
        _consume(client, no_sla_clocks["OMNIFLOW_EVENTS_QUEUE_URL"], "handle_event")

    done = json.loads(admin.get(f"/customers/{customer_id}/erasure").body)
    assert done["status"] == "done" and done["done_at"]
    assert (
        done["erased"]["messages"] >= len(TEXTS) and done["erased"]["media"] == 2
    )  # the attachment and the export
    assert [e.data["customer_id"] for e in announced if e.type == "customer.erased"] == [customer_id]

    stored = _everything_stored()
    for secret in (PHONE, PHONE.lstrip("+"), *TEXTS):
        assert secret not in stored, f"{secret!r} is still stored"
    trail = json.loads(supervisor.get(f"/customers/{customer_id}/audit").body)["items"]
    assert {"customer.erased", "erasure.requested", "view"} <= {r["action"] for r in trail}  # the fact stays
    assert admin.post(f"/customers/{customer_id}/erasure").status_code == 202  # asking again: its status
    logged = log_text.getvalue()
    assert "customer erased" in logged
    assert all(secret not in logged for secret in (PHONE, PHONE.lstrip("+"), *TEXTS))


def test_erasure_of_an_unknown_customer_is_404_and_changes_nothing(no_sla_clocks, api) -> None:
    admin = api("admin")
    assert admin.post("/customers/cus_nobody/erasure").status_code == 404
    assert admin.get("/customers/cus_nobody/erasure").status_code == 404
    assert api("supervisor").get("/customers/cus_nobody/export").status_code == 404
