"""The sms (Twilio) channel without AWS: signature, parsing, TwiML answer and the send API.

Requests are signed with Twilio's own ``RequestValidator``; outbound HTTP is asserted with
``responses`` against the shape Twilio documents.
"""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlencode

import pytest
import requests
import responses
from twilio.request_validator import RequestValidator

from chalicelib.channels.base import BadRequest, Forbidden, Unauthorized, WebhookRequest
from chalicelib.channels.sms import ADAPTER, url_variants
from chalicelib.channels.transport import LiveTransport, RecordingTransport
from chalicelib.messages import OutboundMessage

CREDS = {
    "account_sid": "AC00000000000000000000000000000000",
    "auth_token": "unit-test-twilio-token",
    "from_number": "+15005550006",
}
URL = "https://omniflow.test/webhooks/sms"
MESSAGES_URL = f"https://api.twilio.com/2010-04-01/Accounts/{CREDS['account_sid']}/Messages.json"


def inbound_form(**overrides: str) -> dict[str, str]:
    form = {
        "MessageSid": "SM0123456789abcdef0123456789abcdef",
        "AccountSid": CREDS["account_sid"],
        "From": "+8613800138000",
        "To": CREDS["from_number"],
        "Body": "Hello, where is my parcel?",
        "NumMedia": "0",
        "SmsStatus": "received",
    }
    form.update(overrides)
    return form


def twilio_request(
    form: dict[str, str], *, url: str = URL, token: str = CREDS["auth_token"], signed_url: str | None = None
) -> WebhookRequest:
    signature = RequestValidator(token).compute_signature(signed_url or url, form)
    return WebhookRequest(
        method="POST",
        channel="sms",
        path_parts=(),
        headers={"content-type": "application/x-www-form-urlencoded", "x-twilio-signature": signature},
        query={},
        body=urlencode(form).encode(),
        url=url,
    )


def outbound(text: str = "Your parcel ships today.") -> OutboundMessage:
    return OutboundMessage(
        message_id="conv-1#2",
        conversation_id="conv-1",
        seq=2,
        customer_id="cust-1",
        channel="sms",
        channel_user_id="+8613800138000",
        text=text,
    )


# ---- verify ------------------------------------------------------------------------------------
def test_a_request_signed_by_twilio_is_accepted():
    ADAPTER.verify(twilio_request(inbound_form()), CREDS)


def test_a_missing_signature_is_401():
    req = twilio_request(inbound_form())
    unsigned = WebhookRequest(**{**req.__dict__, "headers": {"content-type": "x"}})
    with pytest.raises(Unauthorized):
        ADAPTER.verify(unsigned, CREDS)


def test_a_body_that_is_not_utf8_is_400():
    req = twilio_request(inbound_form())
    with pytest.raises(BadRequest):
        ADAPTER.verify(WebhookRequest(**{**req.__dict__, "body": b"Body=\xff\xfe"}), CREDS)


def test_a_signature_made_with_another_token_is_403():
    with pytest.raises(Forbidden):
        ADAPTER.verify(twilio_request(inbound_form(), token="someone-elses-token"), CREDS)


def test_a_tampered_body_is_403():
    req = twilio_request(inbound_form())
    tampered = WebhookRequest(**{**req.__dict__, "body": req.body.replace(b"parcel", b"refund")})
    with pytest.raises(Forbidden):
        ADAPTER.verify(tampered, CREDS)


def test_a_signature_for_another_url_is_403():
    with pytest.raises(Forbidden):
        ADAPTER.verify(twilio_request(inbound_form(), signed_url="https://evil.test/webhooks/sms"), CREDS)


def test_twilio_may_sign_the_url_with_its_default_port():
    ADAPTER.verify(twilio_request(inbound_form(), signed_url="https://omniflow.test:443/webhooks/sms"), CREDS)


def test_the_query_string_is_part_of_the_signed_url():
    url = f"{URL}?tenant=a"
    ADAPTER.verify(twilio_request(inbound_form(), url=url), CREDS)
    with pytest.raises(Forbidden):
        ADAPTER.verify(twilio_request(inbound_form(), url=url, signed_url=URL), CREDS)


def test_url_variants_keep_a_non_default_port_alone():
    assert url_variants("https://h.test:8443/x") == ("https://h.test:8443/x",)
    assert url_variants("https://h.test/x?a=1") == ("https://h.test/x?a=1", "https://h.test:443/x?a=1")


# ---- parse -------------------------------------------------------------------------------------
def test_a_text_message_becomes_one_inbound_message_from_a_verified_phone():
    [msg] = ADAPTER.parse(twilio_request(inbound_form()), CREDS)
    assert msg.channel == "sms"
    assert msg.account == "default"
    assert msg.channel_user_id == "+8613800138000"
    assert msg.platform_message_id == "SM0123456789abcdef0123456789abcdef"
    assert msg.type == "text"
    assert msg.text == "Hello, where is my parcel?"
    assert msg.hints.phone == "+8613800138000"
    assert msg.hints.verified == ("phone",)
    assert msg.attachments == ()
    assert msg.sent_at.tzinfo is not None


def test_the_account_comes_from_the_path():
    req = twilio_request(inbound_form())
    req = WebhookRequest(**{**req.__dict__, "path_parts": ("shop2",)})
    [msg] = ADAPTER.parse(req, CREDS)
    assert msg.account == "shop2"


