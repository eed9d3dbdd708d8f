"""The WeChat webhook end to end on moto: an API Gateway HTTP API (v2) event, signed and encrypted by
wechatpy, goes through ``pipeline.handle``; what reaches the inbound FIFO queue is read back as
``InboundMessage``s. Refusals leave the queue empty."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from chalicelib.channels import credentials, pipeline
from chalicelib.config import MAX_BODY_BYTES
from chalicelib.messages import Attachment, InboundMessage, Location
from tests.support.events import LambdaContext, http_event
from tests.support.queues import drain_inbound
from tests.unit.test_wechat_inbound import BILLION_LAUGHS, EXTERNAL_ENTITY, wechat_xml
from tests.unit.test_wechat_protocol import WeChatPlatform, text_xml

OA = WeChatPlatform()  # the provisioned demo account "default"
MINI = WeChatPlatform(
    token="mini-program-token",
    aes_key="MiniProgramAesKey0123456789abcdefghijklmnop",
    app_id="wx0mini0program01",
    to_user="gh_mini0000001",
)


def api_event(
    method: str,
    query: dict[str, str],
    body: str | bytes = "",
    account: str | None = None,
    content_type: str = "text/xml",
    base64_body: bool = False,
) -> dict[str, Any]:
    """What API Gateway hands the WeChat webhook (``/webhooks/wechat[/<account>]``)."""
    path = "/webhooks/wechat" + (f"/{account}" if account else "")
    return http_event(
        method, path, body=body, query=query, headers={"content-type": content_type}, base64_body=base64_body
    )


def post(query: dict[str, str], body: str | bytes, **kwargs: Any) -> dict[str, Any]:
    return pipeline.handle(api_event("POST", query, body, **kwargs))


def the_one_message(env: dict[str, str]) -> InboundMessage:
    [msg] = drain_inbound(env)
    return msg


@pytest.fixture
def mini_program(aws):
    """A second account, a Mini Program, next to the demo Official Account in the channel's secret."""
    sm = boto3.client("secretsmanager")
    name = "omniflow/test/channels/wechat"
    accounts = json.loads(sm.get_secret_value(SecretId=name)["SecretString"])
    accounts["mini"] = {
        "token": MINI.token,
        "aes_key": MINI.aes_key,
        "app_id": MINI.app_id,
        "app_secret": "s",
    }
    sm.put_secret_value(SecretId=name, SecretString=json.dumps(accounts))
    credentials.reset()
    return aws


def error_of(response: dict[str, Any]) -> str:
    return json.loads(response["body"])["error"]


# ---- URL check ----------------------------------------------------------------------------------


def test_url_check_echoes_echostr(aws):
    response = pipeline.handle(api_event("GET", OA.handshake_query("5837397520665436492")))
    assert response["statusCode"] == 200
    assert response["body"] == "5837397520665436492"
    assert response["headers"]["content-type"].startswith("text/plain")


def test_url_check_with_a_bad_signature_is_403_and_without_one_401(aws):
    bad = pipeline.handle(api_event("GET", WeChatPlatform(token="guess").handshake_query("x")))
    assert (bad["statusCode"], error_of(bad)) == (403, "forbidden")
    assert bad["body"] != "x"  # the echostr is not echoed
    missing = pipeline.handle(api_event("GET", {"echostr": "x"}))
    assert missing["statusCode"] == 401


def test_mini_program_url_check_uses_its_own_token(mini_program):
    ok = pipeline.handle(api_event("GET", MINI.handshake_query("mini-echo"), account="mini"))
    assert (ok["statusCode"], ok["body"]) == (200, "mini-echo")
    wrong_account = pipeline.handle(api_event("GET", MINI.handshake_query("mini-echo")))
    assert wrong_account["statusCode"] == 403


# ---- plaintext mode -----------------------------------------------------------------------------


def test_plaintext_text_message_is_queued_and_acknowledged_with_success(aws):
    response = post(OA.plain_query(), text_xml("你好 我想查一下订单", "23456789012345678"))
    assert (response["statusCode"], response["body"]) == (200, "success")
    assert response["headers"]["content-type"].startswith("text/plain")
    msg = the_one_message(aws)
    assert (msg.channel, msg.account, msg.channel_user_id) == ("wechat", "default", "oUser")
    assert (msg.type, msg.text, msg.platform_message_id) == (
        "text",
        "你好 我想查一下订单",
        "23456789012345678",
    )
    assert msg.dedupe_key == "wechat#default#23456789012345678"
    assert msg.sent_at.timestamp() == 1700000000


