"""The whatsapp channel without AWS: Meta's documented webhook payloads normalized (cross-checked
against pywa's own parsing), status reports, and replies asserted at the HTTP level — free text,
templates, the 24 h window and Graph API errors."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import requests
import responses
from pywa import WhatsApp
from pywa.types import Message, MessageStatus
from pywa.types.templates import BodyText, TemplateLanguage

from chalicelib.channels.base import BadRequest, WebhookRequest
from chalicelib.channels.transport import LiveTransport, RecordingTransport
from chalicelib.channels.whatsapp import ADAPTER
from chalicelib.messages import InboundMessage, OutboundMessage, TemplateRef, iso, utcnow
from tests.support.meta_payloads import (
    CUSTOMER_BSUID,
    CUSTOMER_WA_ID,
    OUR_WAMID,
    PHONE_NUMBER_ID,
    RE_ENGAGEMENT_ERROR,
    WAMID,
    raw,
    wa_message,
    wa_status,
    wa_text,
    whatsapp_update,
)

CREDS: dict[str, Any] = {
    "app_secret": "s",
    "verify_token": "v",
    "access_token": "EAAGm0PX4ZCpsBA-token",
    "phone_number_id": PHONE_NUMBER_ID,
}
MESSAGES_URL = f"https://graph.facebook.com/v21.0/{PHONE_NUMBER_ID}/messages"
SENT = {
    "messaging_product": "whatsapp",
    "contacts": [{"input": CUSTOMER_WA_ID, "wa_id": CUSTOMER_WA_ID}],
    "messages": [{"id": OUR_WAMID}],
}


def parse(payload: Any, creds: dict[str, Any] = CREDS, body: bytes | None = None) -> list[InboundMessage]:
    req = WebhookRequest(
        method="POST",
        channel="whatsapp",
        path_parts=(),
        headers={},
        query={},
        body=raw(payload) if body is None else body,
        url="https://omniflow.test/webhooks/whatsapp",
    )
    return list(ADAPTER.parse(req, creds))


def one(message: dict[str, Any]) -> InboundMessage:
    [msg] = parse(whatsapp_update(messages=[message]))
    return msg


@pytest.fixture(scope="module")
def pywa_client() -> WhatsApp:
    offline = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(599)))
    return WhatsApp(phone_id=PHONE_NUMBER_ID, token="t", session=offline, server=None)


# ---- inbound messages ---------------------------------------------------------------------------
def test_the_documented_text_message_becomes_a_verified_phone_identity():
    msg = one(wa_text())
    assert (msg.channel, msg.account, msg.channel_user_id) == ("whatsapp", "default", CUSTOMER_WA_ID)
    assert (msg.type, msg.text) == ("text", "Does it come in another color?")
    assert msg.platform_message_id == WAMID
    assert msg.sent_at == datetime(2025, 6, 8, 20, 59, 43, tzinfo=UTC)
    assert msg.hints.display_name == "Sheena Nelson"
    assert msg.hints.phone == "+16505551234"
    assert msg.hints.verified == ("phone",)
    assert msg.dedupe_key == f"whatsapp#default#{WAMID}"


IMAGE = {
    "caption": "This is a caption",
    "mime_type": "image/jpeg",
    "sha256": "81d3bd8a8db4868c9520ed47186e8b7c5789e61ff79f7f834be6950b808a90d3",
    "id": "2754859441498128",
}


@pytest.mark.parametrize(
    ("msg_type", "content", "kind", "text", "name"),
    [
        ("image", IMAGE, "image", "This is a caption", None),
        (
            "sticker",
            {"mime_type": "image/webp", "sha256": "abc", "id": "1001", "animated": False},
            "image",
            "",
            None,
        ),
        (
            "audio",
            {"mime_type": "audio/ogg; codecs=opus", "sha256": "abc", "id": "1002", "voice": True},
            "voice",
            "",
            None,
        ),
        (
            "video",
            {"mime_type": "video/mp4", "sha256": "abc", "id": "1003", "caption": "unboxing"},
            "video",
            "unboxing",
            None,
        ),
        (
            "document",
            {"filename": "invoice-42.pdf", "mime_type": "application/pdf", "sha256": "abc", "id": "1004"},
            "file",
            "",
            "invoice-42.pdf",
        ),
    ],
)
def test_media_arrive_as_media_ids_with_their_caption(msg_type, content, kind, text, name):
    msg = one(wa_message(msg_type, content))
    assert (msg.type, msg.text) == (kind, text)
    [attachment] = msg.attachments
    assert (attachment.kind, attachment.media_id) == (kind, content["id"])
    assert attachment.mime_type == content["mime_type"]
    assert attachment.name == name
    assert attachment.url is None  # fetched on demand with the account's token, not in the webhook


def test_a_location_keeps_its_coordinates_and_place():
    msg = one(
        wa_message(
            "location",
            {
                "latitude": 37.4847,
                "longitude": -122.1477,
                "name": "Meta HQ",
                "address": "1 Hacker Way, Menlo Park",
            },
        )
    )
    assert msg.type == "location"
    assert msg.location is not None
    assert (msg.location.latitude, msg.location.longitude) == (37.4847, -122.1477)
    assert msg.location.label == "Meta HQ, 1 Hacker Way, Menlo Park"


def test_shared_contact_cards_are_readable_text():
    cards = [
        {
            "name": {"formatted_name": "Barbara Johnson", "first_name": "Barbara"},
            "phones": [{"phone": "+1 (940) 555-1234", "type": "HOME", "wa_id": "19405551234"}],
        }
    ]
    msg = one(wa_message("contacts", cards))
    assert (msg.type, msg.text) == ("text", "Barbara Johnson: +1 (940) 555-1234")


@pytest.mark.parametrize(
    ("msg_type", "content", "text"),
    [
        (
            "interactive",
            {"type": "button_reply", "button_reply": {"id": "yes-1", "title": "Yes, reschedule"}},
            "Yes, reschedule",
        ),
        (
            "interactive",
            {
                "type": "list_reply",
                "list_reply": {"id": "size-m", "title": "Medium", "description": "Fits 38-40"},
            },
            "Medium",
        ),
        ("button", {"payload": "STOP_PROMOS", "text": "Stop promotions"}, "Stop promotions"),
    ],
)
def test_button_and_list_replies_read_as_what_the_customer_tapped(msg_type, content, text):
    msg = one(wa_message(msg_type, content))
    assert (msg.type, msg.text) == ("text", text)


def test_a_reaction_is_an_event_and_an_empty_emoji_takes_it_back():
    reacted = one(wa_message("reaction", {"message_id": OUR_WAMID, "emoji": "\U0001f44d"}))
    assert (reacted.type, reacted.event, reacted.text) == ("event", "reaction", "\U0001f44d")
    removed = one(wa_message("reaction", {"message_id": OUR_WAMID, "emoji": ""}, wamid="wamid.other"))
    assert (removed.event, removed.text) == ("reaction", "")


def test_unsupported_messages_are_kept_with_metas_reason():
    message = {
        "from": CUSTOMER_WA_ID,
        "id": WAMID,
        "timestamp": "1749416383",
        "type": "unsupported",
        "errors": [{"code": 131051, "title": "Message type unknown", "message": "Message type unknown"}],
    }
    msg = one(message)
    assert msg.type == "text"
    assert (
        msg.text
        == "[unsupported WhatsApp message type: unsupported] Graph error 131051: Message type unknown"
    )


def test_a_type_we_do_not_know_yet_is_kept_not_dropped():
    msg = one(wa_message("order", {"catalog_id": "1", "product_items": []}))
    assert msg.text == "[unsupported WhatsApp message type: order]"


def test_a_username_user_without_a_phone_is_known_by_the_business_scoped_id_and_not_verified():
    message = wa_text("hi")
    del message["from"]
    contacts = [{"profile": {"name": "Bob", "username": "@bob"}, "user_id": CUSTOMER_BSUID}]
    [msg] = parse(whatsapp_update(messages=[message], contacts=contacts))
    assert msg.channel_user_id == CUSTOMER_BSUID
    assert msg.hints.display_name == "Bob"
    assert (msg.hints.phone, msg.hints.verified) == (None, ())


@pytest.mark.parametrize(
    "message",
    [
        wa_text(),
        wa_message("image", IMAGE),
        wa_message("location", {"latitude": 37.4847, "longitude": -122.1477, "name": "Meta HQ"}),
        wa_message(
            "document", {"filename": "a.pdf", "mime_type": "application/pdf", "sha256": "x", "id": "77"}
        ),
    ],
)
def test_pywa_reads_the_same_message_from_the_same_payload(pywa_client, message):
    """An independent parser agrees on sender, id, time and content: our fixtures are in Meta's
    shape and our normalization reads them as the platform means them."""
    update = whatsapp_update(messages=[message])
    theirs = Message.from_update(pywa_client, update)
    ours = one(message)
    assert ours.channel_user_id == theirs.from_user.wa_id
    assert ours.hints.display_name == theirs.from_user.name
    assert ours.platform_message_id == theirs.id
    assert ours.sent_at == theirs.timestamp
    if theirs.text is not None:
        assert ours.text == theirs.text
    if theirs.location is not None:
        assert ours.location is not None
        assert (ours.location.latitude, ours.location.longitude) == (
            theirs.location.latitude,
            theirs.location.longitude,
        )
    media = theirs.image or theirs.document
    if media is not None:
        assert ours.attachments[0].media_id == media.id
        assert ours.text == (theirs.caption or "")


def test_every_message_of_a_batch_is_normalized_in_order():
    update = whatsapp_update(messages=[wa_text("one", wamid="wamid.1"), wa_text("two", wamid="wamid.2")])
    update["entry"].append(whatsapp_update(messages=[wa_text("three", wamid="wamid.3")])["entry"][0])
    assert [m.text for m in parse(update)] == ["one", "two", "three"]


def test_changes_other_than_messages_are_ignored():
    update = whatsapp_update(field="message_template_status_update")
    update["entry"][0]["changes"][0]["value"] = {"event": "APPROVED", "message_template_name": "order_update"}
    assert parse(update) == []


# ---- status reports -----------------------------------------------------------------------------
@pytest.mark.parametrize("state", ["delivered", "read"])
def test_delivered_and_read_reports_become_status_messages_about_our_wamid(state):
    [report] = parse(whatsapp_update(statuses=[wa_status(state)]))
    assert report.type == "status"
    assert report.status is not None
    assert (report.status.platform_message_id, report.status.state, report.status.error) == (
        OUR_WAMID,
        state,
        None,
    )
    assert report.platform_message_id == f"{OUR_WAMID}:{state}"
    assert report.channel_user_id == CUSTOMER_WA_ID


def test_a_failed_report_outside_the_window_tells_the_agent_to_send_a_template():
    [report] = parse(whatsapp_update(statuses=[wa_status("failed", errors=[RE_ENGAGEMENT_ERROR])]))
    assert report.status is not None
    assert report.status.state == "failed"
    assert report.status.error == "outside the 24 h window: send a template"


def test_sent_reports_are_skipped():
    assert parse(whatsapp_update(statuses=[wa_status("sent")])) == []


def test_pywa_reads_the_same_status_report(pywa_client):
    update = whatsapp_update(statuses=[wa_status("read")])
    update["entry"][0]["changes"][0]["value"]["contacts"] = [
        {"wa_id": CUSTOMER_WA_ID, "user_id": CUSTOMER_BSUID}
    ]
    theirs = MessageStatus.from_update(pywa_client, update)
    [ours] = parse(update)
    assert ours.status is not None
    assert (ours.status.platform_message_id, ours.status.state) == (theirs.id, str(theirs.status))
    assert ours.sent_at == theirs.timestamp


# ---- accounts -----------------------------------------------------------------------------------
def test_the_account_is_the_one_configured_with_the_delivering_phone_number():
    [msg] = parse(whatsapp_update(messages=[wa_text()]), {**CREDS, "phone_number_id": PHONE_NUMBER_ID})
    assert msg.account == "default"


# ---- malformed bodies ---------------------------------------------------------------------------
def bad(mutate) -> dict[str, Any]:
    update = whatsapp_update(messages=[wa_text()])
    mutate(update)
    return update


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"object": "page", "entry": []},
        {"object": "whatsapp_business_account"},
        {"object": "whatsapp_business_account", "entry": {"id": "1"}},
        bad(lambda u: u["entry"][0].update(changes="nope")),
        bad(lambda u: u["entry"][0]["changes"][0]["value"].pop("metadata")),
        bad(lambda u: u["entry"][0]["changes"][0]["value"]["messages"][0].pop("id")),
        bad(lambda u: u["entry"][0]["changes"][0]["value"]["messages"][0].update(timestamp="yesterday")),
        bad(lambda u: u["entry"][0]["changes"][0]["value"]["messages"][0].update(type=7)),
        bad(
            lambda u: u["entry"][0]["changes"][0]["value"].update(
                contacts=[], messages=[wa_text(sender=None)]
            )
        ),
        bad(
            lambda u: u["entry"][0]["changes"][0]["value"].update(
                messages=[wa_message("location", {"latitude": 91})]
            )
        ),
        bad(
            lambda u: u["entry"][0]["changes"][0]["value"].update(messages=[wa_message("text", {"body": 5})])
        ),
    ],
)
def test_bodies_that_are_not_metas_shape_are_400(payload):
    with pytest.raises(BadRequest):
        parse(payload)


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe", b"[" * 100_000])
def test_a_body_that_is_not_json_is_400(body):
    with pytest.raises(BadRequest):
        parse(None, body=body)


# ---- replies: free text -------------------------------------------------------------------------
def outbound(
    text: str = "Yes, it also comes in blue.", *, to: str = CUSTOMER_WA_ID, **kw: Any
) -> OutboundMessage:
    return OutboundMessage(
        message_id="c1#2",
        conversation_id="c1",
        seq=2,
        customer_id="k1",
        channel="whatsapp",
        channel_user_id=to,
        text=text,
        **kw,
    )


def ago(**delta: float) -> dict[str, str]:
    return {"last_inbound_at": iso(utcnow() - timedelta(**delta))}


@responses.activate
def test_a_reply_is_posted_to_the_phone_numbers_messages_edge_with_a_bearer_token():
    responses.post(MESSAGES_URL, json=SENT)
    result = ADAPTER.send(outbound(), CREDS, LiveTransport())
    assert (result.status, result.platform_message_id) == ("sent", OUR_WAMID)
    [call] = responses.calls
    assert call.request.headers["Authorization"] == f"Bearer {CREDS['access_token']}"
    assert json.loads(call.request.body) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": CUSTOMER_WA_ID,
        "type": "text",
        "text": {"body": "Yes, it also comes in blue."},
    }


def pywa_request(send: Any) -> httpx.Request:
    """What pywa (an independent client) puts on the wire for the same send."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=SENT)

    client = WhatsApp(
        phone_id=PHONE_NUMBER_ID,
        token=CREDS["access_token"],
        session=httpx.Client(transport=httpx.MockTransport(answer)),
        api_version="21.0",
        server=None,
    )
    send(client)
    [request] = seen
    return request


