"""The weibo channel without AWS. Weibo signs callbacks with WeChat's algorithm (AppSecret as the
token), so requests are signed with wechatpy's ``WeChatSigner`` and each signature is first checked
with wechatpy's own ``check_signature``. Bodies follow the shapes of Weibo's 粉丝服务 push
documentation, in JSON and in XML; replies are asserted at the HTTP level with ``responses``."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, unquote

import pytest
import requests
import responses
from wechatpy.utils import WeChatSigner
from wechatpy.utils import check_signature as wechatpy_check_signature

from chalicelib.channels import weibo
from chalicelib.channels.base import BadRequest, Forbidden, MethodNotAllowed, Unauthorized, WebhookRequest
from chalicelib.channels.transport import LiveTransport, RecordingTransport
from chalicelib.messages import InboundMessage, OutboundMessage

CREDS = {"app_secret": "weibo-test-app-secret", "access_token": "2.00weibo-test-token"}
SENDER = 2489518277
RECEIVER = 1902538057
CREATED = "Mon Jul 16 18:09:20 +0800 2012"

BILLION_LAUGHS = (
    b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    b'<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    b'<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>'
    b"<xml><type>text</type><sender_id>1</sender_id><created_at>" + CREATED.encode() + b"</created_at>"
    b"<text>&lol3;</text></xml>"
)
EXTERNAL_ENTITY = (
    b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    b"<xml><type>text</type><sender_id>1</sender_id><created_at>" + CREATED.encode() + b"</created_at>"
    b"<text>&xxe;</text></xml>"
)


def signed_query(
    secret: str = CREDS["app_secret"], timestamp: str = "1700000000", nonce: str = "73519", **extra: str
) -> dict[str, str]:
    signer = WeChatSigner()
    signer.add_data(secret, timestamp, nonce)
    wechatpy_check_signature(secret, signer.signature, timestamp, nonce)  # raises if not WeChat's algorithm
    return {"signature": signer.signature, "timestamp": timestamp, "nonce": nonce, **extra}


def push(
    kind: str = "text",
    text: str = "你好，请问发货了吗",
    data: dict[str, Any] | None = None,
    created: str = CREATED,
    sender: int = SENDER,
) -> bytes:
    return json.dumps(
        {
            "type": kind,
            "receiver_id": RECEIVER,
            "sender_id": sender,
            "created_at": created,
            "text": text,
            "data": data or {},
        },
        ensure_ascii=False,
    ).encode()


def xml_push(kind: str, text: str = "", data: str = "") -> bytes:
    return (
        f"<xml><type>{kind}</type><receiver_id>{RECEIVER}</receiver_id><sender_id>{SENDER}</sender_id>"
        f"<created_at>{CREATED}</created_at><text><![CDATA[{text}]]></text><data>{data}</data></xml>"
    ).encode()


def request(
    body: bytes = b"", *, query: dict[str, str] | None = None, method: str = "POST"
) -> WebhookRequest:
    return WebhookRequest(
        method,
        "weibo",
        (),
        {},
        signed_query() if query is None else query,
        body,
        "https://omniflow.test/webhooks/weibo",
    )


def parse(body: bytes) -> InboundMessage:
    req = request(body)
    assert weibo.ADAPTER.handshake(req, CREDS) is None
    weibo.ADAPTER.verify(req, CREDS)
    [msg] = weibo.ADAPTER.parse(req, CREDS)
    return msg


# ---- URL check and signatures -----------------------------------------------------------------------


def test_url_check_echoes_echostr():
    response = weibo.ADAPTER.handshake(
        request(query=signed_query(echostr="weibo-echo-1"), method="GET"), CREDS
    )
    assert response is not None and (response.status, response.body) == (200, "weibo-echo-1")


def test_url_check_with_a_bad_or_missing_signature_is_refused():
    with pytest.raises(Forbidden):
        weibo.ADAPTER.handshake(request(query=signed_query(secret="guess", echostr="x"), method="GET"), CREDS)
    with pytest.raises(Unauthorized):
        weibo.ADAPTER.handshake(request(query={"echostr": "x"}, method="GET"), CREDS)
    with pytest.raises(BadRequest):
        weibo.ADAPTER.handshake(request(query=signed_query(), method="GET"), CREDS)
    with pytest.raises(MethodNotAllowed):
        weibo.ADAPTER.handshake(request(method="PUT"), CREDS)


def test_posts_are_signed_the_same_way():
    weibo.ADAPTER.verify(request(push()), CREDS)
    with pytest.raises(Unauthorized):
        weibo.ADAPTER.verify(request(push(), query={}), CREDS)
    with pytest.raises(Unauthorized):
        weibo.ADAPTER.verify(
            request(push(), query={"signature": signed_query()["signature"], "nonce": "73519"}), CREDS
        )
    with pytest.raises(Forbidden):
        weibo.ADAPTER.verify(request(push(), query=signed_query(secret="another-app-secret")), CREDS)
    tampered = signed_query() | {"timestamp": "1700000001"}
    with pytest.raises(Forbidden):
        weibo.ADAPTER.verify(request(push(), query=tampered), CREDS)


# ---- message types ----------------------------------------------------------------------------------


def test_text_message():
    msg = parse(push())
    assert (msg.channel, msg.channel_user_id, msg.type, msg.text) == (
        "weibo",
        str(SENDER),
        "text",
        "你好，请问发货了吗",
    )
    assert msg.sent_at.isoformat() == "2012-07-16T18:09:20+08:00"
    assert msg.platform_message_id.startswith(f"{SENDER}#1342433360#")


def test_image_and_voice_carry_the_file_id():
    image = parse(push("image", "", {"vfid": 821804459, "tovfid": 821804469}))
    assert (image.type, image.attachments[0].kind, image.attachments[0].media_id) == (
        "image",
        "image",
        "821804459",
    )
    voice = parse(push("voice", "", {"vfid": 821804460, "tovfid": 821804470}))
    assert (voice.type, voice.attachments[0].media_id) == ("voice", "821804460")


def test_position():
    msg = parse(push("position", "", {"longitude": "116.308528", "latitude": "39.983733"}))
    assert (msg.type, msg.location.latitude, msg.location.longitude) == ("location", 39.983733, 116.308528)


@pytest.mark.parametrize(
    ("subtype", "key"),
    [("follow", ""), ("unfollow", ""), ("click", "menu_order_status"), ("scan_follow", "qrscene_42")],
)
def test_events(subtype, key):
    msg = parse(push("event", "", {"subtype": subtype, "key": key}))
    assert (msg.type, msg.event, msg.text) == ("event", subtype, key)


def test_mention_is_an_event_with_its_text():
    msg = parse(push("mention", "@官方客服 我的快递呢", {"subtype": "status", "key": "3470000000000000"}))
    assert (msg.type, msg.event, msg.text) == ("event", "mention", "@官方客服 我的快递呢")


def test_unknown_types_are_kept_as_placeholders():
    assert parse(push("shake", "")).text == "[unsupported Weibo message type: shake]"


def test_the_xml_variant_reads_like_the_json_one():
    from_xml, from_json = parse(xml_push("text", "你好")), parse(push(text="你好"))
    assert from_xml.model_dump(exclude={"received_at"}) == from_json.model_dump(exclude={"received_at"})
    position = parse(xml_push("position", data="<longitude>116.3</longitude><latitude>39.9</latitude>"))
    assert (position.location.latitude, position.location.longitude) == (39.9, 116.3)
    event = parse(xml_push("event", data="<subtype>follow</subtype><key></key>"))
    assert (event.type, event.event) == ("event", "follow")
    image = parse(xml_push("image", data="<vfid>821804459</vfid><tovfid>821804469</tovfid>"))
    assert image.attachments[0].media_id == "821804459"


def test_a_retried_push_has_the_same_id_but_another_message_in_the_same_second_does_not():
    assert parse(push()).platform_message_id == parse(push()).platform_message_id
    assert parse(push(text="第二条")).platform_message_id != parse(push()).platform_message_id
    assert (
        parse(push(created="Mon Jul 16 18:09:21 +0800 2012")).platform_message_id
        != parse(push()).platform_message_id
    )


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"plain text",
        b"{broken",
        b"[1, 2]",
        push(created="2012-07-16 18:09:20"),
        push(created="Mon Foo 16 18:09:20 +0800 2012"),
        push(created="Mon Jul 16 18:09:20 0800 2012"),
        json.dumps({"type": "text", "created_at": CREATED, "text": "no sender"}).encode(),
        json.dumps({"type": "text", "sender_id": {"id": 1}, "created_at": CREATED}).encode(),
        push("image", "", {"tovfid": 1}),
        push("position", "", {"longitude": "east", "latitude": "1"}),
        push("event", "", {"key": "no subtype"}),
        json.dumps({"type": "text", "sender_id": 1, "created_at": CREATED, "data": [1]}).encode(),
        b"<xml><type>text</type><sender_id>1</sender_id>",
        BILLION_LAUGHS,
        EXTERNAL_ENTITY,
    ],
)
def test_malformed_bodies_are_bad_requests(body):
    with pytest.raises(BadRequest):
        weibo.ADAPTER.parse(request(body), CREDS)


def test_the_acknowledgement_is_an_empty_200():
    response = weibo.ADAPTER.acknowledge(request(push()), [parse(push())])
    assert (response.status, response.body) == (200, "")


# ---- outbound --------------------------------------------------------------------------------------


def reply(text: str = "您好，已经发货啦，单号 SF123。", to: str = str(SENDER)) -> OutboundMessage:
    return OutboundMessage(
        message_id="conv-3#2",
        conversation_id="conv-3",
        seq=2,
        customer_id="c-3",
        channel="weibo",
        channel_user_id=to,
        text=text,
    )


@responses.activate
def test_reply_posts_the_form_with_url_encoded_json_data():
    responses.post(
        weibo.REPLY_URL,
        json={"result": True, "sender_id": RECEIVER, "receiver_id": SENDER, "type": "text", "id": 4123456789},
    )
    result = weibo.ADAPTER.send(reply(), CREDS, LiveTransport())
    assert (result.status, result.platform_message_id) == ("sent", "4123456789")
    [call] = responses.calls
    assert call.request.headers["content-type"] == "application/x-www-form-urlencoded"
    form = {k: v[0] for k, v in parse_qs(call.request.body).items()}
    assert form.keys() == {"access_token", "type", "data", "receiver_id", "save_sender_box"}
    assert (form["access_token"], form["type"], form["receiver_id"], form["save_sender_box"]) == (
        CREDS["access_token"],
        "text",
        str(SENDER),
        "1",
    )
    assert "%" in form["data"]  # still URL-encoded after the form is decoded: Weibo decodes it again
    assert json.loads(unquote(form["data"])) == {"text": "您好，已经发货啦，单号 SF123。"}


@pytest.mark.parametrize(
    ("status", "answer", "retryable", "error"),
    [
        (
            400,
            {"error": "expired_token", "error_code": 21327, "request": "/2/messages/reply.json"},
            False,
            "Weibo rejected the access token (21327: expired_token)",
        ),
        (
            403,
            {
                "error": "User requests out of rate limit!",
                "error_code": 10023,
                "request": "/2/messages/reply.json",
            },
            True,
            "Weibo 10023: User requests out of rate limit!",
        ),
        (500, {"error": "system error!", "error_code": 10001}, True, "Weibo 10001: system error!"),
        (
            400,
            {"error": "receiver is not your fans", "error_code": 20505},
            False,
            "Weibo 20505: receiver is not your fans",
        ),
        (502, None, True, "Weibo 502: HTTP 502"),
    ],
)
@responses.activate
def test_errors_are_classified(status, answer, retryable, error):
    if answer is None:
        responses.post(weibo.REPLY_URL, status=status, body="<html>bad gateway</html>")
    else:
        responses.post(weibo.REPLY_URL, status=status, json=answer)
    result = weibo.ADAPTER.send(reply(), CREDS, LiveTransport())
    assert (result.status, result.retryable, result.error) == ("failed", retryable, error)


@responses.activate
def test_network_failure_is_retryable():
    responses.post(weibo.REPLY_URL, body=requests.ConnectionError("reset"))
    result = weibo.ADAPTER.send(reply(), CREDS, LiveTransport())
    assert (result.status, result.retryable) == ("failed", True)


@responses.activate
def test_a_reply_too_long_for_weibo_is_refused_without_a_call():
    result = weibo.ADAPTER.send(reply("长" * (weibo.MAX_TEXT + 1)), CREDS, LiveTransport())
    assert (result.status, result.retryable) == ("failed", False)
    assert not responses.calls


def test_recording_mode_records_the_form_without_the_access_token():
    http = RecordingTransport()
    assert weibo.ADAPTER.send(reply(), CREDS, http).status == "sent_local"
    [call] = http.calls
    assert call.url == weibo.REPLY_URL
    assert CREDS["access_token"] not in json.dumps(call.redacted(), ensure_ascii=False)
    assert call.data["access_token"] == weibo.LOCAL_ACCESS_TOKEN
