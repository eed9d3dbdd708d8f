"""The douyin channel on moto: signed events through the real Lambda handler (URL check, messages
queued once, refusals queue nothing), and replies at the HTTP level with ``responses``: the client
token fetched once and shared through the state table, the IM send request, Douyin's error codes."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import responses
from responses import matchers

from chalicelib.channels import douyin, tokens
from chalicelib.channels.credentials import account_credentials
from chalicelib.channels.transport import LiveTransport, RecordingTransport
from chalicelib.messages import OutboundMessage
from functions.douyin import handler
from infra.local.provision import DEMO_CHANNELS
from tests.support.events import LambdaContext, http_event
from tests.support.queues import drain_inbound

DEMO = DEMO_CHANNELS["douyin"]
CUSTOMER = "_000CUSTOMER_OPEN_ID"


def im_event(
    text: str = "在吗？",
    server_message_id: str = "7340000000000000001",
    sender: str = CUSTOMER,
    kind: str = "im_receive_msg",
) -> bytes:
    content = {
        "conversation_short_id": "7340000000000000999",
        "server_message_id": server_message_id,
        "conversation_type": 1,
        "create_time": 1_717_000_000_000,
        "message_type": "text",
        "text": text,
        "user_infos": [
            {"open_id": CUSTOMER, "nick_name": "小红", "avatar": "https://p3.douyinpic.com/a.jpg"}
        ],
    }
    data = {
        "event": kind,
        "client_key": DEMO["client_key"],
        "from_user_id": sender,
        "to_user_id": DEMO["open_id"],
        "content": json.dumps(content, ensure_ascii=False),
    }
    return json.dumps(data, ensure_ascii=False).encode()


def webhook(body: bytes, *, signature: str | None = "sign", msg_id: str | None = None) -> dict[str, Any]:
    headers = {"content-type": "application/json"}
    if signature == "sign":
        signature = hashlib.sha1(DEMO["client_secret"].encode() + body).hexdigest()
    if signature is not None:
        headers["X-Douyin-Signature"] = signature
    if msg_id is not None:
        headers["Msg-Id"] = msg_id
    return handler(http_event("POST", "/webhooks/douyin", body=body, headers=headers), LambdaContext())


# ---- webhook ----------------------------------------------------------------------------------------


def test_the_url_check_is_answered_with_the_challenge(aws):
    body = json.dumps(
        {"event": "verify_webhook", "client_key": DEMO["client_key"], "content": {"challenge": 4242}}
    ).encode()
    response = webhook(body)
    assert (response["statusCode"], json.loads(response["body"])) == (200, {"challenge": 4242})
    assert drain_inbound(aws) == []


def test_a_message_is_queued_once_across_douyins_retries(aws):
    for _ in range(3):  # Douyin retries 3 times when it does not hear back within 5 s
        assert webhook(im_event(), msg_id="msg-id-1")["statusCode"] == 200
    [msg] = drain_inbound(aws)
    assert (msg.channel_user_id, msg.text, msg.platform_message_id) == (CUSTOMER, "在吗？", "msg-id-1")
    assert msg.hints.display_name == "小红"


def test_without_the_header_server_message_id_dedupes(aws):
    webhook(im_event(server_message_id="7340000000000000002"))
    webhook(im_event(server_message_id="7340000000000000002"))
    webhook(im_event("第二条", server_message_id="7340000000000000003"))
    assert sorted(m.platform_message_id for m in drain_inbound(aws)) == [
        "7340000000000000002",
        "7340000000000000003",
    ]


def test_our_own_echo_is_acknowledged_but_not_queued(aws):
    response = webhook(im_event("您好", sender=DEMO["open_id"], kind="im_send_msg"))
    assert response["statusCode"] == 200
    assert drain_inbound(aws) == []


@pytest.mark.parametrize(("signature", "status"), [(None, 401), ("0" * 40, 403)])
def test_unsigned_or_forged_events_are_refused(aws, signature, status):
    assert webhook(im_event(), signature=signature)["statusCode"] == status
    assert drain_inbound(aws) == []


@pytest.mark.parametrize(
    "body",
    [b"{", b"[]", json.dumps({"event": "im_receive_msg", "from_user_id": CUSTOMER, "content": "{"}).encode()],
)
def test_malformed_events_are_400(aws, body):
    response = webhook(body)
    assert response["statusCode"] == 400
    assert drain_inbound(aws) == []


# ---- replies ----------------------------------------------------------------------------------------


@pytest.fixture
def douyin_api(aws) -> Iterator[responses.RequestsMock]:
    tokens.reset()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps
    tokens.reset()


def reply(text: str = "您好，已为您登记退货。", context: dict[str, str] | None = None) -> OutboundMessage:
    return OutboundMessage(
        message_id="conv-5#2",
        conversation_id="conv-5",
        seq=2,
        customer_id="cust-5",
        channel="douyin",
        channel_user_id=CUSTOMER,
        text=text,
        reply_context={"msg_id": "7340000000000000001", "conversation_id": "7340000000000000999"}
        if context is None
        else context,
    )


def token_endpoint(rsps: responses.RequestsMock, *values: str) -> None:
    body = {
        "client_key": DEMO["client_key"],
        "client_secret": DEMO["client_secret"],
        "grant_type": "client_credential",
    }
    for value in values:
        rsps.post(
            douyin.CLIENT_TOKEN_URL,
            json={
                "data": {"access_token": value, "description": "", "error_code": 0, "expires_in": 7200},
                "message": "success",
            },
            match=[matchers.json_params_matcher(body)],
        )


def send_endpoint(
    rsps: responses.RequestsMock, token: str, *answers: dict[str, Any], status: int = 200
) -> None:
    for answer in answers:
        rsps.post(
            douyin.SEND_URL,
            status=status,
            json=answer,
            match=[
                matchers.query_param_matcher({"open_id": DEMO["open_id"]}),
                matchers.header_matcher({"access-token": token}),
            ],
        )


def ok(msg_id: str = "7340000000000001234") -> dict[str, Any]:
    return {
        "data": {"error_code": 0, "description": "", "msg_id": msg_id},
        "extra": {"error_code": 0, "description": "", "sub_error_code": 0, "logid": "x", "now": 1},
    }


def error(code: int, description: str) -> dict[str, Any]:
    return {
        "data": {"error_code": code, "description": description},
        "extra": {"error_code": code, "description": description, "logid": "x"},
    }


def send(msg: OutboundMessage | None = None):
    return douyin.ADAPTER.send(msg or reply(), account_credentials("douyin", "default"), LiveTransport())


def test_reply_fetches_a_client_token_once_and_posts_the_im_send_schema(douyin_api):
    token_endpoint(douyin_api, "clt.token-1")
    send_endpoint(douyin_api, "clt.token-1", ok("m-1"), ok("m-2"))
    first, second = send(), send()
    assert (first.status, first.platform_message_id) == ("sent", "m-1")
    assert second.platform_message_id == "m-2"
    token_calls = [c for c in douyin_api.calls if c.request.url == douyin.CLIENT_TOKEN_URL]
    assert len(token_calls) == 1  # cached in memory and in the state table
    call = next(c for c in douyin_api.calls if c.request.url.startswith(douyin.SEND_URL))
    assert call.request.url == f"{douyin.SEND_URL}?open_id={DEMO['open_id']}"
    assert (
        call.request.body
        == json.dumps(
            {
                "msg_id": "7340000000000000001",
                "conversation_id": "7340000000000000999",
                "to_user_id": CUSTOMER,
                "content": {"msg_type": 1, "text": {"text": "您好，已为您登记退货。"}},
                "scene": "im_reply_msg",
            },
            ensure_ascii=False,
        ).encode()
    )
    item = boto3.client("dynamodb").get_item(
        TableName="omniflow-test-state", Key={"key": {"S": f"token#douyin#{DEMO['client_key']}"}}
    )["Item"]
    assert item["token"]["S"] == "clt.token-1"


def test_a_rejected_token_is_replaced_and_the_send_retried_once(douyin_api):
    token_endpoint(douyin_api, "clt.old", "clt.new")
    send_endpoint(douyin_api, "clt.old", error(2190008, "access_token过期"))
    send_endpoint(douyin_api, "clt.new", ok())
    assert send().status == "sent"


@pytest.mark.parametrize(
    ("answer", "status", "retryable", "error_text"),
    [
        (
            error(2100004, "系统繁忙，此时请开发者稍候再试"),
            200,
            True,
            "Douyin error 2100004: 系统繁忙，此时请开发者稍候再试",
        ),
        (error(2100005, "参数不合法"), 200, False, "Douyin error 2100005: 参数不合法"),
        ({"message": "rate limited"}, 429, True, "Douyin HTTP 429"),
        ({"message": "oops"}, 502, True, "Douyin HTTP 502"),
    ],
)
def test_errors_are_classified(douyin_api, answer, status, retryable, error_text):
    token_endpoint(douyin_api, "clt.t")
    send_endpoint(douyin_api, "clt.t", answer, status=status)
    result = send()
    assert (result.status, result.retryable, result.error) == ("failed", retryable, error_text)


def test_a_token_endpoint_refusal_fails_without_a_send(douyin_api):
    douyin_api.post(
        douyin.CLIENT_TOKEN_URL,
        json={
            "data": {"error_code": 10013, "description": "client_key或client_secret错误"},
            "message": "error",
        },
    )
    result = send()
    assert (result.status, result.retryable) == ("failed", False)
    assert "10013" in (result.error or "")
    assert not [c for c in douyin_api.calls if c.request.url.startswith(douyin.SEND_URL)]


def test_without_a_customer_message_to_answer_nothing_is_sent(douyin_api):
    result = send(reply(context={}))
    assert (result.status, result.retryable) == ("failed", False)
    assert len(douyin_api.calls) == 0


def test_recording_mode_fetches_no_token_and_records_the_send(douyin_api):
    http = RecordingTransport()
    result = douyin.ADAPTER.send(reply(), account_credentials("douyin", "default"), http)
    assert result.status == "sent_local"
    assert len(douyin_api.calls) == 0
    [call] = http.calls
    assert call.url == douyin.SEND_URL and call.params == {"open_id": DEMO["open_id"]}
    assert call.redacted()["headers"]["access-token"] == "***"
