"""The weibo channel end to end on moto: requests signed with wechatpy (WeChat's algorithm, the demo
account's AppSecret as token) through the real Lambda handler; pushes land once on the inbound FIFO
queue; refusals, including XML entity bombs, leave it empty."""

from __future__ import annotations

from typing import Any

import pytest
import responses

from chalicelib.channels import weibo
from chalicelib.channels.credentials import account_credentials
from chalicelib.channels.transport import LiveTransport
from chalicelib.messages import OutboundMessage
from functions.weibo import handler
from infra.local.provision import DEMO_CHANNELS
from tests.support.events import LambdaContext, http_event
from tests.support.queues import drain_inbound
from tests.unit.test_weibo import BILLION_LAUGHS, EXTERNAL_ENTITY, push, signed_query, xml_push

DEMO = DEMO_CHANNELS["weibo"]


def call(
    method: str, query: dict[str, str], body: bytes = b"", content_type: str = "application/json"
) -> dict[str, Any]:
    event = http_event(
        method, "/webhooks/weibo", body=body, query=query, headers={"content-type": content_type}
    )
    return handler(event, LambdaContext())


def signed(**extra: str) -> dict[str, str]:
    return signed_query(secret=DEMO["app_secret"], **extra)


def test_url_check(aws):
    response = call("GET", signed(echostr="2345678901"))
    assert (response["statusCode"], response["body"]) == (200, "2345678901")
    assert call("GET", signed_query(secret="wrong", echostr="x"))["statusCode"] == 403


def test_a_push_is_queued_once_across_weibos_retries(aws):
    for _ in range(3):
        response = call("POST", signed(), push())
        assert (response["statusCode"], response["body"]) == (200, "")
    [msg] = drain_inbound(aws)
    assert (msg.channel, msg.account, msg.text) == ("weibo", "default", "你好，请问发货了吗")


def test_an_xml_push_is_queued(aws):
    assert (
        call("POST", signed(), xml_push("event", data="<subtype>follow</subtype><key></key>"), "text/xml")[
            "statusCode"
        ]
        == 200
    )
    [msg] = drain_inbound(aws)
    assert (msg.type, msg.event) == ("event", "follow")


@pytest.mark.parametrize(
    ("query", "status"), [({}, 401), ({"signature": "0" * 40, "timestamp": "1", "nonce": "2"}, 403)]
)
def test_unsigned_or_forged_pushes_are_refused(aws, query, status):
    response = call("POST", query, push())
    assert response["statusCode"] == status
    assert drain_inbound(aws) == []


@pytest.mark.parametrize("body", [BILLION_LAUGHS, EXTERNAL_ENTITY, b"{broken", b"<xml><unclosed>"])
def test_malformed_bodies_and_entity_bombs_are_400(aws, body):
    response = call("POST", signed(), body, "text/xml")
    assert response["statusCode"] == 400
    assert "Traceback" not in response["body"]
    assert drain_inbound(aws) == []


@responses.activate
def test_reply_uses_the_stored_access_token(aws):
    responses.post(weibo.REPLY_URL, json={"result": True, "id": 1})
    out = OutboundMessage(
        message_id="conv-4#2",
        conversation_id="conv-4",
        seq=2,
        customer_id="c",
        channel="weibo",
        channel_user_id="2489518277",
        text="好的",
    )
    assert weibo.ADAPTER.send(out, account_credentials("weibo", "default"), LiveTransport()).status == "sent"
    assert f"access_token={DEMO['access_token']}" in responses.calls[0].request.body
