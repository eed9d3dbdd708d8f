"""WeChat inbound without AWS: safe body parsing, normalization of every message type, and the
adapter's handshake / verify / parse / acknowledge steps on plain ``WebhookRequest``s."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
import wechatpy

from chalicelib.channels.base import BadRequest, Forbidden, MethodNotAllowed, Unauthorized, WebhookRequest
from chalicelib.channels.wechat import ADAPTER, normalize, parse_fields
from chalicelib.messages import Attachment, Location
from tests.unit.test_wechat_protocol import AES_KEY, APP_ID, TOKEN, WeChatPlatform, text_xml

CREDS = {"token": TOKEN, "aes_key": AES_KEY, "app_id": APP_ID, "app_secret": "secret"}

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<xml><Content>&lol3;</Content></xml>"""
EXTERNAL_ENTITY = b"""<?xml version="1.0"?>
<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<xml><ToUserName>gh</ToUserName><FromUserName>&xxe;</FromUserName></xml>"""


def wechat_xml(msg_type: str, body: str, sender: str = "oUser", created: int = 1700000000) -> str:
    return (
        f"<xml><ToUserName><![CDATA[gh_0123456789ab]]></ToUserName>"
        f"<FromUserName><![CDATA[{sender}]]></FromUserName><CreateTime>{created}</CreateTime>"
        f"<MsgType><![CDATA[{msg_type}]]></MsgType>{body}</xml>"
    )


def normalized(xml: str, authenticated_body: bool = False):
    # wechatpy, WeChat's client library, parses the same sample: it is a realistic delivery.
    assert wechatpy.parse_message(xml) is not None
    return normalize(parse_fields(xml.encode()), account="default", authenticated_body=authenticated_body)


def request(
    method: str = "POST",
    query: dict[str, str] | None = None,
    body: str | bytes = b"",
    path_parts: tuple[str, ...] = (),
) -> WebhookRequest:
    return WebhookRequest(
        method=method,
        channel="wechat",
        path_parts=path_parts,
        headers={},
        query=query or {},
        body=body.encode() if isinstance(body, str) else body,
        url="https://omniflow.test/webhooks/wechat",
    )


# ---- body parsing -------------------------------------------------------------------------------


def test_xml_and_json_bodies_become_the_same_fields():
    from_xml = parse_fields(text_xml("hi", "42").encode())
    from_json = parse_fields(
        json.dumps(
            {
                "ToUserName": "gh_0123456789ab",
                "FromUserName": "oUser",
                "CreateTime": 1700000000,
                "MsgType": "text",
                "Content": "hi",
                "MsgId": 42,
            }
        ).encode()
    )
    assert from_xml == from_json


@pytest.mark.parametrize(
    "body",
    [
        BILLION_LAUGHS,
        EXTERNAL_ENTITY,
        b"<!DOCTYPE xml><xml/>",
        b"<xml><Content>unclosed</xml>",
        b"<xml><a>&undefined;</a></xml>",
        b'<?xml version="1.0" encoding="x-unknown"?><xml/>',
        b'<?xml version="1.0" encoding="GBK"?><xml/>',
        b"<notxml/>",
        b"{not json",
        b"[" * 200_000,
        b'{"a": ' * 100_000,
        b"[1, 2]",
        b"hello",
        b"",
    ],
    ids=[
        "billion-laughs",
        "external-entity",
        "dtd",
        "unclosed",
        "undefined-entity",
        "unknown-encoding",
        "multibyte-encoding",
        "wrong-root",
        "bad-json",
        "deep-json-array",
        "deep-json-object",
        "json-array",
        "text",
        "empty",
    ],
)
def test_malformed_or_dangerous_bodies_are_bad_requests(body):
    with pytest.raises(BadRequest):
        parse_fields(body)


# ---- normalization ------------------------------------------------------------------------------


def test_text_message():
    msg = normalized(text_xml("你好 我的订单还没到", "23456789012345678"))
    assert (msg.channel, msg.account, msg.channel_user_id) == ("wechat", "default", "oUser")
    assert (msg.type, msg.text) == ("text", "你好 我的订单还没到")
    assert msg.platform_message_id == "23456789012345678"
    assert msg.sent_at == datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)
    assert msg.hints.display_name is None


def test_image_message_carries_its_url_and_media_id():
    msg = normalized(
        wechat_xml(
            "image",
            "<PicUrl><![CDATA[https://mmbiz.qpic.cn/x.jpg]]></PicUrl>"
            "<MediaId><![CDATA[media-1]]></MediaId><MsgId>1</MsgId>",
        )
    )
    assert msg.type == "image"
    assert msg.attachments == (
        Attachment(kind="image", url="https://mmbiz.qpic.cn/x.jpg", media_id="media-1"),
    )