@responses.activate
def test_a_text_reply_is_the_request_pywa_makes():
    responses.post(MESSAGES_URL, json=SENT)
    ADAPTER.send(outbound("hello"), CREDS, LiveTransport())
    theirs = pywa_request(lambda wa: wa.send_message(to=CUSTOMER_WA_ID, text="hello"))
    ours = responses.calls[0].request
    assert ours.url == str(theirs.url)
    assert ours.headers["Authorization"] == theirs.headers["authorization"]
    body, their_body = json.loads(ours.body), json.loads(theirs.content)
    their_body["text"].pop("preview_url")  # pywa states Meta's default explicitly
    assert body == their_body


@responses.activate
def test_free_text_within_24_hours_of_the_customer_goes_out():
    responses.post(MESSAGES_URL, json=SENT)
    assert ADAPTER.send(outbound(reply_context=ago(hours=23)), CREDS, LiveTransport()).status == "sent"


@responses.activate
def test_free_text_after_24_hours_is_refused_without_calling_meta():
    result = ADAPTER.send(outbound(reply_context=ago(hours=25)), CREDS, LiveTransport())
    assert (result.status, result.retryable) == ("failed", False)
    assert result.error == "outside the 24 h window: send a template"
    assert len(responses.calls) == 0


@responses.activate
def test_metas_re_engagement_error_is_final_with_advice():
    responses.post(
        MESSAGES_URL,
        status=400,
        json={
            "error": {
                "message": "(#131047) Re-engagement message",
                "type": "OAuthException",
                "code": 131047,
                "error_data": {"messaging_product": "whatsapp", "details": "more than 24 hours have passed"},
                "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam",
            }
        },
    )
    result = ADAPTER.send(outbound(), CREDS, LiveTransport())
    assert (result.status, result.retryable, result.error) == (
        "failed",
        False,
        "outside the 24 h window: send a template",
    )


