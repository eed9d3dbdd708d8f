"""The line channel end to end on moto: deliveries built with line-bot-sdk's models and signed with
the demo account's channel secret go through the real Lambda handler and land once on the inbound
FIFO queue; refusals leave it empty; replies use the stored access token."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

import pytest
import responses
from linebot.v3 import webhooks as lw
from linebot.v3.webhook import SignatureValidator

from chalicelib.channels import line
from chalicelib.channels.credentials import account_credentials
from chalicelib.channels.transport import LiveTransport
from chalicelib.messages import OutboundMessage
from functions.line import handler
from infra.local.provision import DEMO_CHANNELS
from tests.support.events import LambdaContext, http_event
from tests.support.queues import drain_inbound

DEMO = DEMO_CHANNELS["line"]
USER = "U" + "a" * 32
DESTINATION = "U" + "f" * 32


def text_event(text: str, event_id: str, *, redelivery: bool = False) -> lw.MessageEvent:
    return lw.MessageEvent(
        type="message",
        source=lw.UserSource(type="user", user_id=USER),
        timestamp=int(time.time() * 1000),
        mode="active",
        webhook_event_id=event_id,
        delivery_context=lw.DeliveryContext(is_redelivery=redelivery),
        reply_token="rt-" + event_id,
        message=lw.TextMessageContent(type="text", id="m-" + event_id, text=text, quote_token="q"),
    )


def delivery(*events: Any) -> bytes:
    return lw.CallbackRequest(destination=DESTINATION, events=list(events)).to_json().encode()


def webhook(body: bytes, *, signature: str | None = "sign", secret: str = DEMO["channel_secret"]) -> dict:
    headers = {"content-type": "application/json; charset=utf-8"}
    if signature == "sign":
        signature = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
        assert SignatureValidator(secret).validate(body.decode(), signature)
    if signature is not None:
        headers["x-line-signature"] = signature
    return handler(http_event("POST", "/webhooks/line", body=body, headers=headers), LambdaContext())


def test_the_consoles_verify_request_is_200_and_queues_nothing(aws):
    response = webhook(json.dumps({"destination": DESTINATION, "events": []}).encode())
    assert response["statusCode"] == 200
    assert drain_inbound(aws) == []


def test_events_are_queued_with_their_reply_token(aws):
    response = webhook(delivery(text_event("hello", "E-1"), text_event("are you there?", "E-2")))
    assert (response["statusCode"], json.loads(response["body"])) == (200, {"accepted": 2})
    msgs = sorted(drain_inbound(aws), key=lambda m: m.platform_message_id)
    assert [(m.channel, m.channel_user_id, m.text) for m in msgs] == [
        ("line", USER, "hello"),
        ("line", USER, "are you there?"),
    ]
    assert msgs[0].reply_context["reply_token"] == "rt-E-1"


def test_a_redelivered_event_is_queued_once(aws):
    webhook(delivery(text_event("hello", "E-9")))
    webhook(delivery(text_event("hello", "E-9", redelivery=True)))
    assert [m.platform_message_id for m in drain_inbound(aws)] == ["E-9"]


@pytest.mark.parametrize(
    ("signature", "secret", "status"),
    [(None, DEMO["channel_secret"], 401), ("sign", "some-other-channel-secret", 403), ("bm9wZQ==", "", 403)],
)
def test_unsigned_or_wrongly_signed_deliveries_are_refused(aws, signature, secret, status):
    response = webhook(delivery(text_event("hello", "E-x")), signature=signature, secret=secret)
    assert response["statusCode"] == status
    assert drain_inbound(aws) == []


@pytest.mark.parametrize("body", [b"not json", b'{"destination": "x"}', b'{"events": [{"type": "message"}]}'])
def test_malformed_signed_deliveries_are_400(aws, body):
    response = webhook(body)
    assert response["statusCode"] == 400
    assert "Traceback" not in response["body"]
    assert drain_inbound(aws) == []


@responses.activate
def test_reply_with_the_stored_access_token(aws):
    responses.post(line.PUSH_URL, json={"sentMessages": [{"id": "1", "quoteToken": "q"}]})
    out = OutboundMessage(
        message_id="conv-2#3",
        conversation_id="conv-2",
        seq=3,
        customer_id="c",
        channel="line",
        channel_user_id=USER,
        text="We are on it.",
    )
    result = line.ADAPTER.send(out, account_credentials("line", "default"), LiveTransport())
    assert result.status == "sent"
    assert responses.calls[0].request.headers["authorization"] == f"Bearer {DEMO['channel_access_token']}"
