"""WeCom kf outbound on moto: the exact HTTP requests for gettoken and kf/send_msg (answered by
``KfServer`` behind ``responses``), the token shared through the state table with the webhook's
pulls, and WeCom's refusals turned into failures an agent can read."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
import requests
import responses

from chalicelib.channels import tokens
from chalicelib.channels.credentials import account_credentials
from chalicelib.channels.transport import LiveTransport, RecordingTransport
from chalicelib.channels.wecom import ADAPTER, MAX_TEXT_BYTES
from chalicelib.messages import OutboundMessage
from tests.unit.test_wecom_protocol import CORP_ID, OPEN_KFID, SECRET, SEND_MSG_URL, TOKEN_URL, KfServer

USER = "wmCustomer0000000000000001"
REPLY = "您好，您的退货申请已受理，请注意查收短信。"  # fullwidth punctuation too: sent unescaped


@pytest.fixture
def kf(aws) -> Iterator[KfServer]:
    tokens.reset()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield KfServer(rsps)
    tokens.reset()


def reply(text: str = REPLY, context: dict[str, str] | None = None) -> OutboundMessage:
    return OutboundMessage(
        message_id="conv-1#3",
        conversation_id="conv-1",
        seq=3,
        customer_id="cust-1",
        channel="wecom",
        channel_user_id=USER,
        text=text,
        reply_context={"open_kfid": OPEN_KFID, "last_inbound_at": "2026-01-01T00:00:00.000Z"}
        if context is None
        else context,
    )


def send(msg: OutboundMessage | None = None):
    return ADAPTER.send(msg or reply(), account_credentials("wecom", "default"), LiveTransport())


def test_send_posts_unescaped_utf8_json_to_the_kf_account_the_customer_wrote_to(kf):
    result = send()

    assert (result.status, result.platform_message_id, result.error) == ("sent", "MSG0001", None)
    [token_call] = kf.calls(TOKEN_URL)
    assert token_call.request.method == "GET"
    assert token_call.request.url == f"{TOKEN_URL}?corpid={CORP_ID}&corpsecret={SECRET}"
    [send_call] = kf.calls(SEND_MSG_URL)
    assert send_call.request.method == "POST"
    assert send_call.request.url == f"{SEND_MSG_URL}?access_token=ACCESS_TOKEN_1"
    assert send_call.request.headers["content-type"] == "application/json; charset=utf-8"
    body = send_call.request.body
    assert REPLY.encode("utf-8") in body and b"\\u" not in body
    assert json.loads(body) == {
        "touser": USER,
        "open_kfid": OPEN_KFID,
        "msgtype": "text",
        "text": {"content": REPLY},
    }


def test_the_token_is_fetched_once_and_shared_across_sends_and_lambda_instances(kf):
    assert send().status == "sent"
    tokens.reset()  # a cold Lambda instance: empty memory, same state table
    assert send().status == "sent"
    assert len(kf.calls(TOKEN_URL)) == 1
    assert len(kf.sent) == 2


@pytest.mark.parametrize("errcode", [40014, 42001])
def test_a_rejected_token_is_replaced_and_the_send_retried_once(kf, errcode):
    kf.send_answers.append({"errcode": errcode, "errmsg": "invalid access_token"})
    result = send()
    assert result.status == "sent"
    assert [c.request.url.rsplit("=", 1)[1] for c in kf.calls(SEND_MSG_URL)] == [
        "ACCESS_TOKEN_1",
        "ACCESS_TOKEN_2",
    ]


def test_a_token_rejected_twice_is_retryable_without_a_third_try(kf):
    kf.send_answers.extend([{"errcode": 40014, "errmsg": "invalid access_token"}] * 2)
    result = send()
    assert (result.status, result.retryable) == ("failed", True)
    assert len(kf.calls(SEND_MSG_URL)) == 2


@pytest.mark.parametrize(
    ("errcode", "words"),
    [
        (95001, "at most 5 replies per customer message"),
        (95002, "outside WeCom's 48 h reply window"),
        (95018, "session's current state"),
        (95016, "does not allow this session state change"),
        (95013, "WeCom kf refused the reply (95013"),
    ],
)
def test_wecom_kf_refusals_are_permanent_failures_an_agent_can_read(kf, errcode, words):
    kf.send_answers.append({"errcode": errcode, "errmsg": "refused, hint: [x]"})
    result = send()
    assert (result.status, result.retryable) == ("failed", False)
    assert words in (result.error or "")
    assert len(kf.calls(SEND_MSG_URL)) == 1


@pytest.mark.parametrize("errcode", [-1, 45009])
def test_busy_or_throttled_wecom_is_retryable(kf, errcode):
    kf.send_answers.append({"errcode": errcode, "errmsg": "busy"})
    assert (send().status, send().status) == ("failed", "sent")


def test_server_errors_and_network_failures_are_retryable_and_leak_no_token(kf):
    kf.send_answers.extend([(502, {}, "Bad Gateway"), requests.ConnectionError("connection reset")])
    server_error, network_error = send(), send()
    assert (server_error.status, server_error.retryable) == ("failed", True)
    assert (network_error.status, network_error.retryable) == ("failed", True)
    assert "ACCESS_TOKEN" not in (network_error.error or "")


def test_a_wrong_kf_secret_fails_without_sending(kf):
    kf.secret = "rotated"
    result = send()
    assert (result.status, result.retryable) == ("failed", False)
    assert "40001" in (result.error or "")
    assert kf.calls(SEND_MSG_URL) == []


def test_without_a_known_kf_account_nothing_is_sent(kf):
    result = send(reply(context={}))
    assert (result.status, result.retryable) == ("failed", False)
    assert "no WeCom kf account is known" in (result.error or "")
    assert len(kf.rsps.calls) == 0


def test_text_over_wecoms_limit_is_refused_before_sending(kf):
    result = send(reply("字" * (MAX_TEXT_BYTES // 3 + 1)))  # 3 bytes each in UTF-8
    assert (result.status, result.retryable) == ("failed", False)
    assert "2048-byte" in (result.error or "")
    assert len(kf.rsps.calls) == 0


def test_recording_mode_records_the_request_with_a_placeholder_token_and_fetches_nothing(kf):
    transport = RecordingTransport()
    result = ADAPTER.send(reply(), account_credentials("wecom", "default"), transport)

    assert result.status == "sent_local"
    assert len(kf.rsps.calls) == 0
    [call] = transport.calls
    assert (call.method, call.url, call.params) == (
        "POST",
        SEND_MSG_URL,
        {"access_token": "local-access-token"},
    )
    assert json.loads(call.data) == {
        "touser": USER,
        "open_kfid": OPEN_KFID,
        "msgtype": "text",
        "text": {"content": REPLY},
    }
    assert call.redacted()["params"] == {"access_token": "***"}


def test_the_adapter_declares_wecoms_reply_limits_for_the_core():
    assert (ADAPTER.reply_window, ADAPTER.replies_per_inbound) == (48 * 3600, 5)
