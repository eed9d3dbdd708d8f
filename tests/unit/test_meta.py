"""The Meta webhook family's shared protocol (chalicelib/channels/meta.py): the hub subscription
check, X-Hub-Signature-256 over the raw bytes, and how Graph API answers become send results.
pywa (an independent WhatsApp client) is the reference for the signature and the handshake."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from pywa import WhatsApp
from pywa.utils import webhook_updates_validator

from chalicelib.channels.base import BadRequest, Forbidden, MethodNotAllowed, Unauthorized, WebhookRequest
from chalicelib.channels.meta import (
    GraphError,
    check_hub_signature,
    hub_signature,
    last_inbound_age,
    message_tag,
    send_result,
)
from chalicelib.channels.transport import HttpReply
from chalicelib.channels.whatsapp import ADAPTER as WHATSAPP
from chalicelib.messages import OutboundMessage, iso, utcnow
from tests.support.meta_payloads import meta_signature, raw, wa_text, whatsapp_update

SECRET = "0123456789abcdef0123456789abcdef"
BODY = raw(whatsapp_update(messages=[wa_text("¿Lo tienen en azul? https://shop.example/p/1")]))


@pytest.fixture
def pywa_client() -> WhatsApp:
    """pywa configured like our demo account, its HTTP cut off (it must never call Meta here)."""
    offline = httpx.Client(transport=httpx.MockTransport(lambda request: httpx.Response(599)))
    return WhatsApp(
        phone_id="106540352242922",
        token="t",
        app_secret=SECRET,
        verify_token="vt",
        session=offline,
        server=None,
    )


def request(
    method: str = "POST", *, body: bytes = BODY, headers: dict | None = None, query: dict | None = None
):
    return WebhookRequest(
        method=method,
        channel="whatsapp",
        path_parts=(),
        headers=headers or {},
        query=query or {},
        body=body,
        url="https://omniflow.test/webhooks/whatsapp",
    )


CREDS = {
    "app_secret": SECRET,
    "verify_token": "vt",
    "access_token": "t",
    "phone_number_id": "106540352242922",
}


# ---- signature ----------------------------------------------------------------------------------
def test_our_signature_is_the_one_pywa_accepts_and_only_for_the_exact_bytes():
    signature = hub_signature(SECRET, BODY)
    assert webhook_updates_validator(SECRET, BODY, signature)
    assert not webhook_updates_validator(SECRET, BODY + b" ", signature)
    assert not webhook_updates_validator("another-secret", BODY, signature)


def test_a_signature_made_the_way_meta_documents_it_verifies():
    check_hub_signature(meta_signature(SECRET, BODY), SECRET, BODY)


def test_the_signature_covers_the_raw_bytes_not_a_reserialization():
    """Meta escapes "/" and non-ASCII; the same JSON re-serialized is different bytes."""
    signature = meta_signature(SECRET, BODY)
    reserialized = json.dumps(json.loads(BODY)).encode()
    assert reserialized != BODY
    with pytest.raises(Forbidden):
        check_hub_signature(signature, SECRET, reserialized)


@pytest.mark.parametrize(
    ("header", "pywa_answer", "refusal"),
    [
        ("", ("Unauthorized", 401), Unauthorized),
        ("sha256=" + "0" * 64, ("Forbidden", 403), Forbidden),
        ("sha256=not-hex", ("Forbidden", 403), Forbidden),
        ("garbage", ("Forbidden", 403), Forbidden),
    ],
)
def test_refusals_match_pywas_for_missing_and_wrong_signatures(pywa_client, header, pywa_answer, refusal):
    assert pywa_client.webhook_update_validator(BODY, header or None) == pywa_answer
    with pytest.raises(refusal) as refused:
        WHATSAPP.verify(request(headers={"x-hub-signature-256": header} if header else {}), CREDS)
    assert refused.value.status == pywa_answer[1]


def test_a_signature_pywa_accepts_passes_our_verification():
    WHATSAPP.verify(request(headers={"x-hub-signature-256": meta_signature(SECRET, BODY)}), CREDS)


def test_a_correct_hash_under_another_algorithm_name_is_refused():
    digest = meta_signature(SECRET, BODY).partition("=")[2]
    with pytest.raises(Forbidden):
        check_hub_signature(f"sha1={digest}", SECRET, BODY)


def test_an_upper_case_hex_digest_is_accepted():
    check_hub_signature(meta_signature(SECRET, BODY).upper().replace("SHA256=", "sha256="), SECRET, BODY)


# ---- subscription check -------------------------------------------------------------------------
def test_the_subscription_check_echoes_the_challenge_like_pywa(pywa_client):
    query = {"hub.mode": "subscribe", "hub.verify_token": "vt", "hub.challenge": "1158201444"}
    answer = WHATSAPP.handshake(request("GET", body=b"", query=query), CREDS)
    assert answer is not None
    assert (answer.body, answer.status) == pywa_client.webhook_challenge_handler("vt", "1158201444")
    assert answer.headers["content-type"].startswith("text/plain")


def test_a_wrong_verify_token_is_403_like_pywa(pywa_client):
    query = {"hub.mode": "subscribe", "hub.verify_token": "guess", "hub.challenge": "1158201444"}
    assert pywa_client.webhook_challenge_handler("guess", "1158201444")[1] == 403
    with pytest.raises(Forbidden):
        WHATSAPP.handshake(request("GET", body=b"", query=query), CREDS)


@pytest.mark.parametrize(
    "query",
    [
        {},
        {"hub.mode": "unsubscribe", "hub.verify_token": "vt", "hub.challenge": "1"},
        {"hub.mode": "subscribe", "hub.verify_token": "vt"},
        {"hub.mode": "subscribe", "hub.verify_token": "vt", "hub.challenge": "9" * 1000},
    ],
)
def test_a_get_that_is_not_a_subscription_check_is_400(query):
    with pytest.raises(BadRequest):
        WHATSAPP.handshake(request("GET", body=b"", query=query), CREDS)


def test_a_post_goes_on_to_verification_and_other_methods_are_405():
    assert WHATSAPP.handshake(request("POST"), CREDS) is None
    with pytest.raises(MethodNotAllowed):
        WHATSAPP.handshake(request("PUT"), CREDS)


# ---- Graph API answers --------------------------------------------------------------------------
def graph_error(code: int, message: str = "boom", subcode: int | None = None, **extra) -> bytes:
    error = {"message": message, "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEf"}
    if subcode is not None:
        error["error_subcode"] = subcode
    return json.dumps({"error": error | extra}).encode()


@pytest.mark.parametrize(
    ("status", "body", "retryable", "error"),
    [
        (
            400,
            graph_error(131047, "Re-engagement message"),
            False,
            "outside the 24 h window: send a template",
        ),
        (
            400,
            graph_error(10, "(#10) This message is sent outside of allowed window.", 2018278),
            False,
            "outside the 7-day human agent window: the customer must write first",
        ),
        (403, graph_error(10, "(#10) Application does not have permission"), False, None),
        (403, graph_error(200, "(#200) Permissions error"), False, None),
        (
            400,
            graph_error(100, "(#100) Invalid parameter"),
            False,
            "Graph error 100: (#100) Invalid parameter",
        ),
        (401, graph_error(190, "Error validating access token", 463), False, None),
        (400, graph_error(4, "(#4) Application request limit reached"), True, None),
        (400, graph_error(80007, "Rate limit issues"), True, None),
        (400, graph_error(130429, "Rate limit hit"), True, None),
        (400, graph_error(131000, "Something went wrong"), True, None),
        (400, graph_error(131026, "Message undeliverable", is_transient=True), True, None),
        (500, graph_error(2, "Service temporarily unavailable"), True, None),
        (502, b"<html>Bad Gateway</html>", True, "Graph API HTTP 502"),
        (429, b"", True, "Graph API HTTP 429"),
        (404, b"not json", False, "Graph API HTTP 404"),
    ],
)
def test_graph_errors_are_classified_for_the_outbound_queue(status, body, retryable, error):
    result = send_result(HttpReply(status, body), None)
    assert result.status == "failed"
    assert result.retryable is retryable
    if error:
        assert result.error == error


def test_whatsapp_error_details_are_kept_for_the_agent():
    error = GraphError.of(
        {
            "code": 131026,
            "title": "Message undeliverable",
            "message": "Message undeliverable",
            "error_data": {"details": "Receiver is incapable of receiving this message"},
        }
    )
    assert error is not None
    assert error.describe() == (
        "Graph error 131026: Message undeliverable (Receiver is incapable of receiving this message)"
    )


def test_a_recorded_call_is_sent_local_whatever_the_body():
    assert send_result(HttpReply(200, b"", recorded=True), None).status == "sent_local"


# ---- reply windows ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("age", "expected"),
    [
        (None, {"messaging_type": "RESPONSE"}),
        (timedelta(hours=1), {"messaging_type": "RESPONSE"}),
        (timedelta(hours=24), {"messaging_type": "RESPONSE"}),
        (timedelta(hours=24, seconds=1), {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}),
        (timedelta(days=7), {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}),
        (timedelta(days=7, seconds=1), None),
    ],
)
def test_the_human_agent_tag_covers_day_one_to_day_seven(age, expected):
    assert message_tag(age) == expected


def outbound(**context: str) -> OutboundMessage:
    return OutboundMessage(
        message_id="c1#2",
        conversation_id="c1",
        seq=2,
        customer_id="k1",
        channel="messenger",
        channel_user_id="6534214309937467",
        text="hi",
        reply_context=context,
    )


def test_the_customers_last_message_time_comes_from_the_reply_context():
    age = last_inbound_age(outbound(last_inbound_at=iso(utcnow() - timedelta(hours=30))))
    assert age is not None
    assert timedelta(hours=29, minutes=59) < age < timedelta(hours=30, minutes=1)


@pytest.mark.parametrize("context", [{}, {"last_inbound_at": ""}, {"last_inbound_at": "yesterday-ish"}])
def test_no_or_an_unreadable_last_message_time_means_unknown(context):
    assert last_inbound_age(outbound(**context)) is None