@responses.activate
@pytest.mark.parametrize(
    ("code", "http", "retryable"),
    [
        (130429, 400, True),
        (80007, 400, True),
        (4, 400, True),
        (131000, 500, True),
        (100, 400, False),
        (10, 403, False),
        (190, 401, False),
    ],
)
def test_rate_limits_are_retried_and_permission_or_parameter_errors_are_final(code, http, retryable):
    responses.post(
        MESSAGES_URL, status=http, json={"error": {"message": "x", "type": "OAuthException", "code": code}}
    )
    result = ADAPTER.send(outbound(), CREDS, LiveTransport())
    assert (result.status, result.retryable) == ("failed", retryable)


@responses.activate
def test_a_network_failure_is_retried():
    responses.post(MESSAGES_URL, body=requests.ConnectionError("connection reset"))
    result = ADAPTER.send(outbound(), CREDS, LiveTransport())
    assert (result.status, result.retryable) == ("failed", True)


@responses.activate
def test_a_username_user_is_addressed_by_business_scoped_id():
    responses.post(MESSAGES_URL, json=SENT)
    ADAPTER.send(outbound(to=CUSTOMER_BSUID), CREDS, LiveTransport())
    body = json.loads(responses.calls[0].request.body)
    assert body["recipient"] == CUSTOMER_BSUID
    assert "to" not in body


