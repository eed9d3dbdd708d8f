"""The app channel's pure parts: request signatures, what a signed user vouches for, how each
message type is normalized, and the signed reply callback. No AWS: every check here fails before
the nonce would be written."""

from __future__ import annotations

import hashlib
import hmac
import importlib.util
import json
import time
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest
import responses

from chalicelib.channels.app import (
    ADAPTER,
    MAX_BATCH,
    account_keys,
    callback_body,
    inbound_message,
    sign,
    user_hints,
)
from chalicelib.channels.base import BadRequest, MethodNotAllowed, NotFound, Unauthorized, WebhookRequest
from chalicelib.channels.transport import HttpReply, LiveTransport, RecordingTransport, TransportError
from chalicelib.messages import OutboundMessage

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "examples" / "app_client.py"


def load_example() -> ModuleType:
    """docs/examples/app_client.py, imported from its file as an integrator would run it."""
    spec = importlib.util.spec_from_file_location("omniflow_app_client", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


CREDS = {"keys": {"k1": "secret-one", "k2": "secret-two"}}


def request(
    method: str = "POST",
    parts: tuple[str, ...] = (),
    headers: dict[str, str] | None = None,
    body: bytes = b"{}",
    query: str = "",
) -> WebhookRequest:
    return WebhookRequest(
        method=method,
        channel="app",
        path_parts=parts,
        headers={k.lower(): v for k, v in (headers or {}).items()},
        query={},
        body=body,
        url="https://omniflow.test/webhooks/app" + (f"?{query}" if query else ""),
    )


def signed(payload: bytes, *, key: str = "k1", secret: str = "secret-one", ts: int | None = None) -> dict:
    timestamp, nonce = str(int(time.time()) if ts is None else ts), "n" * 20
    mac = hmac.new(secret.encode(), f"{timestamp}\n{nonce}\n".encode() + payload, hashlib.sha256)
    return {
        "X-Omniflow-Key": key,
        "X-Omniflow-Timestamp": timestamp,
        "X-Omniflow-Nonce": nonce,
        "X-Omniflow-Signature": mac.hexdigest(),
    }


def entry(user: dict | None = None, **message) -> dict:
    return {"user": user or {"id": "u-1"}, "message": {"id": "m-1", "type": "text", "text": "hi"} | message}


# ---- signatures ------------------------------------------------------------------------------------


def test_the_signature_is_hex_hmac_sha256_over_timestamp_nonce_and_payload():
    expected = hmac.new(b"s", b'1700000000\nabc\n{"a":1}', hashlib.sha256).hexdigest()
    assert sign("s", "1700000000", "abc", b'{"a":1}') == expected


def test_the_documented_client_signs_exactly_like_the_channel():
    client = load_example()
    assert client.signature("s", "1", "nonce", b"body") == sign("s", "1", "nonce", b"body")


def test_keys_come_as_an_object_or_its_json_text_and_junk_means_no_keys():
    assert account_keys(CREDS) == CREDS["keys"]
    assert account_keys({"keys": json.dumps(CREDS["keys"])}) == CREDS["keys"]
    assert account_keys({"keys": "not json"}) == {}
    assert account_keys({"keys": ["k1"]}) == {}
    assert account_keys({"keys": {"k1": "", "k2": 3, "k3": "ok"}}) == {"k3": "ok"}


@pytest.mark.parametrize(
    ("headers", "reason"),
    [
        ({}, "are required"),
        (signed(b"{}", key="nope"), "unknown X-Omniflow-Key"),
        (signed(b"{}", key="k#1"), "unknown X-Omniflow-Key"),
        (signed(b"{}", ts=int(time.time()) - 301), "more than 300 s off"),
        (signed(b"{}", ts=int(time.time()) + 400), "more than 300 s off"),
        (signed(b"{}") | {"X-Omniflow-Timestamp": "12.5"}, "unix seconds"),
        (signed(b"{}") | {"X-Omniflow-Nonce": "short"}, "16..64"),
        (signed(b"{}") | {"X-Omniflow-Signature": "zz"}, "64 hex digits"),
        (signed(b"{}", secret="secret-two"), "does not match"),
        (signed(b'{"other":1}'), "does not match"),
    ],
)
def test_unsigned_stale_or_forged_requests_are_refused_before_any_write(headers, reason):
    with pytest.raises(Unauthorized, match=reason):
        ADAPTER.verify(request(headers=headers, body=b"{}"), CREDS)


def test_a_get_is_signed_over_the_raw_query_string_not_the_body():
    query = "user=u-1&after=2024-01-01T00%3A00%3A00.000Z"
    forged = request("GET", ("messages",), signed(b""), body=b"", query=query)
    with pytest.raises(Unauthorized, match="does not match"):
        ADAPTER.verify(forged, CREDS)
    assert ADAPTER._signed_payload(request("GET", ("messages",), body=b"x", query=query)) == query.encode()


# ---- routing ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("parts", "account"),
    [((), "default"), (("shop2",), "shop2"), (("messages",), "default"), (("shop2", "messages"), "shop2")],
)
def test_the_account_is_the_path_segment_before_the_action(parts, account):
    assert ADAPTER.account_of(request(parts=parts)) == account