def test_voice_message_uses_wechat_speech_recognition_as_text():
    msg = normalized(
        wechat_xml(
            "voice",
            "<MediaId><![CDATA[v-1]]></MediaId><Format><![CDATA[amr]]></Format>"
            "<Recognition><![CDATA[我要退货]]></Recognition><MsgId>2</MsgId>",
        )
    )
    assert (msg.type, msg.text) == ("voice", "我要退货")
    assert msg.attachments == (Attachment(kind="voice", media_id="v-1", mime_type="audio/amr"),)


def test_voice_message_without_recognition_has_empty_text():
    msg = normalized(wechat_xml("voice", "<MediaId>v-2</MediaId><Format>speex</Format><MsgId>3</MsgId>"))
    assert (msg.type, msg.text, msg.attachments[0].mime_type) == ("voice", "", "audio/speex")


@pytest.mark.parametrize("msg_type", ["video", "shortvideo"])
def test_video_and_short_video_are_video_attachments(msg_type):
    msg = normalized(
        wechat_xml(msg_type, "<MediaId>m-9</MediaId><ThumbMediaId>t-9</ThumbMediaId><MsgId>4</MsgId>")
    )
    assert msg.type == "video"
    assert msg.attachments == (Attachment(kind="video", media_id="m-9"),)


def test_file_message():
    fields = parse_fields(
        wechat_xml(
            "file",
            "<Title>发票.pdf</Title><Description>invoice</Description>"
            "<FileKey>fk-1</FileKey><FileMd5>abc</FileMd5>"
            "<FileTotalLen>2048</FileTotalLen><MsgId>5</MsgId>",
        ).encode()
    )
    msg = normalize(fields, account="default", authenticated_body=False)
    assert (msg.type, msg.text) == ("file", "invoice")
    assert msg.attachments == (Attachment(kind="file", name="发票.pdf", media_id="fk-1", size=2048),)


def test_location_message():
    msg = normalized(
        wechat_xml(
            "location",
            "<Location_X>23.134521</Location_X><Location_Y>113.358803</Location_Y>"
            "<Scale>20</Scale><Label><![CDATA[广州市天河区]]></Label><MsgId>6</MsgId>",
        )
    )
    assert msg.type == "location"
    assert msg.location == Location(latitude=23.134521, longitude=113.358803, label="广州市天河区")


@pytest.mark.parametrize("x", ["north", "nan", "91", "inf"])
def test_location_with_impossible_coordinates_is_a_bad_request(x):
    fields = parse_fields(
        wechat_xml(
            "location", f"<Location_X>{x}</Location_X><Location_Y>1</Location_Y><MsgId>7</MsgId>"
        ).encode()
    )
    with pytest.raises(BadRequest):
        normalize(fields, account="default", authenticated_body=False)


def test_link_message_becomes_text_with_its_url():
    msg = normalized(
        wechat_xml(
            "link",
            "<Title>订单详情</Title><Description>第 42 号</Description>"
            "<Url>https://shop.example/o/42</Url><MsgId>8</MsgId>",
        )
    )
    assert (msg.type, msg.text) == ("text", "订单详情\n第 42 号\nhttps://shop.example/o/42")


def test_mini_program_card_becomes_text():
    fields = parse_fields(
        json.dumps(
            {
                "FromUserName": "oMini",
                "CreateTime": 1700000000,
                "MsgType": "miniprogrampage",
                "MsgId": 9,
                "Title": "商品",
                "PagePath": "pages/item?id=1",
            }
        ).encode()
    )
    msg = normalize(fields, account="mini", authenticated_body=False)
    assert (msg.type, msg.text, msg.account) == ("text", "商品\npages/item?id=1", "mini")


@pytest.mark.parametrize(
    ("event", "key", "expected_text"),
    [
        ("subscribe", "qrscene_123", "qrscene_123"),
        ("unsubscribe", "", ""),
        ("CLICK", "MENU_ORDERS", "MENU_ORDERS"),
        ("VIEW", "https://shop.example", "https://shop.example"),
        ("SCAN", "123", "123"),
    ],
)
def test_events_are_lower_cased_and_keyed_by_sender_time_and_event(event, key, expected_text):
    msg = normalized(
        wechat_xml("event", f"<Event><![CDATA[{event}]]></Event><EventKey><![CDATA[{key}]]></EventKey>")
    )
    assert (msg.type, msg.event, msg.text) == ("event", event.lower(), expected_text)
    assert msg.platform_message_id == f"oUser#1700000000#{event}"


def test_location_report_event_carries_the_location():
    msg = normalized(
        wechat_xml(
            "event",
            "<Event>LOCATION</Event><Latitude>23.137466</Latitude>"
            "<Longitude>113.352425</Longitude><Precision>119.385040</Precision>",
        )
    )
    assert (msg.type, msg.event) == ("event", "location")
    assert msg.location == Location(latitude=23.137466, longitude=113.352425)


def test_unknown_message_types_are_kept_for_the_agent():
    fields = parse_fields(wechat_xml("musicshare", "<MsgId>10</MsgId>").encode())
    msg = normalize(fields, account="default", authenticated_body=False)
    assert (msg.type, msg.platform_message_id) == ("text", "10")
    assert "musicshare" in msg.text


