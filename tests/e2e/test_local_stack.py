"""The local stack end to end: platforms' signed requests in through the webhooks, messages out
through the agent API, replies recorded as "sent (local)". Everything over HTTP, as in AWS."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

import pytest
import requests

from infra.local import simulate
from infra.local.simulate import PreparedRequest
from tests.e2e.conftest import REPO, Api, LocalStack

pytestmark = pytest.mark.e2e

DEADLINE = 30.0


def creds(channel: str) -> dict[str, str]:
    return simulate.credentials(channel)


def unique(text: str) -> str:
    return f"{text} #{uuid.uuid4().hex[:8]}"


def poll(what: str, probe: Callable[[], Any], timeout: float = DEADLINE) -> Any:
    """``probe()`` until it returns something truthy; fail with ``what`` at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.25)


def queued_conversation(api: Api, text: str) -> dict[str, Any]:
    """The queued conversation whose last message is ``text`` (the router got it there)."""

    def probe() -> dict[str, Any] | None:
        resp = api.get("/conversations", params={"view": "queue"})
        assert resp.status_code == 200, resp.text
        return next((c for c in resp.json()["items"] if c.get("preview") == text), None)

    found: dict[str, Any] = poll(f"a queued conversation showing {text!r}", probe)
    return found


def messages(api: Api, conversation_id: str) -> list[dict[str, Any]]:
    resp = api.get(f"/conversations/{conversation_id}")
    assert resp.status_code == 200, resp.text
    body = resp.json()
    assert {"conversation", "customer", "messages"} <= set(body)
    result: list[dict[str, Any]] = body["messages"]
    return result


# ---- the stack itself --------------------------------------------------------------------------
def test_stack_is_healthy_and_root_redirects_to_the_console(local_stack: LocalStack):
    assert requests.get(f"{local_stack.url}/api/health", timeout=10).status_code == 200
    root = requests.get(local_stack.url, allow_redirects=False, timeout=10)
    assert root.status_code == 302 and root.headers["Location"] == "/api/console"


def test_the_banner_lists_every_webhook_and_the_telegram_set_webhook_call_but_no_secret(
    local_stack: LocalStack,
):
    from chalicelib.channels import webhook_channels
    from infra.local.provision import DEMO_CHANNELS
    from infra.local.stack import webhook_urls

    def printed() -> str | None:
        log = local_stack.log.read_text(errors="replace")
        return log if "\nready\n" in log else None  # the banner is printed just before "ready"

    log: str = poll("the start-up banner", printed)
    urls = webhook_urls(local_stack.url)
    assert {u.split("/webhooks/")[1].split("/")[0] for u in urls} == set(webhook_channels())
    for url in urls:
        assert f"{url}\n" in log, url
        # every URL listed answers (with a refusal for a bare GET, but never "Not Found")
        assert requests.get(url, timeout=10).status_code != 404, url
    [command] = [line.strip() for line in log.splitlines() if "/setWebhook" in line]
    assert command.startswith('curl -X POST "https://api.telegram.org/bot$OMNIFLOW_TELEGRAM_BOT_TOKEN/')
    assert '"\'"$OMNIFLOW_TELEGRAM_SECRET_TOKEN"\'"' in command
    for secret in DEMO_CHANNELS["telegram"].values():
        assert secret not in log


def test_unknown_channel_and_unknown_api_route_are_refused_like_api_gateway(local_stack: LocalStack):
    for channel in ("myspace", "voice", "voice_transcripts"):  # voice's Lambdas are not webhooks
        resp = requests.post(f"{local_stack.url}/webhooks/{channel}", data=b"{}", timeout=10)
        assert resp.status_code == 404 and resp.json() == {"message": "Not Found"}
    resp = requests.get(f"{local_stack.url}/api/no/such/route", timeout=10)
    assert resp.status_code == 403 and resp.json() == {"message": "Missing Authentication Token"}


def test_bodies_over_10_mb_are_refused_at_the_door(local_stack: LocalStack):
    host, port = urlsplit(local_stack.url).hostname, urlsplit(local_stack.url).port
    with socket.create_connection((host, port), timeout=10) as sock:
        sock.sendall(
            b"POST /webhooks/wechat HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\n"
            b"Content-Length: 10485761\r\n\r\n"
        )
        status_line = sock.recv(200).split(b"\r\n", 1)[0]
    assert b" 413 " in status_line


