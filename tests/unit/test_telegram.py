"""The telegram channel without AWS: updates are built with python-telegram-bot's own classes and read
back with ``telegram.Update.de_json``, so our field handling is checked against the real library's
model of the same payload; outbound requests are compared with the ones python-telegram-bot's
``Bot`` makes for the same call, and asserted at the HTTP level with ``responses``."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import pytest
import responses
import telegram
from telegram.request import BaseRequest

from chalicelib.channels import telegram as tg
from chalicelib.channels.base import BadRequest, Forbidden, Unauthorized, WebhookRequest
from chalicelib.channels.transport import LiveTransport, RecordingTransport
from chalicelib.messages import InboundMessage, OutboundMessage

BOT_TOKEN = "5000000001:AAtest-bot-token"
CREDS = {"bot_token": BOT_TOKEN, "secret_token": "the-secret_token-1"}
BOT = telegram.Bot(BOT_TOKEN)
WHEN = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)
CUSTOMER = telegram.User(id=424242, first_name="Anna", last_name="Lee", is_bot=False, username="annalee")
CHAT = telegram.Chat(id=424242, type="private")
SEND_URL = f"https://api.telegram.org/bot{BOT_TOKEN}/sendMessage"


# ---- building deliveries with python-telegram-bot ---------------------------------------------------


def message(**content: Any) -> telegram.Message:
    content.setdefault("from_user", CUSTOMER)
    return telegram.Message(message_id=77, date=WHEN, chat=CHAT, **content)


def update_body(update_id: int = 1001, **kinds: Any) -> bytes:
    """An Update as Telegram serializes it (python-telegram-bot's ``to_json``)."""
    return telegram.Update(update_id=update_id, **kinds).to_json().encode()


def request(
    body: bytes, *, secret: str | None = CREDS["secret_token"], account: str | None = None
) -> WebhookRequest:
    headers = {"content-type": "application/json"}
    if secret is not None:
        headers[tg.SECRET_HEADER] = secret
    return WebhookRequest(
        method="POST",
        channel="telegram",
        path_parts=(account,) if account else (),
        headers=headers,
        query={},
        body=body,
        url="https://omniflow.test/webhooks/telegram",
    )


def parse(body: bytes) -> tuple[InboundMessage, telegram.Update]:
    """Our normalization next to the library's reading of the same bytes."""
    [msg] = tg.ADAPTER.parse(request(body), CREDS)
    return msg, telegram.Update.de_json(json.loads(body), BOT)


# ---- authentication ----------------------------------------------------------------------------------


def test_the_secret_token_header_authenticates_the_update():
    tg.ADAPTER.verify(request(update_body(message=message(text="hi"))), CREDS)


def test_a_missing_secret_token_is_401_and_a_wrong_one_403():
    body = update_body(message=message(text="hi"))
    with pytest.raises(Unauthorized):
        tg.ADAPTER.verify(request(body, secret=None), CREDS)
    with pytest.raises(Unauthorized):
        tg.ADAPTER.verify(request(body, secret=""), CREDS)
    with pytest.raises(Forbidden):
        tg.ADAPTER.verify(request(body, secret="the-secret_token-2"), CREDS)
    with pytest.raises(Forbidden):  # a prefix is not the secret
        tg.ADAPTER.verify(request(body, secret="the-secret"), CREDS)


# ---- message types -----------------------------------------------------------------------------------


def test_text_message_uses_the_chat_as_the_customer_and_from_for_the_name():
    msg, update = parse(update_body(message=message(text="Where is my order #123?")))
    assert msg.channel_user_id == str(update.effective_chat.id) == "424242"
    assert msg.hints.display_name == update.effective_user.full_name == "Anna Lee"
    assert (msg.type, msg.text) == ("text", update.message.text)
    assert msg.platform_message_id == str(update.update_id) == "1001"
    assert msg.dedupe_key == "telegram#default#1001"
    assert msg.sent_at == update.message.date == WHEN
    assert msg.hints.verified == ()


def test_display_name_falls_back_to_the_username():
    nameless = telegram.User(id=5, first_name="", is_bot=False, username="shy_user")
    msg, update = parse(update_body(message=message(text="hi", from_user=nameless)))
    assert msg.hints.display_name == update.effective_user.username == "shy_user"


def test_photo_keeps_the_largest_size_and_the_caption():
    sizes = (
        telegram.PhotoSize("small-id", "u1", 90, 60, file_size=1000),
        telegram.PhotoSize("large-id", "u3", 1280, 853, file_size=90000),
        telegram.PhotoSize("medium-id", "u2", 320, 213, file_size=9000),
    )
    msg, update = parse(update_body(message=message(photo=sizes, caption="the broken part")))
    largest = max(update.message.photo, key=lambda p: p.width * p.height)
    assert msg.type == "image" and msg.text == update.message.caption
    [attachment] = msg.attachments
    assert (attachment.kind, attachment.media_id, attachment.size) == (
        "image",
        largest.file_id,
        largest.file_size,
    )


def test_document_becomes_a_file_with_name_type_and_size():
    doc = telegram.Document(
        "doc-id", "doc-u", file_name="invoice.pdf", mime_type="application/pdf", file_size=2048
    )
    msg, update = parse(update_body(message=message(document=doc)))
    [attachment] = msg.attachments
    assert msg.type == "file"
    assert (attachment.media_id, attachment.name, attachment.mime_type, attachment.size) == (
        update.message.document.file_id,
        update.message.document.file_name,
        "application/pdf",
        2048,
    )


def test_voice_note_becomes_voice():
    voice = telegram.Voice("voice-id", "voice-u", duration=4, mime_type="audio/ogg", file_size=5000)
    msg, update = parse(update_body(message=message(voice=voice)))
    [attachment] = msg.attachments
    assert (msg.type, attachment.kind, attachment.media_id, attachment.mime_type) == (
        "voice",
        "voice",
        update.message.voice.file_id,
        "audio/ogg",
    )


def test_video_becomes_video():
    video = telegram.Video("video-id", "video-u", width=640, height=480, duration=10)
    msg, _ = parse(update_body(message=message(video=video, caption="see")))
    assert (msg.type, msg.text, msg.attachments[0].media_id) == ("video", "see", "video-id")


def test_location_and_venue():
    msg, update = parse(
        update_body(message=message(location=telegram.Location(longitude=13.405, latitude=52.52)))
    )
    assert msg.type == "location"
    assert (msg.location.latitude, msg.location.longitude) == (
        update.message.location.latitude,
        update.message.location.longitude,
    )
    venue = telegram.Venue(
        telegram.Location(longitude=2.2945, latitude=48.8584), "Eiffel Tower", "Champ de Mars"
    )
    msg, update = parse(update_body(update_id=1002, message=message(venue=venue, location=venue.location)))
    assert msg.location.label == "Eiffel Tower, Champ de Mars"


def test_sticker_is_shown_as_text_with_its_emoji():
    sticker = telegram.Sticker("st-id", "st-u", 512, 512, False, False, "regular", emoji="👍")
    msg, update = parse(update_body(message=message(sticker=sticker)))
    assert (msg.type, msg.text) == ("text", f"[sticker {update.message.sticker.emoji}]")


def test_own_contact_is_a_verified_phone_but_someone_elses_is_not():
    own = telegram.Contact(phone_number="4915112345678", first_name="Anna", user_id=CUSTOMER.id)
    msg, update = parse(update_body(message=message(contact=own)))
    assert update.message.contact.user_id == update.effective_user.id
    assert (msg.hints.phone, msg.hints.verified) == ("+4915112345678", ("phone",))
    assert msg.text == "[contact] Anna 4915112345678"

    friend = telegram.Contact(phone_number="+4915199999999", first_name="Bob", user_id=999)
    msg, _ = parse(update_body(update_id=1003, message=message(contact=friend)))
    assert (msg.hints.phone, msg.hints.verified) == (None, ())
    assert "+4915199999999" in msg.text  # the agent still sees it


def test_unknown_content_is_kept_as_a_placeholder():
    dice = telegram.Dice(value=6, emoji="🎲")
    msg, _ = parse(update_body(message=message(dice=dice)))
    assert (msg.type, msg.text) == ("text", "[unsupported Telegram message: dice]")


def test_edited_message_is_an_event_with_the_new_text_at_the_edit_time():
    edited_at = datetime(2024, 5, 1, 12, 5, tzinfo=UTC)
    msg, update = parse(
        update_body(update_id=1010, edited_message=message(text="order #124, sorry", edit_date=edited_at))
    )
    assert (msg.type, msg.event, msg.text) == ("event", "message_edited", update.edited_message.text)
    assert msg.sent_at == update.edited_message.edit_date
    assert msg.platform_message_id == "1010"


def test_callback_query_is_an_event_with_the_button_data_and_is_answered_in_the_response():
    query = telegram.CallbackQuery(
        id="cbq-1", from_user=CUSTOMER, chat_instance="ci", data="rate:5", message=message(text="Rate us")
    )
    body = update_body(update_id=1020, callback_query=query)
    msg, update = parse(body)
    assert (msg.type, msg.event, msg.text) == ("event", "callback_query", update.callback_query.data)
    assert msg.channel_user_id == str(update.effective_chat.id)
    response = tg.ADAPTER.acknowledge(request(body), [msg])
    assert json.loads(response.body) == {"method": "answerCallbackQuery", "callback_query_id": "cbq-1"}


def test_update_types_we_do_not_subscribe_to_are_acknowledged_and_dropped():
    channel = telegram.Chat(id=-100777, type="channel", title="News")
    post = telegram.Message(message_id=1, date=WHEN, chat=channel, text="we posted")
    assert tg.ADAPTER.parse(request(update_body(channel_post=post)), CREDS) == []


def test_group_messages_answer_the_group():
    group = telegram.Chat(id=-100123, type="supergroup", title="Buyers")
    body = telegram.Update(
        update_id=1,
        message=telegram.Message(message_id=1, date=WHEN, chat=group, from_user=CUSTOMER, text="hi all"),
    ).to_json()
    msg, _ = parse(body.encode())
    assert (msg.channel_user_id, msg.hints.display_name) == ("-100123", "Anna Lee")


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[]",
        b"{}",  # no update_id
        b'{"update_id": "1"}',
        b'{"update_id": 1, "message": "hi"}',
        b'{"update_id": 1, "message": {"message_id": 1, "date": 1700000000, "text": "no chat"}}',
        b'{"update_id": 1, "message": {"message_id": 1, "date": "today", "chat": {"id": 1}, "text": "x"}}',
        b'{"update_id": 1, "message": {"message_id": 1, "date": 1700000000, "chat": {"id": 1}, "photo": []}}',
        b'{"update_id": 1, "message": {"message_id": 1, "date": 1700000000, "chat": {"id": 1},'
        b' "location": {"latitude": 91, "longitude": 0}}}',
        b'{"update_id": 1, "callback_query": {"id": "q", "data": "x"}}',
        b"[" * 100_000,
    ],
)
def test_malformed_updates_are_bad_requests(body):
    with pytest.raises(BadRequest):
        tg.ADAPTER.parse(request(body), CREDS)


