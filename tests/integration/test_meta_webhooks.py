"""The whatsapp, messenger and instagram channels end to end on moto: Meta's subscription check and
signed deliveries through each channel's real Lambda handler, landing once on the inbound FIFO
queue; replies sent with the stored account's credentials."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import boto3
import pytest
import responses

from chalicelib.channels import credentials, instagram, messenger, whatsapp
from chalicelib.channels.credentials import account_credentials
from chalicelib.channels.transport import LiveTransport
from chalicelib.conversations.models import Conversation, Message
from chalicelib.conversations.service import ReplyWindowClosed
from chalicelib.messages import OutboundMessage, TemplateRef, iso, utcnow
from chalicelib.outbound import service as outbound
from chalicelib.router import service as router
from functions.instagram import handler as instagram_handler
from functions.messenger import handler as messenger_handler
from functions.whatsapp import handler as whatsapp_handler
from infra.local.provision import DEMO_CHANNELS
from tests.support.events import LambdaContext, http_event
from tests.support.meta_payloads import (
    CUSTOMER_WA_ID,
    IGSID,
    MID,
    OUR_WAMID,
    PSID,
    WAMID,
    hub_check,
    instagram_update,
    messaging_event,
    meta_event,
    page_update,
    psid_message,
    raw,
    wa_status,
    wa_text,
    whatsapp_update,
)
from tests.support.queues import drain_inbound, drain_outbound

HANDLERS = {"whatsapp": whatsapp_handler, "messenger": messenger_handler, "instagram": instagram_handler}
CHANNELS = sorted(HANDLERS)


def webhook(channel: str, event: dict[str, Any]) -> dict[str, Any]:
    """The channel's Lambda entry point, as Lambda calls it."""
    return HANDLERS[channel](event, LambdaContext(channel))


def secret(channel: str) -> str:
    return DEMO_CHANNELS[channel]["app_secret"]


def customer_message(channel: str, text: str = "Hi, I need help", mid: str | None = None) -> dict[str, Any]:
    """One customer message in the channel's documented delivery shape."""
    if channel == "whatsapp":
        return whatsapp_update(messages=[wa_text(text, wamid=mid or WAMID)])
    if channel == "messenger":
        return page_update(psid_message({"mid": mid or MID, "text": text}))
    return instagram_update(
        messaging_event(IGSID, DEMO_CHANNELS["instagram"]["ig_id"], message={"mid": mid or MID, "text": text})
    )


# ---- subscription check -------------------------------------------------------------------------
@pytest.mark.parametrize("channel", CHANNELS)
def test_the_subscription_check_echoes_the_challenge_as_plain_text(aws, channel):
    reply = webhook(channel, hub_check(channel, DEMO_CHANNELS[channel]["verify_token"]))
    assert reply["statusCode"] == 200
    assert reply["body"] == "1158201444"
    assert reply["headers"]["content-type"].startswith("text/plain")


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_subscription_check_with_the_wrong_verify_token_is_403(aws, channel):
    assert webhook(channel, hub_check(channel, "not-our-token"))["statusCode"] == 403


# ---- deliveries ---------------------------------------------------------------------------------
@pytest.mark.parametrize("channel", CHANNELS)
def test_a_signed_message_is_queued_once_even_when_meta_retries_it(aws, channel):
    event = meta_event(channel, customer_message(channel), secret(channel))
    first, retry = webhook(channel, event), webhook(channel, event)
    assert (first["statusCode"], retry["statusCode"]) == (200, 200)
    [msg] = drain_inbound(aws)
    assert (msg.channel, msg.account, msg.text) == (channel, "default", "Hi, I need help")
    assert msg.channel_user_id == {"whatsapp": CUSTOMER_WA_ID, "messenger": PSID, "instagram": IGSID}[channel]
    assert msg.correlation_id == msg.dedupe_key


