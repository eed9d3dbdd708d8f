"""The telegram channel end to end on moto: updates built by python-telegram-bot go through the real
Lambda handler (API Gateway HTTP API v2 events) and land once on the inbound FIFO queue; refusals
leave it empty; a reply goes out with the stored account's bot token."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
import responses
import telegram

from chalicelib.channels import telegram as tg
from chalicelib.channels.credentials import account_credentials
from chalicelib.channels.transport import LiveTransport, RecordingTransport
from chalicelib.messages import OutboundMessage
from functions.telegram import handler
from infra.local.provision import DEMO_CHANNELS
from tests.support.events import LambdaContext, http_event
from tests.support.queues import drain_inbound

DEMO = DEMO_CHANNELS["telegram"]
CUSTOMER = telegram.User(id=777001, first_name="Mia", is_bot=False, username="mia")
WHEN = datetime(2024, 6, 1, 9, 30, tzinfo=UTC)


def text_update(text: str = "Hello, is anyone there?", update_id: int = 500_001) -> bytes:
    msg = telegram.Message(
        message_id=10,
        date=WHEN,
        chat=telegram.Chat(id=CUSTOMER.id, type="private"),
        from_user=CUSTOMER,
        text=text,
    )
    return telegram.Update(update_id=update_id, message=msg).to_json().encode()


def webhook(
    body: bytes, *, secret: str | None = DEMO["secret_token"], method: str = "POST", base64_body: bool = False
) -> dict[str, Any]:
    headers = {"content-type": "application/json"}
    if secret is not None:
        headers["X-Telegram-Bot-Api-Secret-Token"] = secret
    event = http_event(method, "/webhooks/telegram", body=body, headers=headers, base64_body=base64_body)
    return handler(event, LambdaContext())


def test_an_authenticated_update_is_queued_and_acknowledged(aws):
    response = webhook(text_update(), base64_body=True)
    assert response["statusCode"] == 200
    assert json.loads(response["body"]) == {"accepted": 1}
    [msg] = drain_inbound(aws)
    assert (msg.channel, msg.account, msg.channel_user_id, msg.text) == (
        "telegram",
        "default",
        "777001",
        "Hello, is anyone there?",
    )
    assert msg.hints.display_name == "Mia"


def test_a_retried_update_is_queued_once(aws):
    first, again = webhook(text_update()), webhook(text_update())
    assert first["statusCode"] == again["statusCode"] == 200
    assert [m.platform_message_id for m in drain_inbound(aws)] == ["500001"]


def test_each_update_id_is_its_own_message(aws):
    webhook(text_update("one", 1))
    webhook(text_update("two", 2))
    assert sorted(m.text for m in drain_inbound(aws)) == ["one", "two"]


@pytest.mark.parametrize(("secret", "status"), [(None, 401), ("guessed-secret", 403)])
def test_unauthenticated_updates_are_refused_and_not_queued(aws, secret, status):
    response = webhook(text_update(), secret=secret)
    assert response["statusCode"] == status
    assert "Traceback" not in response["body"]
    assert drain_inbound(aws) == []


@pytest.mark.parametrize("body", [b"{", b'{"update_id": true}', b'{"update_id": 1, "message": []}'])
def test_malformed_bodies_are_400_and_not_queued(aws, body):
    response = webhook(body)
    assert response["statusCode"] == 400
    assert json.loads(response["body"])["error"] == "bad_request"
    assert drain_inbound(aws) == []


def test_only_post_is_accepted(aws):
    assert webhook(b"", method="GET")["statusCode"] == 405


def test_a_button_press_is_queued_and_answered_in_the_response(aws):
    query = telegram.CallbackQuery(id="cbq-77", from_user=CUSTOMER, chat_instance="c", data="order:123")
    body = telegram.Update(update_id=600_001, callback_query=query).to_json().encode()
    response = webhook(body)
    assert json.loads(response["body"]) == {"method": "answerCallbackQuery", "callback_query_id": "cbq-77"}
    [msg] = drain_inbound(aws)
    assert (msg.type, msg.event, msg.text, msg.channel_user_id) == (
        "event",
        "callback_query",
        "order:123",
        "777001",
    )


def reply() -> OutboundMessage:
    return OutboundMessage(
        message_id="conv-9#2",
        conversation_id="conv-9",
        seq=2,
        customer_id="cust-9",
        channel="telegram",
        channel_user_id="777001",
        text="Hi Mia, we are here.",
    )


@responses.activate
def test_reply_uses_the_accounts_bot_token(aws):
    url = f"https://api.telegram.org/bot{DEMO['bot_token']}/sendMessage"
    responses.post(
        url,
        json={"ok": True, "result": {"message_id": 55, "date": 1, "chat": {"id": 777001, "type": "private"}}},
    )
    result = tg.ADAPTER.send(reply(), account_credentials("telegram", "default"), LiveTransport())
    assert (result.status, result.platform_message_id) == ("sent", "55")
    assert json.loads(responses.calls[0].request.body) == {"chat_id": 777001, "text": "Hi Mia, we are here."}


def test_recording_mode_makes_no_http_call(aws):
    http = RecordingTransport()
    with responses.RequestsMock() as rsps:  # any real request would fail this block
        result = tg.ADAPTER.send(reply(), account_credentials("telegram", "default"), http)
        assert len(rsps.calls) == 0
    assert result.status == "sent_local"
    assert len(http.calls) == 1