# ---- replies: templates -------------------------------------------------------------------------
TEMPLATES = [
    {"name": "order_update", "language": "en_US", "params": 2, "preview": "Order {{1}} ships {{2}}."},
    {"name": "hello_world", "language": "en_US", "params": 0, "preview": "Hello World"},
]


@responses.activate
def test_a_template_goes_out_whatever_the_window_in_metas_template_shape():
    responses.post(MESSAGES_URL, json=SENT)
    msg = outbound(
        "",
        template=TemplateRef(name="order_update", language="en_US", params=("A-1042", "Friday")),
        reply_context=ago(days=3),
    )
    result = ADAPTER.send(msg, {**CREDS, "templates": TEMPLATES}, LiveTransport())
    assert (result.status, result.platform_message_id) == ("sent", OUR_WAMID)
    assert json.loads(responses.calls[0].request.body) == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": CUSTOMER_WA_ID,
        "type": "template",
        "template": {
            "name": "order_update",
            "language": {"code": "en_US"},
            "components": [
                {
                    "type": "body",
                    "parameters": [{"type": "text", "text": "A-1042"}, {"type": "text", "text": "Friday"}],
                }
            ],
        },
    }


@responses.activate
def test_a_template_is_the_request_pywa_makes():
    responses.post(MESSAGES_URL, json=SENT)
    ref = TemplateRef(name="order_update", language="en_US", params=("A-1042", "Friday"))
    ADAPTER.send(outbound("", template=ref), CREDS, LiveTransport())
    theirs = pywa_request(
        lambda wa: wa.send_template(
            to=CUSTOMER_WA_ID,
            name="order_update",
            language=TemplateLanguage.ENGLISH_US,
            params=[BodyText.params("A-1042", "Friday")],
        )
    )
    ours = json.loads(responses.calls[0].request.body)["template"]
    their_template = json.loads(theirs.content)["template"]
    assert (ours["name"], ours["language"]) == (their_template["name"], their_template["language"])
    [component], [their_component] = ours["components"], their_template["components"]
    assert component["type"].upper() == their_component["type"].upper()  # Meta takes either case
    assert component["parameters"] == their_component["parameters"]