def test_a_whatsapp_sender_arrives_with_a_verified_phone_and_name(aws):
    webhook("whatsapp", meta_event("whatsapp", customer_message("whatsapp"), secret("whatsapp")))
    [msg] = drain_inbound(aws)
    assert (msg.hints.phone, msg.hints.verified, msg.hints.display_name) == (
        "+16505551234",
        ("phone",),
        "Sheena Nelson",
    )


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_base64_body_from_api_gateway_is_verified_over_its_decoded_bytes(aws, channel):
    event = meta_event(
        channel, customer_message(channel, "caf\u00e9 \u2615"), secret(channel), base64_body=True
    )
    assert webhook(channel, event)["statusCode"] == 200
    [msg] = drain_inbound(aws)
    assert msg.text == "caf\u00e9 \u2615"


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize(("signature", "status"), [("", 401), ("sha256=" + "0" * 64, 403)])
def test_unsigned_or_forged_deliveries_are_refused_and_nothing_is_queued(aws, channel, signature, status):
    reply = webhook(
        channel, meta_event(channel, customer_message(channel), secret(channel), signature=signature)
    )
    assert reply["statusCode"] == status
    assert drain_inbound(aws) == []


@pytest.mark.parametrize("channel", CHANNELS)
def test_a_body_signed_with_another_apps_secret_is_403(aws, channel):
    reply = webhook(channel, meta_event(channel, customer_message(channel), "another-apps-secret"))
    assert reply["statusCode"] == 403
    assert drain_inbound(aws) == []


@pytest.mark.parametrize("channel", CHANNELS)
@pytest.mark.parametrize("body", [b'{"object": "page", "entry": [', b'"just a string"', b"\xff\xfe\x00"])
def test_a_signed_body_that_is_not_metas_json_is_400_and_nothing_is_queued(aws, channel, body):
    # base64, as API Gateway hands over bodies that are not text
    reply = webhook(channel, meta_event(channel, body, secret(channel), base64_body=True))
    assert reply["statusCode"] == 400
    assert "Traceback" not in reply["body"]
    assert drain_inbound(aws) == []


@pytest.mark.parametrize("channel", CHANNELS)
def test_other_methods_are_405(aws, channel):
    assert webhook(channel, http_event("PUT", f"/webhooks/{channel}", body=b"{}"))["statusCode"] == 405


@pytest.mark.parametrize("channel", CHANNELS)
def test_an_unknown_account_in_the_path_is_404(aws, channel):
    event = meta_event(channel, customer_message(channel), secret(channel), path=f"/webhooks/{channel}/nope")
    assert webhook(channel, event)["statusCode"] == 404


def test_whatsapp_delivery_reports_are_queued_once_each_and_sent_is_skipped(aws):
    payload = whatsapp_update(statuses=[wa_status("sent"), wa_status("delivered"), wa_status("read")])
    event = meta_event("whatsapp", payload, secret("whatsapp"))
    assert webhook("whatsapp", event)["statusCode"] == 200
    assert webhook("whatsapp", event)["statusCode"] == 200  # Meta retried
    reports = drain_inbound(aws)
    assert sorted((r.type, r.status.platform_message_id, r.status.state) for r in reports if r.status) == [
        ("status", OUR_WAMID, "delivered"),
        ("status", OUR_WAMID, "read"),
    ]


@pytest.mark.parametrize("channel", ["messenger", "instagram"])
def test_echoes_of_our_own_replies_are_acknowledged_and_not_queued(aws, channel):
    business = DEMO_CHANNELS[channel]["page_id" if channel == "messenger" else "ig_id"]
    customer = PSID if channel == "messenger" else IGSID
    echo = messaging_event(
        business, customer, message={"is_echo": True, "app_id": 1517776481860111, "mid": MID, "text": "hi"}
    )
    update = page_update(echo) if channel == "messenger" else instagram_update(echo)
    reply = webhook(channel, meta_event(channel, update, secret(channel)))
    assert reply["statusCode"] == 200
    assert json.loads(reply["body"]) == {"accepted": 0}
    assert drain_inbound(aws) == []