def test_plaintext_image_message(aws):
    post(
        OA.plain_query(),
        wechat_xml(
            "image",
            "<PicUrl><![CDATA[https://mmbiz.qpic.cn/a.jpg]]></PicUrl>"
            "<MediaId><![CDATA[img-1]]></MediaId><MsgId>101</MsgId>",
        ),
    )
    msg = the_one_message(aws)
    assert msg.type == "image"
    assert msg.attachments == (Attachment(kind="image", url="https://mmbiz.qpic.cn/a.jpg", media_id="img-1"),)


def test_plaintext_location_message(aws):
    post(
        OA.plain_query(),
        wechat_xml(
            "location",
            "<Location_X>31.2304</Location_X><Location_Y>121.4737</Location_Y>"
            "<Scale>15</Scale><Label><![CDATA[上海市黄浦区]]></Label>"
            "<MsgId>102</MsgId>",
        ),
    )
    msg = the_one_message(aws)
    assert msg.location == Location(latitude=31.2304, longitude=121.4737, label="上海市黄浦区")


def test_plaintext_voice_message_with_recognition(aws):
    post(
        OA.plain_query(),
        wechat_xml(
            "voice",
            "<MediaId>voice-1</MediaId><Format>amr</Format>"
            "<Recognition><![CDATA[我要退款]]></Recognition><MsgId>103</MsgId>",
        ),
    )
    msg = the_one_message(aws)
    assert (msg.type, msg.text, msg.attachments[0].media_id) == ("voice", "我要退款", "voice-1")


def test_plaintext_subscribe_event(aws):
    post(
        OA.plain_query(),
        wechat_xml(
            "event",
            "<Event><![CDATA[subscribe]]></Event><EventKey><![CDATA[qrscene_shop42]]></EventKey>",
            sender="oNewFan",
        ),
    )
    msg = the_one_message(aws)
    assert (msg.type, msg.event, msg.text, msg.channel_user_id) == (
        "event",
        "subscribe",
        "qrscene_shop42",
        "oNewFan",
    )
    assert msg.platform_message_id == "oNewFan#1700000000#subscribe"


def test_api_gateway_base64_bodies_are_decoded_first(aws):
    response = post(OA.plain_query(), text_xml("base64", "104"), base64_body=True)
    assert response["statusCode"] == 200
    assert the_one_message(aws).text == "base64"


# ---- safe mode ----------------------------------------------------------------------------------


def test_safe_mode_xml_is_decrypted_and_its_unionid_verified(aws):
    inner = text_xml("加密消息", "201").replace("</xml>", "<UnionId><![CDATA[uUnion42]]></UnionId></xml>")
    body, query = OA.safe_xml(inner)
    response = post(query, body)
    assert (response["statusCode"], response["body"]) == (200, "success")
    msg = the_one_message(aws)
    assert (msg.text, msg.platform_message_id) == ("加密消息", "201")
    assert (msg.hints.unionid, msg.hints.verified) == ("uUnion42", ("unionid",))


def test_safe_mode_with_a_ciphertext_for_another_app_id_is_403(aws):
    body, query = WeChatPlatform(app_id="wx-another-app").safe_xml(text_xml("x", "202"))
    response = post(query, body)
    assert (response["statusCode"], error_of(response)) == (403, "forbidden")
    assert drain_inbound(aws) == []


def test_safe_mode_with_a_wrong_msg_signature_is_403(aws):
    _, query = OA.safe_xml(text_xml("x", "203"))
    other_body, _unused = OA.safe_xml(text_xml("y", "204"))
    response = post(query, other_body)  # the signature covers Encrypt: a swapped body fails
    assert response["statusCode"] == 403
    assert drain_inbound(aws) == []


# ---- Mini Program -------------------------------------------------------------------------------


def test_mini_program_json_plaintext(mini_program):
    body = json.dumps(
        {
            "ToUserName": MINI.to_user,
            "FromUserName": "oMiniUser",
            "CreateTime": 1700000100,
            "MsgType": "text",
            "Content": "小程序客服你好",
            "MsgId": 301,
        },
        ensure_ascii=False,
    )
    response = post(MINI.plain_query(), body, account="mini", content_type="application/json")
    assert (response["statusCode"], response["body"]) == (200, "success")
    msg = the_one_message(mini_program)
    assert (msg.account, msg.channel_user_id, msg.text, msg.platform_message_id) == (
        "mini",
        "oMiniUser",
        "小程序客服你好",
        "301",
    )