@pytest.mark.parametrize(
    ("method", "parts", "error"),
    [
        ("GET", (), MethodNotAllowed),
        ("PUT", ("shop2",), MethodNotAllowed),
        ("POST", ("messages",), MethodNotAllowed),
        ("POST", ("shop2", "other"), NotFound),
        ("GET", ("shop2", "x", "messages"), NotFound),
    ],
)
def test_only_post_to_the_account_and_get_messages_exist(method, parts, error):
    with pytest.raises(error):
        ADAPTER.route(request(method, parts), CREDS)


def test_a_post_to_the_account_falls_through_to_the_standard_pipeline():
    assert ADAPTER.route(request("POST", ("shop2",)), CREDS) is None


# ---- what a signed user vouches for ------------------------------------------------------------------


def test_the_user_id_is_always_verified_phone_and_email_only_when_listed():
    hints = user_hints({"id": "u-1", "name": " Li Lei ", "phone": "+8613800138000", "email": "LI@X.CN"})
    assert hints.external_id == "u-1" and hints.verified == ("external_id",)
    assert (hints.display_name, hints.phone, hints.email) == ("Li Lei", "+8613800138000", "li@x.cn")
    both = user_hints(
        {"id": "u-1", "phone": "+8613800138000", "email": "li@x.cn", "verified": ["email", "phone"]}
    )
    assert both.verified == ("external_id", "phone", "email")


@pytest.mark.parametrize(
    "user",
    [
        {},
        {"id": ""},
        {"id": "a#b"},  # would forge another identity key
        {"id": "x" * 129},
        {"id": 42},
        {"id": "u", "phone": "13800138000"},  # not E.164
        {"id": "u", "email": "nobody"},
        {"id": "u", "verified": ["phone"]},  # vouches for a phone it does not give
        {"id": "u", "email": "a@b.c", "verified": ["unionid"]},
        {"id": "u", "verified": "phone"},
        {"id": "u", "name": ["x"]},
    ],
)
def test_malformed_users_are_refused(user):
    with pytest.raises(BadRequest):
        user_hints(user)


# ---- message types ---------------------------------------------------------------------------------


def test_a_text_message_is_scoped_to_its_user_and_keeps_the_apps_clock():
    msg = inbound_message(
        entry(text=" Where is my order? ") | {"sent_at": "2024-05-01T08:00:00+08:00"}, "shop2"
    )
    assert (msg.channel, msg.account, msg.channel_user_id) == ("app", "shop2", "u-1")
    assert msg.type == "text" and msg.text == "Where is my order?"
    assert msg.platform_message_id == "u-1/m-1"
    assert msg.dedupe_key == "app#shop2#u-1/m-1"
    assert msg.sent_at == datetime(2024, 5, 1, 0, 0, tzinfo=UTC)


def test_media_and_locations_become_attachments_and_places():
    image = inbound_message(entry(type="image", url="https://cdn.example/p.jpg", text="this one"), "default")
    assert image.type == "image" and image.text == "this one"
    assert image.attachments[0].kind == "image" and image.attachments[0].url == "https://cdn.example/p.jpg"
    file = inbound_message(
        entry(
            type="file",
            url="https://cdn.example/i.pdf",
            name="invoice.pdf",
            mime_type="application/pdf",
            size=1234,
        ),
        "default",
    )
    assert (file.attachments[0].name, file.attachments[0].mime_type, file.attachments[0].size) == (
        "invoice.pdf",
        "application/pdf",
        1234,
    )
    place = inbound_message(entry(type="location", latitude=31.23, longitude=121.47, label="Shop"), "default")
    assert place.type == "location" and place.location is not None
    assert (place.location.latitude, place.location.longitude, place.location.label) == (
        31.23,
        121.47,
        "Shop",
    )


@pytest.mark.parametrize(
    "message",
    [
        {"id": "m", "type": "text"},
        {"id": "m", "type": "text", "text": "   "},
        {"id": "m", "type": "text", "text": "x" * 4001},
        {"type": "text", "text": "hi"},
        {"id": "m/1", "type": "text", "text": "hi"},
        {"id": "m", "type": "sticker", "text": "hi"},
        {"id": "m", "type": "image"},
        {"id": "m", "type": "image", "url": "http://cdn.example/p.jpg"},
        {"id": "m", "type": "image", "url": "javascript:alert(1)"},
        {"id": "m", "type": "file", "url": "https://x/y", "size": -1},
        {"id": "m", "type": "file", "url": "https://x/y", "size": True},
        {"id": "m", "type": "file", "url": "https://x/y", "mime_type": "pdf"},
        {"id": "m", "type": "location", "latitude": 91, "longitude": 0},
        {"id": "m", "type": "location", "latitude": True, "longitude": 0},
        {"id": "m", "type": "location", "latitude": "31.2", "longitude": 121.4},
    ],
)
def test_malformed_messages_are_refused(message):
    with pytest.raises(BadRequest):
        inbound_message({"user": {"id": "u"}, "message": message}, "default")