# ---- several numbers behind one app -------------------------------------------------------------
def test_a_delivery_for_another_configured_number_of_the_same_app_goes_to_that_account(aws):
    demo = DEMO_CHANNELS["whatsapp"]
    shop2 = {**demo, "phone_number_id": "209876543210987", "access_token": "shop2-token"}
    boto3.client("secretsmanager").put_secret_value(
        SecretId="omniflow/test/channels/whatsapp", SecretString=json.dumps({"default": demo, "shop2": shop2})
    )
    credentials.reset()
    payload = whatsapp_update(messages=[wa_text("from the second number")], phone_number_id="209876543210987")
    assert webhook("whatsapp", meta_event("whatsapp", payload, secret("whatsapp")))["statusCode"] == 200
    [msg] = drain_inbound(aws)
    assert (msg.account, msg.text) == ("shop2", "from the second number")


def test_a_delivery_for_an_unconfigured_number_is_kept_under_the_urls_account(aws):
    payload = whatsapp_update(messages=[wa_text("to a number we do not know")], phone_number_id="999")
    assert webhook("whatsapp", meta_event("whatsapp", payload, secret("whatsapp")))["statusCode"] == 200
    [msg] = drain_inbound(aws)
    assert msg.account == "default"


# ---- replies ------------------------------------------------------------------------------------
def reply_to(channel: str, user: str) -> OutboundMessage:
    return OutboundMessage(
        message_id="c1#2",
        conversation_id="c1",
        seq=2,
        customer_id="k1",
        channel=channel,
        channel_user_id=user,
        text="We are on it.",
    )


@responses.activate
def test_a_whatsapp_reply_is_sent_with_the_stored_account_credentials(aws):
    demo = DEMO_CHANNELS["whatsapp"]
    url = f"https://graph.facebook.com/v21.0/{demo['phone_number_id']}/messages"
    responses.post(url, json={"messaging_product": "whatsapp", "messages": [{"id": OUR_WAMID}]})
    result = whatsapp.ADAPTER.send(
        reply_to("whatsapp", CUSTOMER_WA_ID), account_credentials("whatsapp", "default"), LiveTransport()
    )
    assert (result.status, result.platform_message_id) == ("sent", OUR_WAMID)
    assert responses.calls[0].request.headers["Authorization"] == f"Bearer {demo['access_token']}"


@responses.activate
def test_a_template_reply_is_checked_against_the_accounts_stored_templates(aws):
    demo = DEMO_CHANNELS["whatsapp"]
    responses.post(
        f"https://graph.facebook.com/v21.0/{demo['phone_number_id']}/messages",
        json={"messaging_product": "whatsapp", "messages": [{"id": OUR_WAMID}]},
    )
    creds = account_credentials("whatsapp", "default")
    assert [t["name"] for t in whatsapp.ADAPTER.templates(creds)] == ["hello_world"]
    promo = reply_to("whatsapp", CUSTOMER_WA_ID).model_copy(update={"template": TemplateRef(name="promo")})
    assert whatsapp.ADAPTER.send(promo, creds, LiveTransport()).status == "failed"
    hello = reply_to("whatsapp", CUSTOMER_WA_ID).model_copy(
        update={"template": TemplateRef(name="hello_world", language="en_US")}
    )
    assert whatsapp.ADAPTER.send(hello, creds, LiveTransport()).status == "sent"
    assert len(responses.calls) == 1
    assert json.loads(responses.calls[0].request.body)["template"]["name"] == "hello_world"


@responses.activate
@pytest.mark.parametrize(
    ("channel", "adapter", "user"),
    [("messenger", messenger.ADAPTER, PSID), ("instagram", instagram.ADAPTER, IGSID)],
)
def test_a_messenger_or_instagram_reply_uses_the_stored_page_token(aws, channel, adapter, user):
    responses.post(
        "https://graph.facebook.com/v21.0/me/messages", json={"recipient_id": user, "message_id": "m_1"}
    )
    result = adapter.send(reply_to(channel, user), account_credentials(channel, "default"), LiveTransport())
    assert (result.status, result.platform_message_id) == ("sent", "m_1")
    request = responses.calls[0].request
    assert request.headers["Authorization"] == f"Bearer {DEMO_CHANNELS[channel]['page_access_token']}"
    assert json.loads(request.body)["recipient"] == {"id": user}


