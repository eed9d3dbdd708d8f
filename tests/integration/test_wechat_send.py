"""WeChat outbound on moto: the exact HTTP requests (asserted with ``responses``) for the access token
and the custom-send API, the token shared through the state table, and WeChat's error codes."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests
import responses
from responses import matchers

from chalicelib.channels import tokens
from chalicelib.channels.credentials import account_credentials
from chalicelib.channels.transport import LiveTransport, RecordingTransport
from chalicelib.channels.wechat import ADAPTER
from chalicelib.messages import OutboundMessage
from infra.local.provision import DEMO_CHANNELS

TOKEN_URL = "https://api.weixin.qq.com/cgi-bin/token"
SEND_URL = "https://api.weixin.qq.com/cgi-bin/message/custom/send"
DEMO = DEMO_CHANNELS["wechat"]
REPLY = "您好，您的订单已发货，请注意查收。"  # fullwidth punctuation too: all of it must go out unescaped


class Clock:
    """A clock the test moves by hand (token expiry without waiting two hours)."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(aws, monkeypatch) -> Iterator[Clock]:
    fake = Clock()
    monkeypatch.setattr(tokens.TOKENS, "clock", fake)
    tokens.reset()
    yield fake
    tokens.reset()


@pytest.fixture
def wechat_api() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def reply(text: str = REPLY, to: str = "oUser") -> OutboundMessage:
    return OutboundMessage(
        message_id="conv-1#7",
        conversation_id="conv-1",
        seq=7,
        customer_id="cust-1",
        channel="wechat",
        channel_user_id=to,
        text=text,
    )


def send(msg: OutboundMessage | None = None):
    return ADAPTER.send(msg or reply(), account_credentials("wechat", "default"), LiveTransport())


def token_endpoint(rsps: responses.RequestsMock, *tokens_in_order: str, expires_in: int = 7200) -> None:
    query = {"grant_type": "client_credential", "appid": DEMO["app_id"], "secret": DEMO["app_secret"]}
    for value in tokens_in_order:
        rsps.get(
            TOKEN_URL,
            json={"access_token": value, "expires_in": expires_in},
            match=[matchers.query_param_matcher(query)],
        )


def send_endpoint(rsps: responses.RequestsMock, token: str, *answers: dict) -> None:
    for answer in answers:
        rsps.post(SEND_URL, json=answer, match=[matchers.query_param_matcher({"access_token": token})])


def calls_to(rsps: responses.RequestsMock, url: str) -> list[responses.Call]:
    return [c for c in rsps.calls if c.request.url.split("?")[0] == url]


def shared_token() -> str | None:
    import boto3

    item = (
        boto3.client("dynamodb")
        .get_item(TableName="omniflow-test-state", Key={"key": {"S": f"token#wechat#{DEMO['app_id']}"}})
        .get("Item")
    )
    return item["token"]["S"] if item and "token" in item else None


OK = {"errcode": 0, "errmsg": "ok"}


def test_send_fetches_a_token_and_posts_unescaped_utf8_json(clock, wechat_api):
    token_endpoint(wechat_api, "ACCESS_TOKEN_1")
    send_endpoint(wechat_api, "ACCESS_TOKEN_1", OK)

    result = send()

    assert (result.status, result.error, result.retryable) == ("sent", None, False)
    [token_call] = calls_to(wechat_api, TOKEN_URL)
    assert token_call.request.method == "GET"
    assert token_call.request.url == (
        f"{TOKEN_URL}?grant_type=client_credential&appid={DEMO['app_id']}&secret={DEMO['app_secret']}"
    )
    [send_call] = calls_to(wechat_api, SEND_URL)
    assert send_call.request.method == "POST"
    assert send_call.request.url == f"{SEND_URL}?access_token=ACCESS_TOKEN_1"
    assert send_call.request.headers["content-type"] == "application/json; charset=utf-8"
    body = send_call.request.body
    assert body == json.dumps(
        {"touser": "oUser", "msgtype": "text", "text": {"content": REPLY}}, ensure_ascii=False
    ).encode("utf-8")
    assert REPLY.encode("utf-8") in body and b"\\u" not in body
    assert json.loads(body) == {"touser": "oUser", "msgtype": "text", "text": {"content": REPLY}}


def test_the_token_is_fetched_once_and_shared_across_sends_and_lambda_instances(clock, wechat_api):
    token_endpoint(wechat_api, "ACCESS_TOKEN_1")
    send_endpoint(wechat_api, "ACCESS_TOKEN_1", OK, OK, OK)

    assert send().status == "sent"
    assert send().status == "sent"
    tokens.reset()  # a cold Lambda instance: empty memory, same state table
    assert send().status == "sent"

    assert len(calls_to(wechat_api, TOKEN_URL)) == 1
    assert len(calls_to(wechat_api, SEND_URL)) == 3
    assert shared_token() == "ACCESS_TOKEN_1"


def test_the_token_is_refreshed_when_less_than_five_minutes_are_left(clock, wechat_api):
    token_endpoint(wechat_api, "ACCESS_TOKEN_1", "ACCESS_TOKEN_2")
    send_endpoint(wechat_api, "ACCESS_TOKEN_1", OK, OK)
    send_endpoint(wechat_api, "ACCESS_TOKEN_2", OK)

    assert send().status == "sent"
    clock.now += 7200 - 301  # just over five minutes left: still used
    assert send().status == "sent"
    clock.now += 2  # under five minutes left: refreshed before the send
    assert send().status == "sent"

    assert len(calls_to(wechat_api, TOKEN_URL)) == 2
    assert calls_to(wechat_api, SEND_URL)[-1].request.url.endswith("access_token=ACCESS_TOKEN_2")
    assert shared_token() == "ACCESS_TOKEN_2"