def test_unionid_is_verified_only_when_the_body_was_signed_and_encrypted():
    xml = text_xml().replace("</xml>", "<UnionId><![CDATA[uUnion1]]></UnionId></xml>")
    plain = normalize(parse_fields(xml.encode()), account="default", authenticated_body=False)
    safe = normalize(parse_fields(xml.encode()), account="default", authenticated_body=True)
    assert (plain.hints.unionid, plain.hints.verified) == ("uUnion1", ())
    assert (safe.hints.unionid, safe.hints.verified) == ("uUnion1", ("unionid",))


@pytest.mark.parametrize("missing", ["FromUserName", "MsgType", "CreateTime"])
def test_messages_without_sender_type_or_time_are_bad_requests(missing):
    fields = dict(parse_fields(text_xml().encode()))
    del fields[missing]
    with pytest.raises(BadRequest, match=missing):
        normalize(fields, account="default", authenticated_body=False)


@pytest.mark.parametrize("created", ["yesterday", "99999999999999999999"])
def test_bad_create_time_is_a_bad_request(created):
    fields = {**parse_fields(text_xml().encode()), "CreateTime": created}
    with pytest.raises(BadRequest):
        normalize(fields, account="default", authenticated_body=False)


# ---- adapter steps ------------------------------------------------------------------------------


def test_handshake_echoes_echostr_as_plain_text():
    query = WeChatPlatform().handshake_query("echo-123")
    response = ADAPTER.handshake(request("GET", query), CREDS)
    assert response is not None
    assert (response.status, response.body, response.headers["content-type"]) == (
        200,
        "echo-123",
        "text/plain; charset=utf-8",
    )


def test_handshake_with_a_bad_signature_is_forbidden_and_without_one_unauthorized():
    bad = WeChatPlatform(token="wrong").handshake_query("echo")
    with pytest.raises(Forbidden):
        ADAPTER.handshake(request("GET", bad), CREDS)
    with pytest.raises(Unauthorized):
        ADAPTER.handshake(request("GET", {"echostr": "echo"}), CREDS)


def test_handshake_is_only_for_get_with_echostr():
    assert ADAPTER.handshake(request("POST"), CREDS) is None
    with pytest.raises(MethodNotAllowed):
        ADAPTER.handshake(request("PUT"), CREDS)
    with pytest.raises(BadRequest):
        ADAPTER.handshake(request("GET", WeChatPlatform().plain_query()), CREDS)


def test_plaintext_post_is_verified_by_signature():
    ADAPTER.verify(request(query=WeChatPlatform().plain_query(), body=text_xml()), CREDS)
    with pytest.raises(Forbidden):
        ADAPTER.verify(request(query=WeChatPlatform(token="x").plain_query(), body=text_xml()), CREDS)
    with pytest.raises(Unauthorized):
        ADAPTER.verify(request(query={}, body=text_xml()), CREDS)


def test_safe_mode_is_verified_by_msg_signature_over_encrypt():
    body, query = WeChatPlatform().safe_xml(text_xml())
    ADAPTER.verify(request(query=query, body=body), CREDS)
    with pytest.raises(Unauthorized):
        ADAPTER.verify(
            request(query={k: v for k, v in query.items() if k != "msg_signature"}, body=body), CREDS
        )
    tampered = body.replace("<Encrypt><![CDATA[", "<Encrypt><![CDATA[AAAA")
    with pytest.raises(Forbidden):
        ADAPTER.verify(request(query=query, body=tampered), CREDS)


def test_safe_mode_without_encrypt_or_with_unknown_encrypt_type_is_a_bad_request():
    _, query = WeChatPlatform().safe_xml(text_xml())
    with pytest.raises(BadRequest):
        ADAPTER.verify(request(query=query, body=text_xml()), CREDS)
    with pytest.raises(BadRequest):
        ADAPTER.verify(request(query={**query, "encrypt_type": "rsa"}, body=text_xml()), CREDS)


def test_safe_mode_parse_decrypts_and_uses_the_account_from_the_path():
    body, query = WeChatPlatform().safe_xml(text_xml("加密", "77"))
    [msg] = ADAPTER.parse(request(query=query, body=body, path_parts=("shop2",)), CREDS)
    assert (msg.account, msg.text, msg.platform_message_id) == ("shop2", "加密", "77")


def test_safe_mode_on_an_account_without_aes_key_is_a_server_side_error():
    body, query = WeChatPlatform().safe_xml(text_xml())
    creds = {k: v for k, v in CREDS.items() if k != "aes_key"}
    with pytest.raises(ValueError, match="aes_key") as info:
        ADAPTER.parse(request(query=query, body=body), creds)
    assert not isinstance(info.value, BadRequest)


def test_acknowledge_is_plain_success():
    response = ADAPTER.acknowledge(request(), [])
    assert (response.status, response.body, response.headers["content-type"]) == (
        200,
        "success",
        "text/plain; charset=utf-8",
    )