def test_payload_bytes_are_what_meta_would_send():
    """Guard on the fixture itself: slashes escaped, non-ASCII as \\u escapes, as Meta serializes."""
    body = raw({"text": "a/b \u00e9"})
    assert body == b'{"text":"a\\/b \\u00e9"}'


# ---- the whole loop through the core ------------------------------------------------------------
def customer_writes(aws: dict[str, str], channel: str) -> str:
    """A signed delivery through the webhook, then the router: the conversation's id."""
    assert (
        webhook(channel, meta_event(channel, customer_message(channel), secret(channel)))["statusCode"] == 200
    )
    [msg] = drain_inbound(aws)
    stored = router.store(msg)
    assert stored is not None
    return stored.conversation.conversation_id


def customer_wrote_hours_ago(conversation_id: str, channel: str, hours: float) -> None:
    key = f"{channel}#default"
    when = iso(utcnow() - timedelta(hours=hours))
    Conversation(conversation_id).update(actions=[Conversation.inbound_at[key].set(when)])


@responses.activate
def test_a_whatsapp_reply_goes_out_and_metas_reports_mark_it_delivered_then_read(aws):
    cid = customer_writes(aws, "whatsapp")
    message = outbound.reply(cid, "agent1", "Yes, in blue too.", channel=None, may_take_over=False)
    [out] = drain_outbound(aws)
    assert out.reply_context["last_inbound_at"]  # what the core tells the adapter about the window
    url = f"https://graph.facebook.com/v21.0/{DEMO_CHANNELS['whatsapp']['phone_number_id']}/messages"
    responses.post(url, json={"messaging_product": "whatsapp", "messages": [{"id": OUR_WAMID}]})
    result = outbound.deliver(out)
    assert result is not None
    assert (result.status, result.platform_message_id) == ("sent", OUR_WAMID)
    assert json.loads(responses.calls[0].request.body)["text"] == {"body": "Yes, in blue too."}

    payload = whatsapp_update(statuses=[wa_status("delivered"), wa_status("read")])
    assert webhook("whatsapp", meta_event("whatsapp", payload, secret("whatsapp")))["statusCode"] == 200
    for report in drain_inbound(aws):
        router.store(report)
    assert Message.get(cid, message.seq, consistent_read=True).delivery == "read"


@responses.activate
def test_after_24_hours_whatsapp_needs_a_template_and_the_template_goes_out(aws):
    cid = customer_writes(aws, "whatsapp")
    customer_wrote_hours_ago(cid, "whatsapp", 30)
    with pytest.raises(ReplyWindowClosed):
        outbound.reply(cid, "agent1", "sorry for the wait", channel=None, may_take_over=False)
    hello = TemplateRef(name="hello_world", language="en_US")
    outbound.reply(cid, "agent1", "", channel=None, may_take_over=False, template=hello)
    [out] = drain_outbound(aws)
    url = f"https://graph.facebook.com/v21.0/{DEMO_CHANNELS['whatsapp']['phone_number_id']}/messages"
    responses.post(url, json={"messaging_product": "whatsapp", "messages": [{"id": OUR_WAMID}]})
    result = outbound.deliver(out)
    assert result is not None and result.status == "sent"
    body = json.loads(responses.calls[0].request.body)
    assert (body["type"], body["template"]) == (
        "template",
        {"name": "hello_world", "language": {"code": "en_US"}},
    )


@responses.activate
@pytest.mark.parametrize("channel", ["messenger", "instagram"])
def test_a_late_messenger_or_instagram_reply_is_tagged_human_agent(aws, channel):
    cid = customer_writes(aws, channel)
    customer_wrote_hours_ago(cid, channel, 30)
    outbound.reply(cid, "agent1", "Sorry for the wait!", channel=None, may_take_over=False)
    [out] = drain_outbound(aws)
    responses.post("https://graph.facebook.com/v21.0/me/messages", json={"message_id": "m_late"})
    result = outbound.deliver(out)
    assert result is not None and result.status == "sent"
    body = json.loads(responses.calls[0].request.body)
    assert (body["messaging_type"], body["tag"]) == ("MESSAGE_TAG", "HUMAN_AGENT")
