"""The messenger channel without AWS, and what it shares with instagram (both run the Messenger
Platform's ``messaging`` events and Send API): Meta's documented events normalized, echoes
skipped, delivery reports, postbacks, and replies at the HTTP level with the HUMAN_AGENT tag."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
import responses

from chalicelib.channels.base import BadRequest, WebhookRequest
from chalicelib.channels.instagram import ADAPTER as INSTAGRAM
from chalicelib.channels.messenger import ADAPTER as MESSENGER
from chalicelib.channels.meta import MessagingAdapter
from chalicelib.channels.transport import LiveTransport, RecordingTransport
from chalicelib.messages import InboundMessage, OutboundMessage, TemplateRef, iso, utcnow
from tests.support.meta_payloads import (
    IG_ID,
    IGSID,
    MID,
    PAGE_ID,
    PSID,
    instagram_update,
    messaging_event,
    page_update,
    raw,
)

SEND_URL = "https://graph.facebook.com/v21.0/me/messages"


@dataclass(frozen=True)
class Platform:
    adapter: MessagingAdapter
    update: Callable[..., dict[str, Any]]
    creds: dict[str, Any]
    customer: str
    business: str

    def parse(self, payload: Any) -> list[InboundMessage]:
        req = WebhookRequest(
            method="POST",
            channel=self.adapter.name,
            path_parts=(),
            headers={},
            query={},
            body=raw(payload),
            url=f"https://omniflow.test/webhooks/{self.adapter.name}",
        )
        return list(self.adapter.parse(req, self.creds))

    def event(self, **event: Any) -> dict[str, Any]:
        return messaging_event(self.customer, self.business, **event)

    def one(self, **event: Any) -> InboundMessage:
        [msg] = self.parse(self.update(self.event(**event)))
        return msg


MESSENGER_CREDS = {
    "app_secret": "s",
    "verify_token": "v",
    "page_access_token": "EAAPageToken",
    "page_id": PAGE_ID,
}
INSTAGRAM_CREDS = {
    "app_secret": "s",
    "verify_token": "v",
    "page_access_token": "EAAIgPageToken",
    "ig_id": IG_ID,
}
PLATFORMS = {
    "messenger": Platform(MESSENGER, page_update, MESSENGER_CREDS, PSID, PAGE_ID),
    "instagram": Platform(INSTAGRAM, instagram_update, INSTAGRAM_CREDS, IGSID, IG_ID),
}


@pytest.fixture(params=sorted(PLATFORMS))
def platform(request: pytest.FixtureRequest) -> Platform:
    return PLATFORMS[request.param]


messenger = PLATFORMS["messenger"]


# ---- inbound ------------------------------------------------------------------------------------
def test_the_documented_text_message_is_normalized(platform):
    msg = platform.one(
        message={"mid": MID, "text": "hello, world!", "quick_reply": {"payload": "DEV_PAYLOAD"}}
    )
    assert (msg.channel, msg.account, msg.channel_user_id) == (
        platform.adapter.name,
        "default",
        platform.customer,
    )
    assert (msg.type, msg.text, msg.platform_message_id) == ("text", "hello, world!", MID)
    assert msg.sent_at == datetime(2016, 3, 23, 0, 25, 52, 478000, tzinfo=UTC)
    # A page- or Instagram-scoped id says nothing verifiable about the person.
    assert msg.hints.verified == ()


@pytest.mark.parametrize(
    ("kind", "ours"), [("image", "image"), ("audio", "voice"), ("video", "video"), ("file", "file")]
)
def test_attachments_keep_their_url(platform, kind, ours):
    url = "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=1&signature=abc"
    msg = platform.one(message={"mid": MID, "attachments": [{"type": kind, "payload": {"url": url}}]})
    assert msg.type == ours
    [attachment] = msg.attachments
    assert (attachment.kind, attachment.url) == (ours, url)


def test_a_caption_and_several_attachments_make_one_text_message(platform):
    attachments = [{"type": "image", "payload": {"url": f"https://cdn.example/{i}.jpg"}} for i in range(3)]
    msg = platform.one(message={"mid": MID, "text": "these three", "attachments": attachments})
    assert (msg.type, msg.text, len(msg.attachments)) == ("text", "these three", 3)


def test_a_shared_location_keeps_its_coordinates():
    attachment = {
        "title": "Pinned Location",
        "url": "https://l.facebook.com/l.php?u=https%3A%2F%2Fwww.bing.com%2Fmaps",
        "type": "location",
        "payload": {"coordinates": {"lat": 52.5186, "long": 13.4081}},
    }
    msg = messenger.one(message={"mid": MID, "attachments": [attachment]})
    assert msg.type == "location"
    assert msg.location is not None
    assert (msg.location.latitude, msg.location.longitude, msg.location.label) == (
        52.5186,
        13.4081,
        "Pinned Location",
    )


def test_a_shared_link_fallback_reads_as_its_title_and_url():
    attachment = {"type": "fallback", "payload": {"url": "https://shop.example/p/1", "title": "Blue jacket"}}
    msg = messenger.one(message={"mid": MID, "attachments": [attachment]})
    assert (msg.type, msg.text) == ("text", "[fallback] Blue jacket https://shop.example/p/1")


def test_our_own_messages_echoed_back_are_skipped(platform):
    echo = messaging_event(
        platform.business,
        platform.customer,
        message={
            "is_echo": True,
            "app_id": 1517776481860111,
            "metadata": "omniflow",
            "mid": MID,
            "text": "hi",
        },
    )
    assert platform.parse(platform.update(echo)) == []


def test_delivery_reports_name_our_messages(platform):
    delivery = {
        "mids": ["mid.1458668856218:ed81099e15d3f4f233", "mid.1458668856219:aa"],
        "watermark": 1458668856253,
    }
    event = {
        "sender": {"id": platform.customer},
        "recipient": {"id": platform.business},
        "delivery": delivery,
    }
    reports = platform.parse(platform.update(event))
    assert [(r.type, r.status.platform_message_id, r.status.state) for r in reports if r.status] == [
        ("status", "mid.1458668856218:ed81099e15d3f4f233", "delivered"),
        ("status", "mid.1458668856219:aa", "delivered"),
    ]
    assert reports[0].platform_message_id == "mid.1458668856218:ed81099e15d3f4f233:delivered"
    assert reports[0].sent_at == datetime.fromtimestamp(1458668856.253, tz=UTC)


def test_a_messenger_read_watermark_names_no_message_and_is_skipped():
    assert messenger.parse(page_update(messenger.event(read={"watermark": 1458668856253}))) == []


def test_a_postback_is_an_event_carrying_the_button_title(platform):
    postback = {
        "mid": "m_AG5Hz2Uq7tuwNEhXfYYKj8mJEM_QPpz5jdCK48PnKAjSdjfipqxqMvK8ma6AC8fplwlqLP_5cgXIbu7I3rBN0P",
        "title": "Talk to a human",
        "payload": "HUMAN",
    }
    msg = platform.one(postback=postback)
    assert (msg.type, msg.event, msg.text) == ("event", "postback", "Talk to a human")
    assert msg.platform_message_id == postback["mid"]


def test_a_postback_without_a_mid_is_deduplicated_on_sender_and_time():
    msg = messenger.one(postback={"title": "Get Started", "payload": "GET_STARTED"})
    assert msg.platform_message_id == f"postback#{PSID}#1458692752478"


def test_events_with_nothing_to_answer_are_skipped(platform):
    reaction = {"mid": MID, "action": "react", "reaction": "love", "emoji": "\u2764"}
    optin = {"type": "notification_messages", "payload": "x"}
    assert (
        platform.parse(platform.update(platform.event(reaction=reaction), platform.event(optin=optin))) == []
    )


def test_every_event_of_a_batch_is_kept_in_order(platform):
    events = [platform.event(message={"mid": f"m_{i}", "text": str(i)}) for i in range(3)]
    assert [m.text for m in platform.parse(platform.update(*events))] == ["0", "1", "2"]


def test_a_delivery_for_another_app_object_is_400():
    with pytest.raises(BadRequest):
        messenger.parse(instagram_update(messenger.event(message={"mid": MID, "text": "hi"})))


@pytest.mark.parametrize(
    "event",
    [
        {"recipient": {"id": PAGE_ID}, "timestamp": 1, "message": {"mid": MID, "text": "no sender"}},
        {"sender": "6534214309937467", "recipient": {"id": PAGE_ID}, "timestamp": 1, "message": {"mid": MID}},
        messaging_event(PSID, PAGE_ID, message={"text": "no mid"}),
        messaging_event(PSID, PAGE_ID, message={"mid": MID, "text": ["not", "text"]}),
        messaging_event(PSID, PAGE_ID, message="hello"),
        messaging_event(PSID, PAGE_ID, message={"mid": MID, "attachments": {"type": "image"}}),
        {**messaging_event(PSID, PAGE_ID, message={"mid": MID, "text": "t"}), "timestamp": "noon"},
        messaging_event(
            PSID,
            PAGE_ID,
            message={
                "mid": MID,
                "attachments": [{"type": "location", "payload": {"coordinates": {"lat": "x", "long": 1}}}],
            },
        ),
    ],
)
def test_events_that_are_not_metas_shape_are_400(event):
    with pytest.raises(BadRequest):
        messenger.parse(page_update(event))


def test_messaging_that_is_not_a_list_is_400():
    update = page_update()
    update["entry"][0]["messaging"] = {"sender": {"id": PSID}}
    with pytest.raises(BadRequest):
        messenger.parse(update)


# ---- replies ------------------------------------------------------------------------------------
def outbound(platform: Platform, text: str = "We are on it.", **kw: Any) -> OutboundMessage:
    return OutboundMessage(
        message_id="c1#2",
        conversation_id="c1",
        seq=2,
        customer_id="k1",
        channel=platform.adapter.name,
        channel_user_id=platform.customer,
        text=text,
        **kw,
    )


def ago(**delta: float) -> dict[str, str]:
    return {"last_inbound_at": iso(utcnow() - timedelta(**delta))}


@responses.activate
@pytest.mark.parametrize("context", [{}, ago(hours=2)])
def test_a_reply_within_24_hours_is_a_standard_response(platform, context):
    responses.post(SEND_URL, json={"recipient_id": platform.customer, "message_id": "m_reply_1"})
    result = platform.adapter.send(outbound(platform, reply_context=context), platform.creds, LiveTransport())
    assert (result.status, result.platform_message_id) == ("sent", "m_reply_1")
    [call] = responses.calls
    assert call.request.headers["Authorization"] == f"Bearer {platform.creds['page_access_token']}"
    assert json.loads(call.request.body) == {
        "recipient": {"id": platform.customer},
        "messaging_type": "RESPONSE",
        "message": {"text": "We are on it."},
    }


@responses.activate
def test_a_reply_after_24_hours_is_tagged_human_agent(platform):
    responses.post(SEND_URL, json={"recipient_id": platform.customer, "message_id": "m_reply_2"})
    result = platform.adapter.send(
        outbound(platform, reply_context=ago(hours=30)), platform.creds, LiveTransport()
    )
    assert result.status == "sent"
    assert json.loads(responses.calls[0].request.body) == {
        "recipient": {"id": platform.customer},
        "messaging_type": "MESSAGE_TAG",
        "tag": "HUMAN_AGENT",
        "message": {"text": "We are on it."},
    }


@responses.activate
def test_a_reply_after_7_days_is_refused_without_calling_meta(platform):
    result = platform.adapter.send(
        outbound(platform, reply_context=ago(days=8)), platform.creds, LiveTransport()
    )
    assert (result.status, result.retryable) == ("failed", False)
    assert result.error == "outside the 7-day human agent window: the customer must write first"
    assert len(responses.calls) == 0


@responses.activate
def test_metas_window_error_is_final_with_advice(platform):
    error = {
        "message": "(#10) This message is sent outside of allowed window.",
        "type": "OAuthException",
        "code": 10,
        "error_subcode": 2018278,
        "fbtrace_id": "H2l7GjJ3mCl",
    }
    responses.post(SEND_URL, status=400, json={"error": error})
    result = platform.adapter.send(outbound(platform), platform.creds, LiveTransport())
    assert (result.status, result.retryable) == ("failed", False)
    assert result.error == "outside the 7-day human agent window: the customer must write first"


@responses.activate
@pytest.mark.parametrize(
    ("code", "retryable"), [(613, True), (4, True), (2, True), (100, False), (551, False)]
)
def test_send_api_errors_are_classified(platform, code, retryable):
    responses.post(
        SEND_URL, status=400, json={"error": {"message": "x", "type": "OAuthException", "code": code}}
    )
    result = platform.adapter.send(outbound(platform), platform.creds, LiveTransport())
    assert (result.status, result.retryable) == ("failed", retryable)


@responses.activate
def test_a_network_failure_is_retried(platform):
    responses.post(SEND_URL, body=requests.Timeout("read timed out"))
    result = platform.adapter.send(outbound(platform), platform.creds, LiveTransport())
    assert (result.status, result.retryable) == ("failed", True)


def test_templates_are_not_offered_nor_sent(platform):
    assert platform.adapter.templates({**platform.creds, "templates": [{"name": "x"}]}) == []
    result = platform.adapter.send(
        outbound(platform, template=TemplateRef(name="x")), platform.creds, RecordingTransport()
    )
    assert (result.status, result.retryable) == ("failed", False)


def test_the_reply_window_is_the_human_agent_tags_seven_days(platform):
    assert platform.adapter.reply_window == 7 * 24 * 3600


def test_each_platform_needs_the_app_secret_verify_token_page_token_and_its_asset_id(platform):
    assert set(platform.adapter.credential_fields) == set(platform.creds)


def test_the_local_stack_records_the_exact_request_instead_of_sending(platform):
    http = RecordingTransport()
    result = platform.adapter.send(outbound(platform, reply_context=ago(hours=30)), platform.creds, http)
    assert result.status == "sent_local"
    [call] = http.calls
    assert (call.method, call.url) == ("POST", SEND_URL)
    assert call.json["tag"] == "HUMAN_AGENT"
    assert call.redacted()["headers"]["authorization"] == "***"