def test_mini_program_json_safe_mode(mini_program):
    inner = json.dumps(
        {
            "ToUserName": MINI.to_user,
            "FromUserName": "oMiniUser",
            "CreateTime": 1700000200,
            "MsgType": "image",
            "PicUrl": "https://mmbiz.qpic.cn/m.jpg",
            "MediaId": "mm-1",
            "MsgId": 302,
        }
    )
    body, query = MINI.safe_json(inner)
    response = post(query, body, account="mini", content_type="application/json")
    assert response["statusCode"] == 200
    msg = the_one_message(mini_program)
    assert (msg.account, msg.type, msg.attachments[0].media_id) == ("mini", "image", "mm-1")


def test_mini_program_user_enter_session_event_in_json(mini_program):
    body = json.dumps(
        {
            "ToUserName": MINI.to_user,
            "FromUserName": "oMiniUser",
            "CreateTime": 1700000300,
            "MsgType": "event",
            "Event": "user_enter_tempsession",
            "SessionFrom": "product-7",
        }
    )
    post(MINI.plain_query(), body, account="mini", content_type="application/json")
    msg = the_one_message(mini_program)
    assert (msg.type, msg.event) == ("event", "user_enter_tempsession")


# ---- retries and refusals -----------------------------------------------------------------------


def test_the_same_msg_id_delivered_three_times_is_queued_once(aws):
    for attempt in range(3):
        # WeChat retries with fresh timestamps and nonces, so the signatures differ each time.
        body, query = OA.safe_xml(
            text_xml("重试", "401"), timestamp=str(1700000000 + attempt), nonce=f"n{attempt}"
        )
        response = post(query, body)
        assert (response["statusCode"], response["body"]) == (200, "success")
    assert [m.platform_message_id for m in drain_inbound(aws)] == ["401"]


def test_the_same_msg_id_on_two_accounts_is_two_messages(mini_program):
    post(OA.plain_query(), text_xml("a", "402"))
    post(MINI.plain_query(), text_xml("b", "402"), account="mini")
    assert sorted(m.account for m in drain_inbound(mini_program)) == ["default", "mini"]


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ({}, 401),
        (WeChatPlatform(token="guess").plain_query(), 403),
        ({**OA.plain_query(), "signature": "0" * 40}, 403),
    ],
    ids=["missing", "wrong-token", "forged"],
)
def test_unsigned_or_wrongly_signed_posts_are_refused_and_nothing_is_queued(aws, query, status):
    response = post(query, text_xml("spoof", "501"))
    assert response["statusCode"] == status
    assert drain_inbound(aws) == []


@pytest.mark.parametrize(
    "body",
    [
        b"<xml><ToUserName>gh</ToUserName><Content>unclosed</xml>",
        BILLION_LAUGHS,
        EXTERNAL_ENTITY,
        b'{"MsgType": ',
    ],
    ids=["malformed-xml", "billion-laughs", "external-entity", "malformed-json"],
)
def test_malformed_and_dangerous_bodies_are_400_and_nothing_is_queued(aws, body):
    response = post(OA.plain_query(), body)
    assert (response["statusCode"], error_of(response)) == (400, "bad_request")
    assert drain_inbound(aws) == []


def test_entity_bomb_inside_the_ciphertext_is_400_too(aws):
    body, query = OA.safe_xml(BILLION_LAUGHS.decode())
    assert post(query, body)["statusCode"] == 400
    assert drain_inbound(aws) == []


def test_oversized_body_is_413(aws):
    big = text_xml("x" * (MAX_BODY_BYTES + 1), "601")
    response = post(OA.plain_query(), big)
    assert response["statusCode"] == 413
    assert drain_inbound(aws) == []


def test_unknown_account_is_404(aws):
    response = post(OA.plain_query(), text_xml("x", "602"), account="nobody")
    assert response["statusCode"] == 404


def test_other_methods_are_405(aws):
    assert pipeline.handle(api_event("PUT", OA.plain_query(), text_xml()))["statusCode"] == 405


def test_the_lambda_entry_point_runs_the_pipeline_for_wechat_only(aws):
    from functions.wechat import handler

    response = handler(api_event("GET", OA.handshake_query("from-lambda")), LambdaContext())
    assert (response["statusCode"], response["body"]) == (200, "from-lambda")
    other = api_event("GET", OA.handshake_query("x"))
    other["rawPath"] = "/webhooks/sms"
    assert handler(other, LambdaContext())["statusCode"] == 404
