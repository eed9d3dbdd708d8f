"""The app channel through the real webhook pipeline on moto: signed posts become queued messages
exactly once, replays and forgeries change nothing, and the user's thread carries agent replies."""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from typing import Any

import boto3
import pytest

from chalicelib.channels import credentials, pipeline
from chalicelib.router import service as router
from infra.local.provision import DEMO_CHANNELS
from tests.support.events import http_event, json_body
from tests.support.queues import drain_inbound

KEYS: dict[str, str] = json.loads(DEMO_CHANNELS["app"]["keys"])
KEY_ID, SECRET = next(iter(KEYS.items()))


def headers_for(
    payload: bytes, *, key_id: str = KEY_ID, secret: str = SECRET, nonce: str | None = None
) -> dict[str, str]:
    """What the company's backend sends (plain hmac, independent of the channel's code)."""
    timestamp, nonce = str(int(time.time())), nonce or secrets.token_urlsafe(18)
    mac = hmac.new(
        secret.encode(), timestamp.encode() + b"\n" + nonce.encode() + b"\n" + payload, hashlib.sha256
    )
    return {
        "content-type": "application/json",
        "x-omniflow-key": key_id,
        "x-omniflow-timestamp": timestamp,
        "x-omniflow-nonce": nonce,
        "x-omniflow-signature": mac.hexdigest(),
    }


def post(body: Any, path: str = "/webhooks/app", **kw: Any) -> dict[str, Any]:
    raw = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode()
    return pipeline.handle(http_event("POST", path, body=raw, headers=headers_for(raw, **kw)))


def get_thread(user: str, after: str | None = None, path: str = "/webhooks/app/messages") -> dict[str, Any]:
    from urllib.parse import urlencode

    query = {"user": user} | ({"after": after} if after else {})
    signed = headers_for(urlencode(query).encode())
    return pipeline.handle(http_event("GET", path, headers=signed, query=query))


def entry(
    user_id: str = "u-42", message_id: str = "m-1", text: str = "Where is my order?", **user: Any
) -> dict:
    return {"user": {"id": user_id, **user}, "message": {"id": message_id, "type": "text", "text": text}}


def set_accounts(accounts: dict[str, Any]) -> None:
    """Replace the app channel's secret (key rotation, a second account) and forget the cached copy."""
    boto3.client("secretsmanager").put_secret_value(
        SecretId="omniflow/test/channels/app", SecretString=json.dumps(accounts)
    )
    credentials.reset()


def test_a_signed_message_is_queued_with_the_users_verified_identity(aws):
    user = {"name": "Li Lei", "phone": "+8613800138000", "email": "li@example.cn", "verified": ["phone"]}
    response = post(entry(**user))
    assert response["statusCode"] == 202
    assert json_body(response) == {"accepted": 1, "message_ids": ["m-1"]}
    [msg] = drain_inbound(aws)
    assert (msg.channel, msg.account, msg.channel_user_id, msg.text) == (
        "app",
        "default",
        "u-42",
        "Where is my order?",
    )
    assert msg.hints.verified == ("external_id", "phone") and msg.hints.external_id == "u-42"
    assert msg.hints.email == "li@example.cn"  # shown to agents, links nobody


def test_a_batch_of_text_media_and_location_is_queued_in_order(aws):
    batch = {
        "messages": [
            entry(message_id="m-1", text="This one is broken"),
            {
                "user": {"id": "u-42"},
                "message": {"id": "m-2", "type": "image", "url": "https://cdn.example/b.jpg"},
            },
            {
                "user": {"id": "u-42"},
                "message": {"id": "m-3", "type": "location", "latitude": 31.2, "longitude": 121.5},
                "sent_at": "2024-05-01T08:00:00Z",
            },
        ]
    }
    assert json_body(post(batch)) == {"accepted": 3, "message_ids": ["m-1", "m-2", "m-3"]}
    assert [m.type for m in drain_inbound(aws)] == ["text", "image", "location"]


def test_a_message_resent_with_a_fresh_signature_is_queued_once(aws):
    assert post(entry())["statusCode"] == 202
    assert post(entry())["statusCode"] == 202  # the backend retried: new nonce, same message id
    assert post(entry(user_id="u-43"))["statusCode"] == 202  # another user's "m-1" is another message
    assert sorted(m.channel_user_id for m in drain_inbound(aws)) == ["u-42", "u-43"]


def test_a_replayed_request_is_refused_with_409_and_changes_nothing(aws):
    raw = json.dumps(entry()).encode()
    signed = headers_for(raw)
    assert pipeline.handle(http_event("POST", "/webhooks/app", body=raw, headers=signed))["statusCode"] == 202
    drain_inbound(aws)
    again = pipeline.handle(http_event("POST", "/webhooks/app", body=raw, headers=signed))
    assert again["statusCode"] == 409 and json_body(again)["error"] == "nonce_reused"
    other = json.dumps(entry(message_id="m-2")).encode()  # same nonce, a new (forged) body
    forged = pipeline.handle(http_event("POST", "/webhooks/app", body=other, headers=signed))
    assert forged["statusCode"] == 401
    assert drain_inbound(aws) == []


def test_the_nonce_is_recorded_in_the_state_table_for_ten_minutes(aws):
    nonce = "n0nce-" + secrets.token_hex(8)
    before = int(time.time())
    assert post(entry(), nonce=nonce)["statusCode"] == 202
    after = int(time.time()) + 1
    item = boto3.client("dynamodb").get_item(
        TableName="omniflow-test-state", Key={"key": {"S": f"nonce#app#default#{nonce}"}}
    )["Item"]
    assert before + 600 <= int(item["expires_at"]["N"]) <= after + 600


