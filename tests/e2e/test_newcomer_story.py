"""The spine's story, end to end on the running local stack, as a newcomer would play it:

a customer writes on the website (logged in to the shop, so the shop signs who they are), by SMS,
by e-mail and on WeChat; an agent logs in and sees ONE customer with the whole cross-channel
history (web, SMS and e-mail link by the verified phone and address; WeChat is linked by an agent-
confirmed merge); the agent answers and the answer goes out through the right channel's send API
(recorded as "sent (local)" with the exact request)."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from typing import Any

import pytest
import requests

from infra.local import simulate
from tests.e2e.conftest import Api, LocalStack, login
from tests.e2e.test_local_stack import messages, poll, queued_conversation

pytestmark = pytest.mark.e2e


def signed_identity(user_id: str, phone: str, email: str) -> dict[str, Any]:
    """What the shop's backend sends to the widget: its logged-in user, HMAC-SHA256-signed over
    compact, key-sorted JSON with the shared identity secret (plain hmac, not our code)."""
    identity = {
        "user_id": user_id,
        "phone": phone,
        "email": email,
        "name": "Li Na",
        "expires": time.time() + 600,
    }
    payload = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    secret = simulate.credentials("web")["identity_secret"].encode()
    return {"identity": identity, "identity_signature": hmac.new(secret, payload, hashlib.sha256).hexdigest()}


def test_one_customer_on_four_channels_is_one_profile_and_the_answer_goes_out_on_the_right_channel(
    local_stack: LocalStack,
):
    run = uuid.uuid4().hex[:8]
    phone = f"+86139{int(run, 16) % 10**8:08d}"
    email = f"li.na.{run}@example.com"
    base = local_stack.target.base_url

    # 1. the website, logged in: the shop vouches for phone and e-mail
    session = requests.post(
        f"{base}/webhooks/web/sessions", json=signed_identity(f"u-{run}", phone, email), timeout=30
    )
    assert session.status_code == 201, session.text
    assert sorted(session.json()["verified"]) == ["email", "external_id", "phone"]
    token = session.json()["token"]
    web_text = f"这款精华适合敏感肌吗？ {run}"
    assert simulate.web_message_request(local_stack.target, token, web_text).send().status_code == 202

    # 2. SMS from the same phone (Twilio-signed), 3. e-mail from the same address (SNS-signed)
    sms_text = f"Any discount for two bottles? {run}"
    assert (
        simulate.sms_request(local_stack.target, simulate.credentials("sms"), sender=phone, text=sms_text)
        .send()
        .status_code
        == 200
    )
    email_text = f"Please send the invoice to this address. {run}"
    sent = simulate.email_request(
        local_stack.target,
        simulate.credentials("email"),
        local_stack.sns_signing(),
        sender=email,
        subject=f"Invoice {run}",
        text=email_text,
    ).send()
    assert sent.status_code == 200, sent.text

    supervisor = login(local_stack, "supervisor")

    def timeline(cid: str) -> list[tuple[str, str]]:
        return [(m["channel"], m["text"]) for m in messages(supervisor, cid) if m["direction"] == "in"]

    conversation = queued_conversation(supervisor, email_text)
    cid, customer_id = conversation["conversation_id"], conversation["customer_id"]
    poll("web, SMS and e-mail in one conversation", lambda: len(timeline(cid)) == 3)
    assert timeline(cid) == [("web", web_text), ("sms", sms_text), ("email", email_text.strip())]

    # 4. WeChat knows nothing of the phone: a separate customer, until an agent confirms the merge
    wechat_text = f"我在微信上问一下发票的事 {run}"
    openid = f"o_story_{run}"
    assert (
        simulate.wechat_request(
            local_stack.target, simulate.credentials("wechat"), user=openid, text=wechat_text
        )
        .send()
        .status_code
        == 200
    )
    wechat_customer = queued_conversation(supervisor, wechat_text)["customer_id"]
    assert wechat_customer != customer_id
    merged = supervisor.post(f"/customers/{customer_id}/merge", {"source_customer_id": wechat_customer})
    assert merged.status_code == 200, merged.text

    view = supervisor.get(f"/conversations/{cid}").json()
    assert view["customer"]["phones"] == [phone] and view["customer"]["emails"] == [email]
    channels_known = {i["channel"] for i in view["identities"] if i["kind"] == "channel"}
    assert channels_known == {"web", "sms", "email", "wechat"}
    history = [(m["channel"], m["text"]) for m in view["messages"] if m["direction"] == "in"]
    assert {c for c, _ in history} == {"web", "sms", "email", "wechat"}
    audit = supervisor.get(f"/customers/{customer_id}/audit").json()["items"]
    changes = [r for r in audit if r["action"] != "view"]  # every look is audited too (issue 17)
    assert changes[0]["action"] == "customer.merge" and changes[0]["actor"] == "supervisor"
    assert any(r["action"] == "view" and r["actor"] == "supervisor" for r in audit)

    # 5. the agent answers; the reply goes out on the channel the customer last wrote from here
    answer = supervisor.post(f"/conversations/{cid}/reply", {"text": f"发票已发送到您的邮箱 {run}"})
    assert answer.status_code == 202, answer.text
    assert answer.json()["message"]["channel"] == "email"
    texted = supervisor.post(
        f"/conversations/{cid}/reply", {"text": f"Two bottles: 10% off {run}", "channel": "sms"}
    )
    assert texted.status_code == 202, texted.text

    def sent_local() -> list[dict[str, Any]] | None:
        out = [m for m in messages(supervisor, cid) if m["direction"] == "out"]
        done = [m for m in out if m.get("status") in ("sent", "sent_local")]
        return done if len(done) == 2 else None

    out = {m["channel"]: m for m in poll("both replies sent", sent_local)}
    assert out["email"]["status"] == "sent"  # SES itself is local (moto): really sent there
    sms_request = out["sms"]["outbound_request"]
    assert out["sms"]["status"] == "sent_local"
    assert sms_request["url"].startswith("https://api.twilio.com/2010-04-01/Accounts/")
    assert sms_request["body"]["To"] == phone
    assert simulate.credentials("sms")["auth_token"] not in json.dumps(sms_request)  # secrets never stored


def test_the_agent_console_user_sees_only_their_groups(local_stack: LocalStack):
    agent1: Api = login(local_stack, "agent1")  # presales
    text = f"I want a refund, the bottle arrived broken {uuid.uuid4().hex[:6]}"
    assert (
        simulate.sms_request(
            local_stack.target,
            simulate.credentials("sms"),
            sender=f"+1555{uuid.uuid4().int % 10**7:07d}",
            text=text,
        )
        .send()
        .status_code
        == 200
    )
    supervisor = login(local_stack, "supervisor")
    cid = queued_conversation(supervisor, text)["conversation_id"]  # after-sales words → aftersales
    assert agent1.get(f"/conversations/{cid}").status_code == 403
    assert login(local_stack, "agent2").get(f"/conversations/{cid}").status_code == 200