# ---- outbound ----------------------------------------------------------------------------------------


class _Capture(BaseRequest):
    """python-telegram-bot's transport hook: records what its Bot would send."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    async def initialize(self) -> None:
        pass

    async def shutdown(self) -> None:
        pass

    @property
    def read_timeout(self) -> float | None:
        return None

    async def do_request(self, url, method, request_data=None, **timeouts):  # type: ignore[override]
        params = {
            k: json.loads(v) if v[:1] in "[{" else v for k, v in (request_data.json_parameters or {}).items()
        }
        self.calls.append((url, params))
        chat = {"id": 1, "type": "private"}
        return 200, json.dumps({"ok": True, "result": {"message_id": 1, "date": 1, "chat": chat}}).encode()


def library_request(call: str, **kwargs: Any) -> tuple[str, dict[str, Any]]:
    capture = _Capture()
    bot = telegram.Bot(BOT_TOKEN, request=capture, get_updates_request=_Capture())
    asyncio.run(getattr(bot, call)(**kwargs))
    [sent] = capture.calls
    return sent


def reply(text: str = "Your order ships today 🚚", to: str = "424242") -> OutboundMessage:
    return OutboundMessage(
        message_id="conv-1#3",
        conversation_id="conv-1",
        seq=3,
        customer_id="cust-1",
        channel="telegram",
        channel_user_id=to,
        text=text,
    )


@responses.activate
def test_send_posts_what_the_library_would_and_returns_the_message_id():
    responses.post(
        SEND_URL,
        json={
            "ok": True,
            "result": {"message_id": 9001, "date": 1, "chat": {"id": 424242, "type": "private"}},
        },
    )
    result = tg.ADAPTER.send(reply(), CREDS, LiveTransport())
    assert (result.status, result.platform_message_id, result.retryable) == ("sent", "9001", False)
    [call] = responses.calls
    assert call.request.headers["content-type"] == "application/json"
    url, params = library_request("send_message", chat_id=424242, text="Your order ships today 🚚")
    assert call.request.url == url == SEND_URL
    sent = json.loads(call.request.body)
    assert sent == {"chat_id": 424242, "text": "Your order ships today 🚚"}
    assert {k: str(v) for k, v in sent.items()} == params  # the library sends every value as a string


@responses.activate
def test_rate_limit_is_retryable_with_telegrams_wait():
    responses.post(
        SEND_URL,
        status=429,
        json={
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 7",
            "parameters": {"retry_after": 7},
        },
    )
    result = tg.ADAPTER.send(reply(), CREDS, LiveTransport())
    assert (result.status, result.retryable, result.error) == (
        "failed",
        True,
        "Telegram rate limit: retry after 7 s",
    )


@responses.activate
def test_a_blocked_bot_is_a_permanent_failure_the_agent_understands():
    responses.post(
        SEND_URL,
        status=403,
        json={"ok": False, "error_code": 403, "description": "Forbidden: bot was blocked by the user"},
    )
    result = tg.ADAPTER.send(reply(), CREDS, LiveTransport())
    assert (result.status, result.retryable, result.error) == (
        "failed",
        False,
        "the customer blocked the bot",
    )


@pytest.mark.parametrize(
    ("status", "description", "retryable", "error"),
    [
        (400, "Bad Request: chat not found", False, "Telegram: Bad Request: chat not found"),
        (401, "Unauthorized", False, "Telegram rejected the bot token"),
        (404, "Not Found", False, "Telegram rejected the bot token"),
        (502, "Bad Gateway", True, "Telegram: Bad Gateway"),
    ],
)
@responses.activate
def test_other_errors_are_classified(status, description, retryable, error):
    responses.post(
        SEND_URL, status=status, json={"ok": False, "error_code": status, "description": description}
    )
    result = tg.ADAPTER.send(reply(), CREDS, LiveTransport())
    assert (result.status, result.retryable, result.error) == ("failed", retryable, error)


@responses.activate
def test_a_network_failure_is_retryable_and_does_not_leak_the_bot_token():
    import requests

    responses.post(SEND_URL, body=requests.ConnectionError("boom"))
    result = tg.ADAPTER.send(reply(), CREDS, LiveTransport())
    assert (result.status, result.retryable) == ("failed", True)
    assert BOT_TOKEN not in (result.error or "") and "ConnectionError" in (result.error or "")


@responses.activate
def test_a_reply_too_long_for_telegram_is_refused_without_a_call():
    result = tg.ADAPTER.send(reply("x" * (tg.MAX_TEXT + 1)), CREDS, LiveTransport())
    assert (result.status, result.retryable) == ("failed", False)
    assert not responses.calls


def test_recording_mode_records_the_call_without_the_bot_token():
    http = RecordingTransport()
    result = tg.ADAPTER.send(reply(to="-100123"), CREDS, http)
    assert result.status == "sent_local"
    [call] = http.calls
    assert call.url == f"https://api.telegram.org/bot{tg.LOCAL_BOT_TOKEN}/sendMessage"
    assert BOT_TOKEN not in json.dumps(call.redacted())
    assert json.loads(call.data) == {"chat_id": -100123, "text": "Your order ships today 🚚"}


def test_set_webhook_call_matches_the_librarys_set_webhook():
    call = tg.set_webhook_call("https://hooks.example.com/", CREDS)
    url, params = library_request(
        "set_webhook",
        url="https://hooks.example.com/webhooks/telegram",
        secret_token=CREDS["secret_token"],
        allowed_updates=list(tg.ALLOWED_UPDATES),
    )
    assert (call.method, call.url) == ("POST", url)
    assert call.json == params
    other = tg.set_webhook_call("https://hooks.example.com", CREDS, account="shop2")
    assert other.json["url"] == "https://hooks.example.com/webhooks/telegram/shop2"