# ---- WeChat ------------------------------------------------------------------------------------
def test_wechat_plaintext_message_is_acknowledged_with_success(local_stack: LocalStack):
    req = simulate.wechat_request(
        local_stack.target, creds("wechat"), user="o_e2e_plain", text=unique("你好")
    )
    resp = req.send()
    assert (resp.status_code, resp.text) == (200, "success")


def test_wechat_safe_mode_message_is_acknowledged_with_success(local_stack: LocalStack):
    req = simulate.wechat_request(
        local_stack.target, creds("wechat"), user="o_e2e_aes", text=unique("安全模式"), safe_mode=True
    )
    assert "encrypt_type=aes" in req.url and b"<Encrypt>" in req.body and "你好".encode() not in req.body
    resp = req.send()
    assert (resp.status_code, resp.text) == (200, "success")


def test_wechat_with_a_wrong_signature_is_refused(local_stack: LocalStack):
    forged = dict(creds("wechat"), token="not-the-token")
    resp = simulate.wechat_request(local_stack.target, forged, user="o_e2e_forged", text="hi").send()
    assert resp.status_code in (401, 403)


def test_wechat_url_verification_echoes_echostr(local_stack: LocalStack):
    from wechatpy.utils import WeChatSigner

    signer = WeChatSigner()
    signer.add_data(creds("wechat")["token"], "1700000000", "nonce42")
    resp = requests.get(
        f"{local_stack.url}/webhooks/wechat",
        params={
            "signature": signer.signature,
            "timestamp": "1700000000",
            "nonce": "nonce42",
            "echostr": "e-123",
        },
        timeout=10,
    )
    assert (resp.status_code, resp.text) == (200, "e-123")


# ---- SMS ---------------------------------------------------------------------------------------
def test_signed_sms_is_acknowledged_with_twiml(local_stack: LocalStack):
    resp = simulate.sms_request(
        local_stack.target, creds("sms"), sender="+8613800138001", text=unique("hi")
    ).send()
    assert resp.status_code == 200
    assert "<Response" in resp.text and "xml" in resp.headers["Content-Type"]


def test_sms_with_a_wrong_signature_is_refused(local_stack: LocalStack):
    forged = dict(creds("sms"), auth_token="not-the-auth-token")
    resp = simulate.sms_request(local_stack.target, forged, sender="+8613800138002", text="hi").send()
    assert resp.status_code in (401, 403)


# ---- Email -------------------------------------------------------------------------------------
def test_sns_signed_email_is_accepted(local_stack: LocalStack):
    req = simulate.email_request(
        local_stack.target,
        creds("email"),
        local_stack.sns_signing(),
        sender="alice@example.com",
        subject="Order 123",
        text=unique("It arrived broken"),
    )
    assert req.send().status_code == 200


def test_email_signed_by_another_key_is_refused(local_stack: LocalStack):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = dict(
        local_stack.sns_signing(),
        key_pem=other.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode(),
    )
    req = simulate.email_request(
        local_stack.target, creds("email"), forged, sender="mallory@example.com", subject="x", text="x"
    )
    assert req.send().status_code in (401, 403)


# ---- Web chat ----------------------------------------------------------------------------------
def test_web_visitor_opens_a_session_and_writes(local_stack: LocalStack):
    session = simulate.web_session_request(local_stack.target, name="Alice", email="alice@example.com").send()
    assert session.status_code in (200, 201), session.text
    token = session.json()["token"]
    assert session.json()["visitor_id"]
    sent = simulate.web_message_request(local_stack.target, token, unique("hello")).send()
    assert sent.status_code in (200, 202), sent.text
    unauthenticated = simulate.web_message_request(local_stack.target, "forged.token", "hello").send()
    assert unauthenticated.status_code in (401, 403)


# ---- through the router to the agent and back ------------------------------------------------
def _wechat(stack: LocalStack, text: str) -> PreparedRequest:
    return simulate.wechat_request(
        stack.target, creds("wechat"), user=f"o_{uuid.uuid4().hex[:12]}", text=text
    )


def _wechat_aes(stack: LocalStack, text: str) -> PreparedRequest:
    user = f"o_{uuid.uuid4().hex[:12]}"
    return simulate.wechat_request(stack.target, creds("wechat"), user=user, text=text, safe_mode=True)