@pytest.mark.parametrize("errcode", [40001, 42001, 40014])
def test_a_rejected_token_is_replaced_and_the_send_retried_once(clock, wechat_api, errcode):
    token_endpoint(wechat_api, "STALE_TOKEN", "FRESH_TOKEN")
    send_endpoint(wechat_api, "STALE_TOKEN", {"errcode": errcode, "errmsg": "invalid credential"})
    send_endpoint(wechat_api, "FRESH_TOKEN", OK)

    result = send()

    assert result.status == "sent"
    assert len(calls_to(wechat_api, TOKEN_URL)) == 2
    assert [c.request.url.rsplit("=", 1)[1] for c in calls_to(wechat_api, SEND_URL)] == [
        "STALE_TOKEN",
        "FRESH_TOKEN",
    ]
    assert shared_token() == "FRESH_TOKEN"


def test_a_token_rejected_twice_is_a_retryable_failure_without_a_third_try(clock, wechat_api):
    token_endpoint(wechat_api, "T1", "T2")
    send_endpoint(wechat_api, "T1", {"errcode": 40001, "errmsg": "invalid credential"})
    send_endpoint(wechat_api, "T2", {"errcode": 40001, "errmsg": "invalid credential"})

    result = send()

    assert (result.status, result.retryable) == ("failed", True)
    assert "40001" in (result.error or "")
    assert len(calls_to(wechat_api, SEND_URL)) == 2


def test_outside_the_48_hour_window_is_a_permanent_failure(clock, wechat_api):
    token_endpoint(wechat_api, "ACCESS_TOKEN_1")
    send_endpoint(wechat_api, "ACCESS_TOKEN_1", {"errcode": 45015, "errmsg": "response out of time limit"})

    result = send()

    assert (result.status, result.error, result.retryable) == (
        "failed",
        "outside the 48 h reply window",
        False,
    )
    assert len(calls_to(wechat_api, SEND_URL)) == 1


def test_other_errcodes_fail_with_wechats_errmsg(clock, wechat_api):
    token_endpoint(wechat_api, "ACCESS_TOKEN_1")
    send_endpoint(wechat_api, "ACCESS_TOKEN_1", {"errcode": 40003, "errmsg": "invalid openid"})

    result = send()

    assert (result.status, result.retryable) == ("failed", False)
    assert result.error == "WeChat error 40003: invalid openid"


def test_wechat_system_busy_is_retryable(clock, wechat_api):
    token_endpoint(wechat_api, "ACCESS_TOKEN_1")
    send_endpoint(wechat_api, "ACCESS_TOKEN_1", {"errcode": -1, "errmsg": "system error"})
    assert (send().status, send().retryable) == ("failed", True)


def test_server_errors_and_network_failures_are_retryable(clock, wechat_api):
    token_endpoint(wechat_api, "ACCESS_TOKEN_1")
    wechat_api.post(SEND_URL, status=502, body="Bad Gateway")
    wechat_api.post(SEND_URL, body=requests.ConnectionError("connection reset"))

    server_error = send()
    network_error = send()

    assert (server_error.status, server_error.retryable) == ("failed", True)
    assert (network_error.status, network_error.retryable) == ("failed", True)
    assert "ACCESS_TOKEN_1" not in (network_error.error or "")


def test_a_token_endpoint_error_fails_without_sending(clock, wechat_api):
    wechat_api.get(TOKEN_URL, json={"errcode": 40125, "errmsg": "invalid appsecret"})

    result = send()

    assert (result.status, result.retryable) == ("failed", False)
    assert "40125" in (result.error or "") and "invalid appsecret" in (result.error or "")
    assert calls_to(wechat_api, SEND_URL) == []
    assert shared_token() is None


def test_a_token_endpoint_outage_is_retryable_and_the_next_attempt_fetches_at_once(clock, wechat_api):
    wechat_api.get(TOKEN_URL, body=requests.ConnectionError("timeout"))
    token_endpoint(wechat_api, "ACCESS_TOKEN_1")
    send_endpoint(wechat_api, "ACCESS_TOKEN_1", OK)

    first = send()
    second = send()  # the failed refresher released its lease: no waiting for it to expire

    assert (first.status, first.retryable) == ("failed", True)
    assert second.status == "sent"


def test_recording_mode_records_the_request_with_a_placeholder_token_and_fetches_nothing(clock, wechat_api):
    transport = RecordingTransport()

    result = ADAPTER.send(reply(), account_credentials("wechat", "default"), transport)

    assert result.status == "sent_local"
    assert len(wechat_api.calls) == 0  # neither the token endpoint nor custom-send was reached
    [call] = transport.calls
    assert (call.method, call.url, call.params) == ("POST", SEND_URL, {"access_token": "local-access-token"})
    assert call.data == json.dumps(
        {"touser": "oUser", "msgtype": "text", "text": {"content": REPLY}}, ensure_ascii=False
    ).encode("utf-8")
    shown = call.redacted()
    assert shown["params"] == {"access_token": "***"}
    assert json.loads(shown["body"])["text"]["content"] == REPLY
    assert shared_token() is None
