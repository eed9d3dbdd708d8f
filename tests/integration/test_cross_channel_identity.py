"""One customer across the new channels: the same verified phone on WhatsApp, SMS and a phone call
is one customer — each arriving through its real webhook or Lambda entry point — and the agent who
picks up the call sees the chat ("asked on WhatsApp, then called: the agent sees the chat")."""

from __future__ import annotations

from urllib.parse import urlencode

from twilio.request_validator import RequestValidator

import functions.voice as contact_flow
from chalicelib.channels import pipeline
from chalicelib.identity.models import Identity
from chalicelib.router import service as router
from infra.local.provision import DEMO_CHANNELS
from tests.support.events import LambdaContext, http_event
from tests.support.meta_payloads import meta_event, wa_text, whatsapp_update
from tests.support.queues import drain_inbound
from tests.unit.test_voice import contact_flow_event

PHONE = "+8613800138123"


def test_whatsapp_sms_and_a_call_from_one_phone_are_one_customer_and_the_call_sees_the_chat(aws):
    whatsapp = meta_event(
        "whatsapp",
        whatsapp_update(
            messages=[wa_text("我想问一下退货流程", wamid="wamid.cross1", sender=PHONE.lstrip("+"))],
            contacts=[{"profile": {"name": "Wang Fang"}, "wa_id": PHONE.lstrip("+")}],
        ),
        DEMO_CHANNELS["whatsapp"]["app_secret"],
    )
    assert pipeline.handle(whatsapp)["statusCode"] == 200
    form = {
        "MessageSid": "SMcross1",
        "From": PHONE,
        "To": "+15005550006",
        "Body": "Sent you the photos",
        "NumMedia": "0",
    }
    signature = RequestValidator(DEMO_CHANNELS["sms"]["auth_token"]).compute_signature(
        "https://omniflow.test/webhooks/sms", form
    )
    sms = http_event(
        "POST",
        "/webhooks/sms",
        body=urlencode(form),
        headers={"content-type": "application/x-www-form-urlencoded", "x-twilio-signature": signature},
    )
    assert pipeline.handle(sms)["statusCode"] == 200

    stored = [router.store(m) for m in drain_inbound(aws)]
    assert {s.message.channel for s in stored} == {"whatsapp", "sms"}
    customers = {s.conversation.customer_id for s in stored}
    assert len(customers) == 1
    [customer_id] = customers
    assert Identity.get(f"phone#{PHONE}").customer_id == customer_id

    answer = contact_flow.handler(contact_flow_event(PHONE), LambdaContext("omniflow-test-voice"))
    assert answer["found"] == "true" and answer["customer_id"] == customer_id
    assert "Sent you the photos" in answer["last_conversation_summary"]
    assert all(isinstance(v, str) for v in answer.values())  # Connect takes a flat string map