@responses.activate
def test_a_template_without_parameters_has_no_components():
    responses.post(MESSAGES_URL, json=SENT)
    ADAPTER.send(
        outbound("", template=TemplateRef(name="hello_world", language="en_US")), CREDS, LiveTransport()
    )
    assert json.loads(responses.calls[0].request.body)["template"] == {
        "name": "hello_world",
        "language": {"code": "en_US"},
    }


@responses.activate
@pytest.mark.parametrize(
    ("ref", "error"),
    [
        (
            TemplateRef(name="spring_sale", language="en_US"),
            "template 'spring_sale' (en_US) is not configured for this account",
        ),
        (
            TemplateRef(name="order_update", language="de"),
            "template 'order_update' (de) is not configured for this account",
        ),
        (
            TemplateRef(name="order_update", language="en_US", params=("A-1042",)),
            "template 'order_update' takes 2 parameters, got 1",
        ),
    ],
)
def test_templates_the_account_does_not_list_are_refused_before_calling_meta(ref, error):
    result = ADAPTER.send(outbound("", template=ref), {**CREDS, "templates": TEMPLATES}, LiveTransport())
    assert (result.status, result.retryable, result.error) == ("failed", False, error)
    assert len(responses.calls) == 0


def test_the_agent_is_offered_the_accounts_templates_and_a_24_hour_window():
    assert ADAPTER.templates({**CREDS, "templates": TEMPLATES}) == TEMPLATES
    assert ADAPTER.templates({**CREDS, "templates": json.dumps(TEMPLATES)}) == TEMPLATES
    assert ADAPTER.templates({**CREDS, "templates": "[not json"}) == []
    assert ADAPTER.templates(CREDS) == []
    assert ADAPTER.reply_window == 24 * 3600


# ---- local stack --------------------------------------------------------------------------------
def test_the_local_stack_records_the_exact_request_instead_of_sending():
    http = RecordingTransport()
    result = ADAPTER.send(outbound(), CREDS, http)
    assert (result.status, result.platform_message_id) == ("sent_local", None)
    [call] = http.calls
    assert (call.method, call.url) == ("POST", MESSAGES_URL)
    assert call.json["text"] == {"body": "Yes, it also comes in blue."}
    shown = call.redacted()
    assert shown["headers"]["authorization"] == "***"
    assert CREDS["access_token"] not in json.dumps(shown)
