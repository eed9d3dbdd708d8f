"""The line channel without AWS. Webhook bodies are built from line-bot-sdk v3's own webhook models,
their signatures are checked with the SDK's ``SignatureValidator`` before we see them, and the SDK's
``WebhookParser`` reads the same bytes, so our handling is compared with the library's model of the
same payload. Outbound bodies are compared with the SDK's request models and asserted at the HTTP
level with ``responses``."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import pytest
import requests
import responses
from linebot.v3 import messaging
from linebot.v3 import webhooks as lw
from linebot.v3.webhook import SignatureValidator, WebhookParser

from chalicelib.channels import line
from chalicelib.channels.base import BadRequest, Forbidden, Unauthorized, WebhookRequest
from chalicelib.channels.transport import LiveTransport, RecordingTransport
from chalicelib.messages import InboundMessage, OutboundMessage

SECRET = "8c570fa6dd201bb328f1c1eac23a96d8"
CREDS = {"channel_secret": SECRET, "channel_access_token": "line-access-token-1"}
DESTINATION = "U" + "d" * 32
USER = "U4af4980629" + "0" * 22
GROUP = "Ca56f94637c" + "1" * 22
T0 = 1_717_000_000_000


# ---- building deliveries with line-bot-sdk -------------------------------------------------------


def common(
    event_id: str = "01HZX0000000000000000000A1", *, source: Any = None, **extra: Any
) -> dict[str, Any]:
    return {
        "source": source or lw.UserSource(type="user", user_id=USER),
        "timestamp": extra.pop("timestamp", T0),
        "mode": extra.pop("mode", "active"),
        "webhook_event_id": event_id,
        "delivery_context": lw.DeliveryContext(is_redelivery=extra.pop("redelivery", False)),
        **extra,
    }


def message_event(content: Any, **kw: Any) -> lw.MessageEvent:
    return lw.MessageEvent(type="message", reply_token="reply-token-1", message=content, **common(**kw))


def text(value: str = "こんにちは、注文について", message_id: str = "468789577898262530") -> Any:
    return lw.TextMessageContent(type="text", id=message_id, text=value, quote_token="qt")


def body_of(*events: Any) -> bytes:
    """The delivery as LINE serializes it (the SDK's CallbackRequest model)."""
    return lw.CallbackRequest(destination=DESTINATION, events=list(events)).to_json().encode()


def sign(body: bytes, secret: str = SECRET) -> str:
    """LINE's signature, computed here and accepted by the SDK's own validator before use."""
    sig = base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()
    assert SignatureValidator(secret).validate(body.decode(), sig)
    return sig


def request(body: bytes, signature: str | None = "sign") -> WebhookRequest:
    headers = {"content-type": "application/json"}
    if signature is not None:
        headers[line.SIGNATURE_HEADER] = sign(body) if signature == "sign" else signature
    return WebhookRequest("POST", "line", (), headers, {}, body, "https://omniflow.test/webhooks/line")


def parse(*events: Any) -> tuple[list[InboundMessage], list[Any]]:
    """Our messages next to the SDK's parse of the same signed bytes."""
    body = body_of(*events)
    req = request(body)
    line.ADAPTER.verify(req, CREDS)
    return list(line.ADAPTER.parse(req, CREDS)), WebhookParser(SECRET).parse(
        body.decode(), req.header("x-line-signature")
    )


def the_one(*events: Any) -> tuple[InboundMessage, Any]:
    [msg], [event] = parse(*events)
    return msg, event


# ---- signature -------------------------------------------------------------------------------------


def test_our_signature_is_the_one_the_sdk_validates():
    body = body_of(message_event(text()))
    assert SignatureValidator(SECRET).validate(body.decode(), line.signature(SECRET, body))


def test_missing_signature_is_401_and_wrong_signature_403():
    body = body_of(message_event(text()))
    with pytest.raises(Unauthorized):
        line.ADAPTER.verify(request(body, signature=None), CREDS)
    with pytest.raises(Forbidden):
        line.ADAPTER.verify(request(body, signature=sign(body, "another-channel-secret-000000000")), CREDS)


def test_the_signature_covers_the_raw_bytes_not_reserialized_json():
    body = body_of(message_event(text()))
    reformatted = json.dumps(json.loads(body), indent=2).encode()
    with pytest.raises(Forbidden):
        line.ADAPTER.verify(request(reformatted, signature=sign(body)), CREDS)


def test_the_consoles_verify_request_has_no_events_and_queues_nothing():
    body = json.dumps({"destination": DESTINATION, "events": []}).encode()
    req = request(body)
    line.ADAPTER.verify(req, CREDS)
    assert line.ADAPTER.parse(req, CREDS) == []
    assert WebhookParser(SECRET).parse(body.decode(), req.header("x-line-signature")) == []


# ---- events ----------------------------------------------------------------------------------------


def test_text_message():
    msg, event = the_one(message_event(text()))
    assert msg.channel_user_id == event.source.user_id == USER
    assert msg.platform_message_id == event.webhook_event_id
    assert (msg.type, msg.text) == ("text", event.message.text)
    assert msg.sent_at.timestamp() * 1000 == event.timestamp
    assert msg.reply_context == {"reply_token": event.reply_token, "reply_token_at": str(event.timestamp)}
    assert msg.dedupe_key == f"line#default#{event.webhook_event_id}"


@pytest.mark.parametrize(
    ("content", "msg_type", "kind"),
    [
        (
            lw.ImageMessageContent(
                type="image", id="m-img", content_provider=lw.ContentProvider(type="line"), quote_token="q"
            ),
            "image",
            "image",
        ),
        (
            lw.VideoMessageContent(
                type="video",
                id="m-vid",
                duration=3000,
                content_provider=lw.ContentProvider(type="line"),
                quote_token="q",
            ),
            "video",
            "video",
        ),
        (
            lw.AudioMessageContent(
                type="audio", id="m-aud", duration=2000, content_provider=lw.ContentProvider(type="line")
            ),
            "voice",
            "voice",
        ),
    ],
)
def test_media_messages_carry_the_message_id_to_fetch_the_content(content, msg_type, kind):
    msg, event = the_one(message_event(content))
    [attachment] = msg.attachments
    assert (msg.type, attachment.kind, attachment.media_id, attachment.url) == (
        msg_type,
        kind,
        event.message.id,
        None,
    )


def test_external_media_keeps_its_url():
    provider = lw.ContentProvider(
        type="external",
        original_content_url="https://cdn.example.com/a.jpg",
        preview_image_url="https://cdn.example.com/p.jpg",
    )
    msg, event = the_one(
        message_event(
            lw.ImageMessageContent(type="image", id="m-ext", content_provider=provider, quote_token="q")
        )
    )
    assert msg.attachments[0].url == event.message.content_provider.original_content_url


def test_file_message():
    msg, event = the_one(
        message_event(
            lw.FileMessageContent(type="file", id="m-file", file_name="receipt.pdf", file_size=12345)
        )
    )
    [attachment] = msg.attachments
    assert (msg.type, attachment.name, attachment.size) == (
        "file",
        event.message.file_name,
        event.message.file_size,
    )


def test_location_message():
    content = lw.LocationMessageContent(
        type="location", id="m-loc", title="Shop", address="1-1 Shibuya", latitude=35.658, longitude=139.701
    )
    msg, event = the_one(message_event(content))
    assert (msg.type, msg.location.latitude, msg.location.longitude, msg.location.label) == (
        "location",
        event.message.latitude,
        event.message.longitude,
        "Shop, 1-1 Shibuya",
    )


def test_sticker_falls_back_to_text():
    content = lw.StickerMessageContent(
        type="sticker",
        id="m-st",
        package_id="446",
        sticker_id="1988",
        sticker_resource_type="STATIC",
        quote_token="q",
    )
    msg, event = the_one(message_event(content))
    assert event.message.sticker_id == "1988"
    assert (msg.type, msg.text) == ("text", "[sticker]")


def test_follow_unfollow_and_postback_are_events():
    follow = lw.FollowEvent(
        type="follow", reply_token="rt-f", follow=lw.FollowDetail(is_unblocked=False), **common("E-follow")
    )
    unfollow = lw.UnfollowEvent(type="unfollow", **common("E-unfollow"))
    postback = lw.PostbackEvent(
        type="postback",
        reply_token="rt-p",
        postback=lw.PostbackContent(data="action=track&order=42"),
        **common("E-postback"),
    )
    msgs, events = parse(follow, unfollow, postback)
    assert [(m.type, m.event, m.text) for m in msgs] == [
        ("event", "follow", ""),
        ("event", "unfollow", ""),
        ("event", "postback", events[2].postback.data),
    ]
    assert [m.platform_message_id for m in msgs] == [e.webhook_event_id for e in events]
    assert "reply_token" not in msgs[1].reply_context  # unfollow has none: the customer blocked us


def test_unsend_is_an_event_naming_the_message():
    msg, event = the_one(
        lw.UnsendEvent(
            type="unsend", unsend=lw.UnsendDetail(message_id="468789577898262530"), **common("E-unsend")
        )
    )
    assert (msg.event, msg.text) == ("unsend", event.unsend.message_id)


def test_events_we_do_not_handle_and_standby_events_are_dropped():
    join = lw.JoinEvent(
        type="join",
        reply_token="rt-j",
        **common("E-join", source=lw.GroupSource(type="group", group_id=GROUP)),
    )
    standby = message_event(text(), event_id="E-standby", mode="standby")
    msgs, events = parse(join, standby)
    assert msgs == [] and len(events) == 2


def test_group_messages_reply_to_the_group():
    msg, event = the_one(
        message_event(text(), source=lw.GroupSource(type="group", group_id=GROUP, user_id=USER))
    )
    assert msg.channel_user_id == event.source.user_id
    assert msg.reply_context["to"] == event.source.group_id


def test_a_redelivered_event_keeps_its_id_but_not_its_stale_reply_token():
    msg, event = the_one(message_event(text(), redelivery=True))
    assert event.delivery_context.is_redelivery
    assert msg.platform_message_id == event.webhook_event_id
    assert "reply_token" not in msg.reply_context


def test_several_events_in_one_delivery():
    msgs, _ = parse(message_event(text("one"), event_id="E1"), message_event(text("two", "2"), event_id="E2"))
    assert [(m.platform_message_id, m.text) for m in msgs] == [("E1", "one"), ("E2", "two")]


@pytest.mark.parametrize(
    "body",
    [
        b"{oops",
        b"[]",
        b'{"destination": "U1"}',
        b'{"events": {}}',
        b'{"events": ["x"]}',
        b'{"events": [{"type": "message", "timestamp": 1, "source": {"type": "user", "userId": "U1"}}]}',
        b'{"events": [{"type": "message", "webhookEventId": "E", "timestamp": 1, "source": {"type": "user"},'
        b' "message": {"type": "text", "id": "1", "text": "x"}}]}',
        b'{"events": [{"type": "message", "webhookEventId": "E", "timestamp": "now",'
        b' "source": {"userId": "U1"}, "message": {"type": "text", "id": "1", "text": "x"}}]}',
        b'{"events": [{"type": "message", "webhookEventId": "E", "timestamp": 1, "source": {"userId": "U1"},'
        b' "message": {"type": "location", "id": "1", "latitude": "north", "longitude": 0}}]}',
    ],
)
def test_malformed_deliveries_are_bad_requests(body):
    with pytest.raises(BadRequest):
        line.ADAPTER.parse(request(body), CREDS)


# ---- outbound --------------------------------------------------------------------------------------


def reply(
    text_: str = "ご連絡ありがとうございます。",
    *,
    context: dict[str, str] | None = None,
    message_id: str = "conv-1#4",
) -> OutboundMessage:
    return OutboundMessage(
        message_id=message_id,
        conversation_id="conv-1",
        seq=4,
        customer_id="cust-1",
        channel="line",
        channel_user_id=USER,
        text=text_,
        reply_context=context or {},
    )


def fresh(token: str = "reply-token-9", age_seconds: float = 5) -> dict[str, str]:
    return {"reply_token": token, "reply_token_at": str(int((time.time() - age_seconds) * 1000))}


def sdk_body(model: Any) -> dict[str, Any]:
    data = model.to_dict()
    data.pop("notificationDisabled", None)  # the SDK's default (false), which LINE assumes anyway
    return data


SENT = {"sentMessages": [{"id": "461230966842064897", "quoteToken": "IStG5h1Tz7b..."}]}


@responses.activate
def test_a_fresh_reply_token_is_used_with_the_reply_api():
    responses.post(line.REPLY_URL, json=SENT)
    result = line.ADAPTER.send(reply(context=fresh()), CREDS, LiveTransport())
    assert (result.status, result.platform_message_id) == ("sent", "461230966842064897")
    [call] = responses.calls
    assert call.request.headers["authorization"] == "Bearer line-access-token-1"
    assert "x-line-retry-key" not in {k.lower() for k in call.request.headers}
    expected = messaging.ReplyMessageRequest(
        reply_token="reply-token-9", messages=[messaging.TextMessage(text="ご連絡ありがとうございます。")]
    )
    assert json.loads(call.request.body) == sdk_body(expected)


@responses.activate
def test_a_stale_reply_token_pushes_with_a_retry_key_stable_across_attempts():
    responses.post(line.PUSH_URL, status=500, json={"message": "Internal error"})
    responses.post(line.PUSH_URL, json=SENT)
    first = line.ADAPTER.send(reply(context=fresh(age_seconds=120)), CREDS, LiveTransport())
    again = line.ADAPTER.send(reply(context=fresh(age_seconds=130)), CREDS, LiveTransport())
    assert (first.status, first.retryable) == ("failed", True)
    assert again.status == "sent"
    keys = [c.request.headers["x-line-retry-key"] for c in responses.calls]
    assert keys[0] == keys[1] == line.retry_key("conv-1#4")
    assert str(uuid.UUID(keys[0])) == keys[0]  # LINE wants a hexadecimal UUID
    assert line.retry_key("conv-1#5") != keys[0]
    expected = messaging.PushMessageRequest(
        to=USER, messages=[messaging.TextMessage(text="ご連絡ありがとうございます。")]
    )
    assert json.loads(responses.calls[1].request.body) == sdk_body(expected)


@responses.activate
def test_a_used_reply_token_falls_back_to_push_once():
    responses.post(line.REPLY_URL, status=400, json={"message": "Invalid reply token"})
    responses.post(line.PUSH_URL, json=SENT)
    result = line.ADAPTER.send(reply(context=fresh()), CREDS, LiveTransport())
    assert result.status == "sent"
    assert [c.request.url for c in responses.calls] == [line.REPLY_URL, line.PUSH_URL]


@responses.activate
def test_a_push_already_accepted_under_its_retry_key_counts_as_sent():
    responses.post(
        line.PUSH_URL,
        status=409,
        json={"message": "The retry key is already accepted"},
        headers={"x-line-accepted-request-id": "abc"},
    )
    assert line.ADAPTER.send(reply(), CREDS, LiveTransport()).status == "sent"


@responses.activate
def test_group_replies_push_to_the_group():
    responses.post(line.PUSH_URL, json=SENT)
    line.ADAPTER.send(reply(context={"to": GROUP}), CREDS, LiveTransport())
    assert json.loads(responses.calls[0].request.body)["to"] == GROUP


@pytest.mark.parametrize(
    ("status", "message", "retryable", "error"),
    [
        (429, "Too many requests", True, "LINE rate limit"),
        (429, "You have reached your monthly limit.", False, "LINE monthly push message quota reached"),
        (500, "Internal server error", True, "LINE: Internal server error"),
        (401, "Authentication failed", False, "LINE rejected the channel access token"),
        (400, "The request body has 1 error(s)", False, "LINE: The request body has 1 error(s)"),
        (
            403,
            "Access to this API is not available for your account",
            False,
            "LINE: Access to this API is not available for your account",
        ),
    ],
)
@responses.activate
def test_errors_are_classified(status, message, retryable, error):
    responses.post(line.PUSH_URL, status=status, json={"message": message})
    result = line.ADAPTER.send(reply(), CREDS, LiveTransport())
    assert (result.status, result.retryable, result.error) == ("failed", retryable, error)


@responses.activate
def test_a_reply_api_rate_limit_is_retried_not_pushed():
    responses.post(line.REPLY_URL, status=429, json={"message": "Too many requests"})
    result = line.ADAPTER.send(reply(context=fresh()), CREDS, LiveTransport())
    assert (result.status, result.retryable) == ("failed", True)
    assert len(responses.calls) == 1


@responses.activate
def test_network_failure_is_retryable():
    responses.post(line.PUSH_URL, body=requests.ConnectionError("down"))
    result = line.ADAPTER.send(reply(), CREDS, LiveTransport())
    assert (result.status, result.retryable) == ("failed", True)


def test_recording_mode_records_the_call_it_would_make():
    http = RecordingTransport()
    assert line.ADAPTER.send(reply(context=fresh()), CREDS, http).status == "sent_local"
    assert line.ADAPTER.send(reply(), CREDS, http).status == "sent_local"
    assert [c.url for c in http.calls] == [line.REPLY_URL, line.PUSH_URL]
    assert http.calls[0].redacted()["headers"]["authorization"] == "***"


def test_reply_token_freshness():
    now = T0 / 1000
    assert line.fresh_reply_token({"reply_token": "t", "reply_token_at": str(T0)}, now + 10) == "t"
    assert line.fresh_reply_token({"reply_token": "t", "reply_token_at": str(T0)}, now + 55) is None
    assert line.fresh_reply_token({"reply_token": "t", "reply_token_at": "garbage"}, now) is None
    assert line.fresh_reply_token({}, now) is None
