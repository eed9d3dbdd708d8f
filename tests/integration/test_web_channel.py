"""Website chat through the real webhook pipeline: visitor sessions, signed identities, polling."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from chalicelib.channels import pipeline
from chalicelib.identity.models import Identity
from chalicelib.router import service as router
from infra.local.provision import DEMO_CHANNELS
from tests.support.events import http_event, json_body
from tests.support.queues import drain_inbound

WEB = DEMO_CHANNELS["web"]


def company_signature(identity: dict) -> str:
    """What the company's backend computes: HMAC-SHA256 over compact, key-sorted JSON (plain hmac)."""
    payload = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    return hmac.new(WEB["identity_secret"].encode(), payload, hashlib.sha256).hexdigest()


def start(body: dict | None = None, token: str | None = None) -> dict:
    headers = {"content-type": "application/json", "origin": "https://shop.example"}
    if token:
        headers["authorization"] = f"Bearer {token}"
    return pipeline.handle(
        http_event("POST", "/webhooks/web/sessions", body=json.dumps(body or {}), headers=headers)
    )


def send(token: str, text: str, client_message_id: str | None = None) -> dict:
    body = {"text": text} | ({"client_message_id": client_message_id} if client_message_id else {})
    return pipeline.handle(
        http_event(
            "POST",
            "/webhooks/web/messages",
            body=json.dumps(body),
            headers={"authorization": f"Bearer {token}"},
        )
    )


def test_a_visitor_session_lets_the_visitor_write_and_read_the_agents_reply(aws):
    session = start({"name": "Alice", "email": "alice@example.com"})
    assert session["statusCode"] == 201
    assert session["headers"]["access-control-allow-origin"] == "https://shop.example"
    token = json_body(session)["token"]
    assert send(token, "Is the serum good for sensitive skin?")["statusCode"] == 202
    [msg] = drain_inbound(aws)
    assert msg.channel == "web" and msg.hints.verified == () and msg.hints.email == "alice@example.com"
    cid = router.store(msg).conversation.conversation_id
    from chalicelib.outbound import service as outbound

    outbound.reply(cid, "agent1", "Yes, it is fragrance-free.", channel=None, may_take_over=False)
    thread = json_body(
        pipeline.handle(
            http_event("GET", "/webhooks/web/messages", headers={"authorization": f"Bearer {token}"})
        )
    )
    assert [(m["direction"], m["text"]) for m in thread["messages"]] == [
        ("in", "Is the serum good for sensitive skin?"),
        ("out", "Yes, it is fragrance-free."),
    ]
    later = json_body(
        pipeline.handle(
            http_event(
                "GET",
                "/webhooks/web/messages",
                headers={"authorization": f"Bearer {token}"},
                query={"after": thread["messages"][0]["created_at"]},
            )
        )
    )
    assert [m["text"] for m in later["messages"]] == ["Yes, it is fragrance-free."]


def test_a_session_resumed_with_its_token_keeps_the_visitor(aws):
    first = json_body(start({"name": "Bob"}))
    again = json_body(start({}, token=first["token"]))
    assert again["visitor_id"] == first["visitor_id"]


def test_a_signed_company_identity_is_verified_and_links_channels(aws):
    identity = {
        "user_id": "u-1001",
        "phone": "+8613900139000",
        "email": "Li@Example.com",
        "expires": time.time() + 300,
    }
    session = json_body(start({"identity": identity, "identity_signature": company_signature(identity)}))
    assert sorted(session["verified"]) == ["email", "external_id", "phone"]
    send(session["token"], "hello from the shop")
    [msg] = drain_inbound(aws)
    web_customer = router.store(msg).conversation.customer_id
    from chalicelib.messages import CustomerHints
    from tests.support.factories import inbound

    sms = router.store(
        inbound("sms", "+8613900139000", hints=CustomerHints(phone="+8613900139000", verified=("phone",)))
    )
    assert sms.conversation.customer_id == web_customer
    assert Identity.get("email#li@example.com").customer_id == web_customer


def test_a_forged_or_expired_identity_signature_is_refused(aws):
    identity = {"user_id": "u-1", "expires": time.time() + 300}
    assert start({"identity": identity, "identity_signature": "0" * 64})["statusCode"] == 403
    old = {"user_id": "u-1", "expires": time.time() - 1}
    assert start({"identity": old, "identity_signature": company_signature(old)})["statusCode"] == 403


@pytest.mark.parametrize(
    "token",
    ["", "garbage", "eyJ2IjoieCJ9.AAAA", None],
)
def test_messages_without_a_valid_visitor_token_are_refused_and_nothing_is_queued(aws, token):
    headers = {"authorization": f"Bearer {token}"} if token is not None else {}
    r = pipeline.handle(http_event("POST", "/webhooks/web/messages", body='{"text":"hi"}', headers=headers))
    assert r["statusCode"] == 401
    assert drain_inbound(aws) == []


def test_a_token_for_another_site_is_refused(aws):
    token = json_body(start({}))["token"]
    r = pipeline.handle(
        http_event(
            "POST",
            "/webhooks/web/shop2/messages",
            body='{"text":"hi"}',
            headers={"authorization": f"Bearer {token}"},
        )
    )
    assert r["statusCode"] == 404  # no such site configured


def test_a_retried_message_with_the_same_client_id_is_queued_once(aws):
    token = json_body(start({}))["token"]
    for _ in range(3):
        assert send(token, "once", client_message_id="c-1")["statusCode"] == 202
    assert len(drain_inbound(aws)) == 1


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ("{bad json", 400),
        ('{"text": ""}', 400),
        ('{"text": 5}', 400),
        ("[]", 400),
        ('{"text": "' + "x" * 4001 + '"}', 400),
    ],
)
def test_malformed_visitor_messages_are_400(aws, body, status):
    token = json_body(start({}))["token"]
    r = pipeline.handle(
        http_event("POST", "/webhooks/web/messages", body=body, headers={"authorization": f"Bearer {token}"})
    )
    assert r["statusCode"] == status
    assert "Traceback" not in r["body"]


def test_unknown_channels_and_paths_are_404_and_big_bodies_413(aws):
    assert pipeline.handle(http_event("POST", "/webhooks/myspace", body="{}"))["statusCode"] == 404
    assert pipeline.handle(http_event("POST", "/webhooks/web/unknown", body="{}"))["statusCode"] == 404
    big = pipeline.handle(http_event("POST", "/webhooks/web/messages", body="x" * (1024 * 1024 + 1)))
    assert big["statusCode"] == 413
