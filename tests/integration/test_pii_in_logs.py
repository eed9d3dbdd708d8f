"""No customer PII reaches a log line: a real flow (sms webhook → router → an agent's reply through
the API) runs with every handler logging its whole incoming event (POWERTOOLS_LOGGER_LOG_EVENT) at
DEBUG, the loudest the Lambdas can be configured; the captured lines hold none of the customer's
phone, e-mail, ID card, bank card, address or message text, only their masks."""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import boto3
import pytest
from twilio.request_validator import RequestValidator

from infra.local.provision import DEMO_CHANNELS
from tests.support.events import LambdaContext, http_event, sqs_event

TWILIO = DEMO_CHANNELS["sms"]
PHONE = "+14155550177"
SECRETS = {
    "phone": PHONE,
    "phone digits": "4155550177",
    "e-mail": "mei.chen88@example.org",
    "mobile": "13912345678",
    "ID card": "11010519491231002X",
    "bank card": "6222021234567890128",
    "address": "建国路88号",
    "message text": "my parcel never came",
    "reply text": "sorry to hear that",
}
TEXT = (
    f"Hi, {SECRETS['message text']}! reach me at {SECRETS['e-mail']} or {SECRETS['mobile']}, "
    f"ID {SECRETS['ID card']}, refund to card {SECRETS['bank card']}, 北京市朝阳区{SECRETS['address']}"
)


@pytest.fixture
def log_lines(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """Every line the shared logger writes, at DEBUG with each handler's incoming event logged."""
    from chalicelib.observability import logger

    monkeypatch.setenv("POWERTOOLS_LOGGER_LOG_EVENT", "true")
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


def _sms(text: str) -> dict[str, Any]:
    url = "https://omniflow.test/webhooks/sms"
    form = {
        "MessageSid": "SM" + "7" * 32,
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


def test_a_webhook_routed_and_answered_logs_no_customer_pii(aws, api, log_lines: io.StringIO) -> None:
    from chalice.test import Client

    import app as app_module
    from chalicelib.channels.pipeline import lambda_handler

    assert lambda_handler("sms")(_sms(TEXT), LambdaContext())["statusCode"] == 200

    sqs = boto3.client("sqs")
    url = aws["OMNIFLOW_INBOUND_QUEUE_URL"]
    received = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
    )["Messages"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    with Client(app_module.app, stage_name="test") as client:
        routed = client.lambda_.invoke("route_inbound", sqs_event(received, arn)).payload
    assert routed == {"batchItemFailures": []}

    supervisor = api("supervisor")
    [waiting] = json.loads(supervisor.get("/conversations?view=all").body)["items"]
    answer = supervisor.post(
        f"/conversations/{waiting['conversation_id']}/reply", {"text": SECRETS["reply text"]}
    )
    assert answer.status_code == 202, answer.body

    lines = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    [webhook_event] = [line["message"] for line in lines if isinstance(line.get("message"), dict)]
    assert webhook_event["body"] == "***"  # the form, with the message text, blanked by its key
    assert "stored" in [line["message"] for line in lines], "the router logged too"
    assert len(lines) >= 6  # the webhook's, the router's and each API request's event, and more
    text = log_lines.getvalue()
    leaked = {kind: value for kind, value in SECRETS.items() if value in text}
    assert leaked == {}, leaked
