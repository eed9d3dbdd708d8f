"""Pure decisions, no AWS: routing, identity keys, previews, roles, visitor tokens, event parsing."""

from __future__ import annotations

import base64
import time
from datetime import UTC, datetime

import pytest

from chalicelib.auth.service import Principal, role_of
from chalicelib.channels import web
from chalicelib.channels.base import BadRequest, NotFound, PayloadTooLarge, Unauthorized
from chalicelib.channels.pipeline import request_from_event
from chalicelib.conversations.service import preview_of
from chalicelib.identity.service import hint_keys
from chalicelib.messages import CustomerHints, InboundMessage
from chalicelib.routing import initial_group
from tests.support.events import http_event


def msg(text: str = "", **kw) -> InboundMessage:
    return InboundMessage(
        channel="sms",
        channel_user_id="+1",
        text=text,
        platform_message_id="1",
        sent_at=datetime.now(UTC),
        **kw,
    )


@pytest.mark.parametrize(
    ("text", "group"),
    [
        ("我要退货", "aftersales"),
        ("快递三天了还没到", "aftersales"),
        ("The parcel arrived damaged", "aftersales"),
        ("I want a refund please", "aftersales"),
        ("这款精华适合敏感肌吗？", "presales"),
        ("Do you have this in blue?", "presales"),
        ("", "presales"),
    ],
)
def test_the_first_message_picks_the_skill_group(text, group):
    assert initial_group(msg(text)) == group


def test_only_verified_hints_become_identity_keys_strongest_first():
    hints = CustomerHints(
        phone="+8613800000000",
        email=" Alice@Example.COM ",
        unionid="U9",
        external_id="42",
        verified=("email", "phone", "unionid"),
    )
    assert hint_keys(hints) == [
        ("unionid#U9", "unionid"),
        ("phone#+8613800000000", "phone"),
        ("email#alice@example.com", "email"),
    ]
    assert hint_keys(CustomerHints(phone="+1", email="a@b.c")) == []


def test_company_user_ids_are_scoped_to_the_site():
    hints = CustomerHints(external_id="42", verified=("external_id",))
    assert hint_keys(hints, "shop-a") == [("external_id#shop-a#42", "external_id")]


@pytest.mark.parametrize(
    ("kwargs", "preview"),
    [
        ({"text": "x" * 300}, "x" * 120),
        ({"type": "image"}, "[image]"),
        ({"type": "event", "event": "subscribe"}, "[subscribe]"),
    ],
)
def test_previews(kwargs, preview):
    assert preview_of(msg(**kwargs)) == preview


def test_the_highest_cognito_group_is_the_role_and_roles_nest():
    assert role_of(["agent", "supervisor"]) == "supervisor"
    assert role_of(["everyone"]) is None
    boss = Principal("a", "admin", frozenset())
    assert boss.allows("agent") and boss.allows("supervisor")
    assert not Principal("b", "agent", frozenset()).allows("supervisor")


def test_visitor_tokens_round_trip_and_reject_tampering_expiry_and_other_sites():
    token = web.issue_token({"v": "v1", "site": "default", "exp": time.time() + 60}, "s3cret")
    assert web.read_token(token, "s3cret", "default")["v"] == "v1"
    _body, sig = token.split(".")
    tampered = base64.urlsafe_b64encode(b'{"v":"v2","site":"default","exp":9999999999}').decode().rstrip("=")
    for bad in (f"{tampered}.{sig}", token + "x", "no-dot"):
        with pytest.raises(Unauthorized):
            web.read_token(bad, "s3cret", "default")
    with pytest.raises(Unauthorized):
        web.read_token(token, "other-secret", "default")
    with pytest.raises(Unauthorized):
        web.read_token(token, "s3cret", "shop2")
    expired = web.issue_token({"v": "v1", "site": "default", "exp": time.time() - 1}, "s3cret")
    with pytest.raises(Unauthorized):
        web.read_token(expired, "s3cret", "default")


def test_identity_signatures_are_over_canonical_json():
    a = web.sign_identity({"b": 1, "a": "李"}, "k")
    assert a == web.sign_identity({"a": "李", "b": 1}, "k")
    assert a != web.sign_identity({"a": "李", "b": 2}, "k")


def test_webhook_requests_keep_raw_bytes_and_the_public_url():
    event = http_event(
        "POST", "/webhooks/wechat/shop2", body=b"\x00\xffraw", base64_body=True, query={"a": "1"}
    )
    req = request_from_event(event)
    assert (req.channel, req.account, req.body) == ("wechat", "shop2", b"\x00\xffraw")
    assert req.url == "https://omniflow.test/webhooks/wechat/shop2?a=1"


@pytest.mark.parametrize(
    ("event", "error"),
    [
        (http_event("POST", "/elsewhere"), NotFound),
        (http_event("POST", "/webhooks"), NotFound),
        (http_event("POST", "/webhooks/sms", body="x" * (1024 * 1024 + 1)), PayloadTooLarge),
        ({**http_event("POST", "/webhooks/sms"), "body": "%%%", "isBase64Encoded": True}, BadRequest),
    ],
)
def test_bad_webhook_requests_are_refused_before_any_work(event, error):
    with pytest.raises(error):
        request_from_event(event)