@pytest.mark.parametrize(
    "tamper",
    [
        lambda h: h | {"x-omniflow-signature": "0" * 64},
        lambda h: h | {"x-omniflow-key": "retired-key"},
        lambda h: h | {"x-omniflow-timestamp": str(int(time.time()) - 3600)},
        lambda h: {k: v for k, v in h.items() if k != "x-omniflow-nonce"},
    ],
)
def test_forged_unsigned_or_stale_requests_get_401_and_nothing_is_queued(aws, tamper):
    raw = json.dumps(entry()).encode()
    response = pipeline.handle(
        http_event("POST", "/webhooks/app", body=raw, headers=tamper(headers_for(raw)))
    )
    assert response["statusCode"] == 401
    assert "Traceback" not in response["body"]
    assert drain_inbound(aws) == []


@pytest.mark.parametrize(
    "body",
    [
        b"not json",
        b"[[[[[[[[[[",
        json.dumps({"user": {"id": "u-1"}}).encode(),
        json.dumps(entry(user_id="a#b")).encode(),
        json.dumps(
            {"messages": [entry(), {"user": {"id": "u"}, "message": {"id": "x", "type": "poll"}}]}
        ).encode(),
        json.dumps(entry(phone="+8613800138000", verified=["email"])).encode(),
    ],
)
def test_malformed_bodies_get_400_and_nothing_of_the_request_is_queued(aws, body):
    response = post(body)
    assert response["statusCode"] == 400, response["body"]
    assert drain_inbound(aws) == []


def test_a_base64_encoded_body_is_verified_over_its_decoded_bytes(aws):
    raw = json.dumps(entry(text="包裹到哪了？"), ensure_ascii=False).encode()
    event = http_event("POST", "/webhooks/app", body=raw, headers=headers_for(raw), base64_body=True)
    assert pipeline.handle(event)["statusCode"] == 202
    assert drain_inbound(aws)[0].text == "包裹到哪了？"


def test_both_keys_work_while_a_key_is_rotated(aws):
    set_accounts({"default": {"keys": {"old": "old-secret", "new": "new-secret"}}})
    assert post(entry(message_id="m-1"), key_id="old", secret="old-secret")["statusCode"] == 202
    assert post(entry(message_id="m-2"), key_id="new", secret="new-secret")["statusCode"] == 202
    assert post(entry(message_id="m-3"), key_id="old", secret="new-secret")["statusCode"] == 401
    set_accounts({"default": {"keys": {"new": "new-secret"}}})
    assert post(entry(message_id="m-4"), key_id="old", secret="old-secret")["statusCode"] == 401
    assert len(drain_inbound(aws)) == 2


def test_each_account_has_its_own_keys_and_unknown_accounts_are_404(aws):
    set_accounts({"default": {"keys": KEYS}, "mini-site": {"keys": {"ms": "mini-secret"}}})
    assert (
        post(entry(), path="/webhooks/app/mini-site", key_id="ms", secret="mini-secret")["statusCode"] == 202
    )
    assert post(entry(), path="/webhooks/app/mini-site")["statusCode"] == 401  # default's key
    assert post(entry(), path="/webhooks/app/nowhere")["statusCode"] == 404
    [msg] = drain_inbound(aws)
    assert msg.account == "mini-site"


def test_an_app_user_with_a_verified_phone_is_the_customer_who_texted_from_it(aws):
    from chalicelib.messages import CustomerHints
    from tests.support.factories import inbound

    sms = inbound(
        "sms",
        "+8613800138000",
        "Hi, order 1234?",
        hints=CustomerHints(phone="+8613800138000", verified=("phone",)),
    )
    sms_customer = router.store(sms).conversation.customer_id
    post(entry(phone="+8613800138000", verified=["phone"]))
    [msg] = drain_inbound(aws)
    assert router.store(msg).conversation.customer_id == sms_customer


def test_the_thread_shows_the_users_messages_and_the_agents_replies(aws):
    from chalicelib.outbound import service as outbound

    post(entry(text="Where is my order?"))
    [msg] = drain_inbound(aws)
    conversation_id = router.store(msg).conversation.conversation_id
    outbound.reply(conversation_id, "agent1", "It ships today.", channel=None, may_take_over=False)

    response = get_thread("u-42")
    assert response["statusCode"] == 200
    thread = json_body(response)
    assert thread["user"] == "u-42"
    assert [(m["direction"], m["text"]) for m in thread["messages"]] == [
        ("in", "Where is my order?"),
        ("out", "It ships today."),
    ]
    first = thread["messages"][0]["created_at"]
    later = json_body(get_thread("u-42", after=first))["messages"]
    assert [m["text"] for m in later] == ["It ships today."]
    assert json_body(get_thread("u-someone-else"))["messages"] == []


def test_the_thread_refuses_tampered_queries_and_bad_cursors(aws):
    signed = headers_for(b"user=u-42")
    tampered = pipeline.handle(
        http_event("GET", "/webhooks/app/messages", headers=signed, query={"user": "u-43"})
    )
    assert tampered["statusCode"] == 401
    assert get_thread("u-42", after="yesterday")["statusCode"] == 400
    assert get_thread("a#b")["statusCode"] == 400
    unsigned = pipeline.handle(http_event("GET", "/webhooks/app/messages", query={"user": "u-42"}))
    assert unsigned["statusCode"] == 401


def test_when_the_nonce_store_is_unavailable_the_backend_is_told_to_retry_and_nothing_is_queued(aws):
    boto3.client("dynamodb").delete_table(TableName="omniflow-test-state")
    response = post(entry())
    assert response["statusCode"] == 503 and json_body(response)["error"] == "unavailable"
    assert drain_inbound(aws) == []