@pytest.mark.parametrize("sent_at", ["2024-05-01T08:00:00", "yesterday", 1714550400, "9" * 50])
def test_sent_at_must_be_an_iso_timestamp_with_a_zone(sent_at):
    with pytest.raises(BadRequest):
        inbound_message(entry() | {"sent_at": sent_at}, "default")


def test_a_batch_is_all_or_nothing_and_bounded():
    good = entry()
    bad = entry(type="sticker")
    assert len(list(ADAPTER.parse(request(body=json.dumps({"messages": [good, good]}).encode()), CREDS))) == 2
    for body in ({"messages": [good, bad]}, {"messages": []}, {"messages": [good] * (MAX_BATCH + 1)}, [good]):
        with pytest.raises(BadRequest):
            ADAPTER.parse(request(body=json.dumps(body).encode()), CREDS)


# ---- replies ---------------------------------------------------------------------------------------


def reply(**kw) -> OutboundMessage:
    kw.setdefault("text", "Your parcel left the warehouse.")
    return OutboundMessage(
        message_id="cnv_1#3",
        conversation_id="cnv_1",
        seq=3,
        customer_id="cus_1",
        channel="app",
        account="default",
        channel_user_id="u-1",
        **kw,
    )


def test_without_a_callback_the_reply_waits_in_the_mailbox():
    result = ADAPTER.send(reply(), CREDS, RecordingTransport())
    assert (result.status, result.platform_message_id) == ("sent", "cnv_1#3")


@responses.activate
def test_a_callback_is_posted_signed_so_the_documented_verifier_accepts_it():
    responses.post("https://backend.example/omniflow", status=204)
    creds = CREDS | {"callback_url": "https://backend.example/omniflow", "callback_key": "k2"}
    result = ADAPTER.send(reply(), creds, LiveTransport())
    assert (result.status, result.platform_message_id) == ("sent", "cnv_1#3")
    [call] = responses.calls
    body = call.request.body
    delivered = load_example().verify_callback(dict(call.request.headers), body, CREDS["keys"])
    assert delivered["event"] == "message.reply" and delivered["user"] == {"id": "u-1"}
    assert (
        delivered["message"]["id"] == "cnv_1#3"
        and delivered["message"]["text"] == "Your parcel left the warehouse."
    )
    assert call.request.headers["X-Omniflow-Key"] == "k2"
    with pytest.raises(PermissionError):
        load_example().verify_callback(dict(call.request.headers), body + b" ", CREDS["keys"])


class Answer:
    recording = False

    def __init__(self, reply: HttpReply | Exception) -> None:
        self.reply = reply

    def call(self, req):
        if isinstance(self.reply, Exception):
            raise self.reply
        return self.reply


@pytest.mark.parametrize(
    ("answer", "status", "retryable"),
    [
        (HttpReply(200), "sent", False),
        (HttpReply(503), "failed", True),
        (HttpReply(429), "failed", True),
        (HttpReply(410), "failed", False),
        (TransportError("POST https://backend.example: ConnectTimeout"), "failed", True),
        (HttpReply(200, recorded=True), "sent_local", False),
    ],
)
def test_callback_failures_retry_only_when_a_later_attempt_can_succeed(answer, status, retryable):
    creds = {"keys": {"only": "s"}, "callback_url": "https://backend.example/omniflow"}
    result = ADAPTER.send(reply(), creds, Answer(answer))
    assert (result.status, result.retryable) == (status, retryable)


@pytest.mark.parametrize(
    "creds",
    [
        CREDS | {"callback_url": "https://backend.example/omniflow"},  # two keys, none named
        CREDS | {"callback_url": "https://backend.example/omniflow", "callback_key": "k9"},
        CREDS | {"callback_url": "http://backend.example/omniflow", "callback_key": "k1"},
    ],
)
def test_a_misconfigured_callback_fails_for_good_without_a_request(creds):
    transport = RecordingTransport()
    result = ADAPTER.send(reply(), creds, transport)
    assert result.status == "failed" and not result.retryable and transport.calls == []


def test_the_callback_body_is_compact_utf8_json():
    body = callback_body(reply(text="包裹已发出"))
    assert "包裹已发出".encode() in body and b": " not in body


def test_the_mailbox_key_is_the_one_the_core_stores_messages_under():
    from chalicelib.channels.mailbox import mailbox_key
    from chalicelib.conversations.service import mailbox_key as core_key

    assert mailbox_key("app", "shop2", "u-1") == core_key("app", "shop2", "u-1") == "app#shop2#u-1"
