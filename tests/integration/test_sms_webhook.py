"""The sms channel end to end on moto: a Twilio-signed webhook through the real Lambda handler
lands once on the inbound FIFO queue; a reply goes out with the stored account's credentials."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode

import pytest
import responses
from twilio.request_validator import RequestValidator

from chalicelib.channels import sms
from chalicelib.channels.credentials import account_credentials
from chalicelib.channels.transport import LiveTransport
from chalicelib.messages import OutboundMessage
from functions.sms import handler
from infra.local.provision import DEMO_CHANNELS
from tests.support.events import LambdaContext, http_event
from tests.support.queues import drain_inbound

TWILIO = DEMO_CHANNELS["sms"]
PUBLIC_URL = "https://omniflow.test/webhooks/sms"


def twilio_event(form: dict[str, str], *, signature: str | None = None) -> dict:
    """Twilio's POST as API Gateway (HTTP API v2) hands it over (a form body arrives base64),
    signed by Twilio's own SDK."""
    if signature is None:
        signature = RequestValidator(TWILIO["auth_token"]).compute_signature(PUBLIC_URL, form)
    headers = {"content-type": "application/x-www-form-urlencoded", "x-twilio-signature": signature}
    return http_event("POST", "/webhooks/sms", body=urlencode(form), headers=headers, base64_body=True)


def webhook(event: dict) -> dict:
    """The sms Lambda's entry point, as Lambda calls it."""
    return handler(event, LambdaContext())


def sms_form(
    sid: str = "SM11111111111111111111111111111111", body: str = "Hi, I need help"
) -> dict[str, str]:
    return {
        "MessageSid": sid,
        "AccountSid": TWILIO["account_sid"],
        "From": "+14155550123",
        "To": TWILIO["from_number"],
        "Body": body,
        "NumMedia": "0",
    }


def test_a_signed_sms_is_queued_once_and_answered_with_empty_twiml(aws):
    reply = webhook(twilio_event(sms_form()))
    assert reply["statusCode"] == 200
    assert reply["headers"]["content-type"] == "text/xml"
    assert reply["body"] == '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
    [msg] = drain_inbound(aws)
    assert (msg.channel, msg.account, msg.channel_user_id) == ("sms", "default", "+14155550123")
    assert msg.text == "Hi, I need help"
    assert msg.hints.verified == ("phone",)
    assert msg.correlation_id == "sms#default#SM11111111111111111111111111111111"


def test_twilio_retrying_the_same_message_sid_queues_it_once(aws):
    event = twilio_event(sms_form())
    assert webhook(event)["statusCode"] == 200
    assert webhook(event)["statusCode"] == 200
    assert len(drain_inbound(aws)) == 1


@pytest.mark.parametrize(
    ("signature", "status"),
    [("", 401), ("bm90IGEgcmVhbCBzaWduYXR1cmU=", 403)],
)
def test_unsigned_or_forged_requests_are_refused_and_nothing_is_queued(aws, signature, status):
    reply = webhook(twilio_event(sms_form(), signature=signature))
    assert reply["statusCode"] == status
    assert drain_inbound(aws) == []


def test_a_message_without_a_sid_is_400(aws):
    form = sms_form()
    del form["MessageSid"]
    assert webhook(twilio_event(form))["statusCode"] == 400


def test_a_get_is_405(aws):
    event = twilio_event(sms_form())
    event["requestContext"]["http"]["method"] = "GET"
    assert webhook(event)["statusCode"] == 405


@responses.activate
def test_a_reply_is_sent_with_the_stored_account_credentials(aws):
    url = f"https://api.twilio.com/2010-04-01/Accounts/{TWILIO['account_sid']}/Messages.json"
    responses.post(url, json={"sid": "SMreply001", "status": "queued"}, status=201)
    reply = OutboundMessage(
        message_id="c1#2",
        conversation_id="c1",
        seq=2,
        customer_id="k1",
        channel="sms",
        channel_user_id="+14155550123",
        text="We are on it.",
    )
    result = sms.ADAPTER.send(reply, account_credentials("sms", "default"), LiveTransport())
    assert (result.status, result.platform_message_id) == ("sent", "SMreply001")
    assert parse_qs(responses.calls[0].request.body) == {
        "To": ["+14155550123"],
        "From": [TWILIO["from_number"]],
        "Body": ["We are on it."],
    }
