"""The douyin channel's inbound side without AWS. No Douyin client library exists, so signatures are
computed here with hashlib (sha1 over client secret + raw body, as the platform documents it) and
payloads follow the shapes of Douyin's public webhook documentation (``im_receive_msg`` with
``content`` as a JSON string, as Douyin sends it, or as an object)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from chalicelib.channels import douyin
from chalicelib.channels.base import BadRequest, Forbidden, MethodNotAllowed, Unauthorized, WebhookRequest
from chalicelib.messages import InboundMessage

CREDS = {
    "client_key": "awtestclientkey01",
    "client_secret": "douyin-test-secret",
    "open_id": "_000OUR_ACCOUNT",
}
CUSTOMER = "_000CUSTOMER_OPEN_ID"
CREATED_MS = 1_717_000_000_123


def sign(body: bytes, secret: str = CREDS["client_secret"]) -> str:
    return hashlib.sha1(secret.encode() + body).hexdigest()


def content(message_type: str = "text", **extra: Any) -> dict[str, Any]:
    return {
        "conversation_short_id": "7340234502340234",
        "server_message_id": "7340234598765432101",
        "conversation_type": 1,
        "create_time": CREATED_MS,
        "message_type": message_type,
        "user_infos": [
            {"open_id": CUSTOMER, "nick_name": "小明", "avatar": "https://p3.douyinpic.com/a.jpg"},
            {
                "open_id": CREDS["open_id"],
                "nick_name": "官方旗舰店",
                "avatar": "https://p3.douyinpic.com/b.jpg",
            },
        ],
        **extra,
    }


def event(
    body_content: dict[str, Any] | None = None,
    *,
    kind: str = "im_receive_msg",
    sender: str = CUSTOMER,
    as_string: bool = True,
    **extra: Any,
) -> bytes:
    payload_content = body_content if body_content is not None else content(text="你好，我想退货")
    data = {
        "event": kind,
        "client_key": CREDS["client_key"],
        "from_user_id": sender,
        "to_user_id": CREDS["open_id"] if sender == CUSTOMER else CUSTOMER,
        "content": json.dumps(payload_content, ensure_ascii=False) if as_string else payload_content,
        "log_id": "20240601123456010203040506",
        **extra,
    }
    return json.dumps(data, ensure_ascii=False).encode("utf-8")


def request(
    body: bytes,
    *,
    signature: str | None = "sign",
    headers: dict[str, str] | None = None,
    method: str = "POST",
) -> WebhookRequest:
    h = {"content-type": "application/json"} | {k.lower(): v for k, v in (headers or {}).items()}
    if signature is not None:
        h[douyin.SIGNATURE_HEADER] = sign(body) if signature == "sign" else signature
    return WebhookRequest(method, "douyin", (), h, {}, body, "https://omniflow.test/webhooks/douyin")


def parse(body: bytes, **kw: Any) -> list[InboundMessage]:
    req = request(body, **kw)
    assert douyin.ADAPTER.handshake(req, CREDS) is None
    douyin.ADAPTER.verify(req, CREDS)
    return list(douyin.ADAPTER.parse(req, CREDS))


def the_one(body: bytes, **kw: Any) -> InboundMessage:
    [msg] = parse(body, **kw)
    return msg


# ---- URL check and signature ------------------------------------------------------------------------


def test_verify_webhook_echoes_the_challenge_after_checking_the_signature():
    body = json.dumps(
        {"event": "verify_webhook", "client_key": CREDS["client_key"], "content": {"challenge": 12345}}
    ).encode()
    response = douyin.ADAPTER.handshake(request(body), CREDS)
    assert response is not None and response.status == 200
    assert json.loads(response.body) == {"challenge": 12345}
    assert response.headers["content-type"] == "application/json"


def test_verify_webhook_with_content_as_a_string_also_works():
    body = json.dumps({"event": "verify_webhook", "content": json.dumps({"challenge": 987})}).encode()
    assert json.loads(douyin.ADAPTER.handshake(request(body), CREDS).body) == {"challenge": 987}


def test_verify_webhook_without_or_with_a_wrong_signature_is_refused():
    body = json.dumps({"event": "verify_webhook", "content": {"challenge": 1}}).encode()
    with pytest.raises(Unauthorized):
        douyin.ADAPTER.handshake(request(body, signature=None), CREDS)
    with pytest.raises(Forbidden):
        douyin.ADAPTER.handshake(request(body, signature=sign(body, "not-our-secret")), CREDS)


def test_verify_webhook_without_a_challenge_is_a_bad_request():
    body = json.dumps({"event": "verify_webhook", "content": {}}).encode()
    with pytest.raises(BadRequest):
        douyin.ADAPTER.handshake(request(body), CREDS)


def test_only_post_is_accepted():
    with pytest.raises(MethodNotAllowed):
        douyin.ADAPTER.handshake(request(b"", method="GET"), CREDS)


def test_signature_is_sha1_of_secret_and_raw_body_hex():
    body = event()
    assert douyin.signature(CREDS["client_secret"], body) == sign(body)
    douyin.ADAPTER.verify(request(body, signature=sign(body).upper()), CREDS)  # hex case does not matter
    with pytest.raises(Unauthorized):
        douyin.ADAPTER.verify(request(body, signature=None), CREDS)
    with pytest.raises(Forbidden):
        douyin.ADAPTER.verify(request(body, signature=hashlib.sha1(body).hexdigest()), CREDS)  # no secret
    reformatted = json.dumps(json.loads(body), indent=1).encode()
    with pytest.raises(Forbidden):
        douyin.ADAPTER.verify(request(reformatted, signature=sign(body)), CREDS)


# ---- messages --------------------------------------------------------------------------------------


@pytest.mark.parametrize("as_string", [True, False])
def test_text_message_with_content_as_string_or_object(as_string):
    msg = the_one(event(as_string=as_string))
    assert (msg.channel, msg.channel_user_id, msg.type, msg.text) == (
        "douyin",
        CUSTOMER,
        "text",
        "你好，我想退货",
    )
    assert msg.hints.display_name == "小明"
    assert msg.platform_message_id == "7340234598765432101"
    assert msg.sent_at.timestamp() == CREATED_MS / 1000
    assert msg.reply_context == {"msg_id": "7340234598765432101", "conversation_id": "7340234502340234"}


def test_the_msg_id_header_is_the_dedupe_id_when_present():
    msg = the_one(event(), headers={"Msg-Id": "delivery-abc-1"})
    assert msg.platform_message_id == "delivery-abc-1"
    assert msg.reply_context["msg_id"] == "7340234598765432101"  # still what a reply refers to


def test_create_time_in_seconds_is_understood_too():
    msg = the_one(event(content(text="hi", create_time=1_717_000_000)))
    assert msg.sent_at.timestamp() == 1_717_000_000


def test_image_and_video_messages():
    image = the_one(
        event(
            content(
                "image",
                resource_url="https://p9-im.douyinpic.com/img.jpeg",
                resource_width=800,
                resource_height=600,
            )
        )
    )
    assert image.type == "image" and image.attachments[0].url == "https://p9-im.douyinpic.com/img.jpeg"
    video = the_one(event(content("video", item_id="@9VxT0guFR8Yz", resource_url="https://v.douyin.com/x")))
    assert (video.type, video.attachments[0].media_id) == ("video", "@9VxT0guFR8Yz")


def test_a_lead_card_becomes_readable_text():
    card = content(
        "retain_consult_card",
        card_id="c1",
        card_status=1,
        card_data=[{"label": "姓名", "value": "王先生"}, {"label": "电话", "value": "138****5678"}],
    )
    assert the_one(event(card)).text == "姓名: 王先生\n电话: 138****5678"


def test_unknown_message_types_are_kept_as_placeholders():
    msg = the_one(event(content("group_invitation")))
    assert (msg.type, msg.text) == ("text", "[unsupported Douyin message type: group_invitation]")


def test_entering_the_chat_is_an_event():
    msg = the_one(event(content(), kind="im_enter_direct_msg"))
    assert (msg.type, msg.event) == ("event", "enter_direct_msg")


def test_our_own_messages_are_not_customer_messages():
    assert parse(event(content(text="您好，已为您处理"), kind="im_send_msg", sender=CREDS["open_id"])) == []
    assert parse(event(content(text="echo"), sender=CREDS["open_id"])) == []  # however it is labelled


def test_other_events_are_acknowledged_and_dropped():
    assert parse(event({"scopes": "im.direct_message"}, kind="authorize")) == []


def test_an_event_for_another_app_is_forbidden():
    with pytest.raises(Forbidden):
        parse(event(client_key="aw-someone-else"))


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b'"a string"',
        b'{"from_user_id": "x"}',
        json.dumps({"event": "im_receive_msg", "content": "{}"}).encode(),  # no sender
        json.dumps({"event": "im_receive_msg", "from_user_id": CUSTOMER, "content": "{not json"}).encode(),
        json.dumps({"event": "im_receive_msg", "from_user_id": CUSTOMER, "content": 7}).encode(),
        json.dumps(
            {"event": "im_receive_msg", "from_user_id": CUSTOMER, "content": {"message_type": "text"}}
        ).encode(),
        event(content(text="x", create_time="yesterday")),
        event(content(text="x", create_time=-5)),
    ],
)
def test_malformed_events_are_bad_requests(body):
    with pytest.raises(BadRequest):
        parse(body)