def _sms(stack: LocalStack, text: str) -> PreparedRequest:
    sender = f"+86138{uuid.uuid4().int % 10**8:08d}"
    return simulate.sms_request(stack.target, creds("sms"), sender=sender, text=text)


def _email(stack: LocalStack, text: str) -> PreparedRequest:
    sender = f"c{uuid.uuid4().hex[:8]}@example.com"
    return simulate.email_request(
        stack.target, creds("email"), stack.sns_signing(), sender=sender, subject="Order 123", text=text
    )


@pytest.mark.parametrize(
    ("channel", "build"), [("wechat", _wechat), ("wechat", _wechat_aes), ("sms", _sms), ("email", _email)]
)
def test_customer_message_reaches_the_agent_queue_and_the_reply_is_sent_locally(
    local_stack: LocalStack,
    supervisor: Api,
    channel: str,
    build: Callable[[LocalStack, str], PreparedRequest],
):
    text = unique("我的订单还没到")
    assert build(local_stack, text).send().status_code == 200

    conversation = queued_conversation(supervisor, text)
    assert conversation["conversation_id"] and conversation["customer_id"]
    inbound = [m for m in messages(supervisor, conversation["conversation_id"]) if m["direction"] == "in"]
    assert [(m["channel"], m["text"]) for m in inbound][-1] == (channel, text)

    cid = conversation["conversation_id"]
    reply = supervisor.post(f"/conversations/{cid}/reply", {"text": "您好，马上为您查询"})
    assert reply.status_code in (200, 202), reply.text

    # SES is part of the local AWS (moto), so e-mail is really sent there; the other platforms'
    # APIs are out of reach and their requests are recorded ("sent (local)").
    expected = "sent" if channel == "email" else "sent_local"

    def sent_locally() -> dict[str, Any] | None:
        out = [m for m in messages(supervisor, cid) if m["direction"] == "out"]
        return next((m for m in out if m.get("status") == expected), None)

    sent = poll(f"the reply to be {expected}", sent_locally, timeout=60)
    assert (sent["channel"], sent["text"]) == (channel, "您好，马上为您查询")


def test_web_visitor_sees_the_agents_reply(local_stack: LocalStack, supervisor: Api):
    session = simulate.web_session_request(
        local_stack.target, name="Bob", email=f"b{uuid.uuid4().hex[:6]}@example.com"
    )
    token = session.send().json()["token"]
    text = unique("do you ship to Shanghai?")
    assert simulate.web_message_request(local_stack.target, token, text).send().status_code == 202

    cid = queued_conversation(supervisor, text)["conversation_id"]
    assert supervisor.post(f"/conversations/{cid}/reply", {"text": "Yes, in 2 days."}).status_code in (
        200,
        202,
    )

    def reply_in_thread() -> bool:
        thread = simulate.web_thread_request(local_stack.target, token).send().json()["messages"]
        return any(m.get("direction") == "out" and m.get("text") == "Yes, in 2 days." for m in thread)

    poll("the reply in the visitor's thread", reply_in_thread)


def test_a_platform_retry_is_stored_once(local_stack: LocalStack, supervisor: Api):
    text = unique("retry me")
    req = simulate.wechat_request(
        local_stack.target,
        creds("wechat"),
        user="o_e2e_retry",
        text=text,
        msg_id="4242" + str(uuid.uuid4().int % 10**14),
    )
    first, second = req.send(), req.send()  # WeChat retries with the same MsgId
    assert (first.status_code, second.status_code) == (200, 200)
    cid = queued_conversation(supervisor, text)["conversation_id"]
    assert [m["text"] for m in messages(supervisor, cid) if m["direction"] == "in"].count(text) == 1


# ---- the command-line tools against the running stack -----------------------------------------
def _tool(stack: LocalStack, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in stack.env.items() if k not in ("PORT", "MOTO_PORT", "OMNIFLOW_STAGE")}
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_simulator_cli_finds_the_running_stack(local_stack: LocalStack):
    done = _tool(
        local_stack, "infra.local.simulate", "sms", "--from", "+8613800138000", unique("hi from the CLI")
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "sms: HTTP 200" in done.stdout


def test_replay_dlq_cli_finds_the_running_stack(local_stack: LocalStack):
    done = _tool(local_stack, "infra.local.replay_dlq", "--dry-run", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    assert {r["queue"] for r in json.loads(done.stdout)} == {"inbound", "outbound", "events"}