def test_mms_media_become_attachments_by_content_type():
    form = inbound_form(
        Body="",
        NumMedia="4",
        MediaUrl0="https://api.twilio.com/media/ME0",
        MediaContentType0="image/jpeg",
        MediaUrl1="https://api.twilio.com/media/ME1",
        MediaContentType1="audio/amr",
        MediaUrl2="https://api.twilio.com/media/ME2",
        MediaContentType2="video/mp4",
        MediaUrl3="https://api.twilio.com/media/ME3",
        MediaContentType3="application/pdf",
    )
    [msg] = ADAPTER.parse(twilio_request(form), CREDS)
    assert [(a.kind, a.url, a.mime_type) for a in msg.attachments] == [
        ("image", "https://api.twilio.com/media/ME0", "image/jpeg"),
        ("voice", "https://api.twilio.com/media/ME1", "audio/amr"),
        ("video", "https://api.twilio.com/media/ME2", "video/mp4"),
        ("file", "https://api.twilio.com/media/ME3", "application/pdf"),
    ]
    assert msg.type == "image"  # no text: the message is its first medium


def test_mms_with_text_stays_a_text_message_with_attachments():
    form = inbound_form(NumMedia="1", MediaUrl0="https://api.twilio.com/m/0", MediaContentType0="image/png")
    [msg] = ADAPTER.parse(twilio_request(form), CREDS)
    assert msg.type == "text"
    assert len(msg.attachments) == 1


@pytest.mark.parametrize("missing", ["MessageSid", "From"])
def test_a_message_without_sid_or_sender_is_400(missing):
    form = inbound_form()
    del form[missing]
    with pytest.raises(BadRequest):
        ADAPTER.parse(twilio_request(form), CREDS)


def test_a_non_numeric_media_count_is_400():
    with pytest.raises(BadRequest):
        ADAPTER.parse(twilio_request(inbound_form(NumMedia="many")), CREDS)


@pytest.mark.parametrize("sender", ["Omniflow", "72345", "whatsapp:+8613800138000"])
def test_senders_that_are_not_e164_numbers_are_not_verified_phones(sender):
    [msg] = ADAPTER.parse(twilio_request(inbound_form(From=sender)), CREDS)
    assert msg.channel_user_id == sender
    assert msg.hints.phone is None
    assert msg.hints.verified == ()


def test_a_delivery_status_callback_is_not_a_customer_message():
    form = inbound_form(MessageStatus="delivered", From=CREDS["from_number"])
    assert list(ADAPTER.parse(twilio_request(form), CREDS)) == []


def test_twilio_gets_empty_twiml_so_it_sends_no_inline_reply():
    reply = ADAPTER.acknowledge(twilio_request(inbound_form()), [])
    assert reply.status == 200
    assert reply.headers["content-type"] == "text/xml"
    assert reply.body == '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


# ---- send --------------------------------------------------------------------------------------
@responses.activate
def test_send_posts_to_twilios_messages_api_with_basic_auth():
    responses.post(MESSAGES_URL, json={"sid": "SMout0001", "status": "queued"}, status=201)
    result = ADAPTER.send(outbound(), CREDS, LiveTransport())
    assert result.status == "sent"
    assert result.platform_message_id == "SMout0001"
    [call] = responses.calls
    assert parse_qs(call.request.body) == {
        "To": ["+8613800138000"],
        "From": ["+15005550006"],
        "Body": ["Your parcel ships today."],
    }
    expected = base64.b64encode(f"{CREDS['account_sid']}:{CREDS['auth_token']}".encode()).decode()
    assert call.request.headers["Authorization"] == f"Basic {expected}"


@responses.activate
def test_a_messaging_service_picks_the_sender_when_configured():
    responses.post(MESSAGES_URL, json={"sid": "SMout0002"}, status=201)
    ADAPTER.send(outbound(), {**CREDS, "messaging_service_sid": "MG123"}, LiveTransport())
    body = parse_qs(responses.calls[0].request.body)
    assert body["MessagingServiceSid"] == ["MG123"]
    assert "From" not in body


@responses.activate
def test_a_rejected_number_fails_for_good_with_twilios_message():
    responses.post(
        MESSAGES_URL,
        json={"code": 21211, "message": "The 'To' number is not a valid phone number.", "status": 400},
        status=400,
    )
    result = ADAPTER.send(outbound(), CREDS, LiveTransport())
    assert result.status == "failed"
    assert result.retryable is False
    assert result.error == "Twilio 21211: The 'To' number is not a valid phone number."


@responses.activate
@pytest.mark.parametrize("status", [429, 500, 503])
def test_rate_limits_and_server_errors_are_retried(status):
    responses.post(MESSAGES_URL, json={"code": 20429, "message": "Too Many Requests"}, status=status)
    result = ADAPTER.send(outbound(), CREDS, LiveTransport())
    assert result.status == "failed"
    assert result.retryable is True


@responses.activate
def test_a_network_failure_is_retried():
    responses.post(MESSAGES_URL, body=requests.ConnectionError("connection reset"))
    result = ADAPTER.send(outbound(), CREDS, LiveTransport())
    assert result.status == "failed"
    assert result.retryable is True


def test_the_local_stack_records_the_exact_request_instead_of_sending():
    http = RecordingTransport()
    result = ADAPTER.send(outbound(), CREDS, http)
    assert result.status == "sent_local"
    [call] = http.calls
    assert call.method == "POST"
    assert call.url == MESSAGES_URL
    assert call.data == {"To": "+8613800138000", "From": "+15005550006", "Body": "Your parcel ships today."}
    assert call.redacted()["body"]["Body"] == "Your parcel ships today."
