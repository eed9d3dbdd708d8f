"""Signed webhook deliveries, one builder per channel, made the way the channel's tests make them:
with the platforms' own libraries (wechatpy, twilio's RequestValidator, an SNS-style signer built
on ``cryptography``, python-telegram-bot, Meta's HMAC checked by pywa), through the helpers the
tests already share where they exist, never through our own code.

``builder(channel, stack)`` gives an object whose ``event(sender, seq)`` is an API Gateway HTTP API
(v2) event for message ``seq`` from ``sender``; ids are unique per bench run, so no delivery is a
duplicate of an earlier one in the same moto state.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from datetime import UTC, datetime
from typing import Any, Protocol

from tests.bench.env import Stack
from tests.support.events import http_event


class Deliveries(Protocol):
    channel: str

    def event(self, sender: str, seq: int) -> dict[str, Any]: ...


def _run_digits() -> int:
    """A per-run number, so numeric platform ids (WeChat MsgId) never repeat across runs."""
    return uuid.uuid4().int % 10**9


class WebDeliveries:
    """Visitor messages of the website widget: a session (``POST sessions``) per visitor gives the
    signed visitor token the messages carry. The session call is part of building, not measuring."""

    channel = "web"

    def __init__(self) -> None:
        self._tokens: dict[str, str] = {}
        self._run = uuid.uuid4().hex[:12]

    def _token(self, sender: str) -> str:
        from chalicelib.channels import pipeline

        if sender not in self._tokens:
            body = json.dumps({"name": f"Visitor {sender}"})
            reply = pipeline.handle(
                http_event(
                    "POST", "/webhooks/web/sessions", body=body, headers={"content-type": "application/json"}
                )
            )
            if reply["statusCode"] != 201:
                raise RuntimeError(f"web session refused: {reply['statusCode']} {reply['body']}")
            self._tokens[sender] = json.loads(reply["body"])["token"]
        return self._tokens[sender]

    def event(self, sender: str, seq: int) -> dict[str, Any]:
        body = {"text": "Is the serum good for sensitive skin?", "client_message_id": f"{self._run}-{seq}"}
        return http_event(
            "POST",
            "/webhooks/web/messages",
            body=json.dumps(body),
            headers={"authorization": f"Bearer {self._token(sender)}", "content-type": "application/json"},
        )


class WeChatDeliveries:
    """Safe-mode (AES) text messages to the demo Official Account, encrypted and signed by wechatpy."""

    channel = "wechat"

    def __init__(self) -> None:
        from tests.integration.test_wechat_webhook import api_event
        from tests.unit.test_wechat_protocol import WeChatPlatform, text_xml

        self._platform = WeChatPlatform()
        self._api_event = api_event
        self._text_xml = text_xml
        self._run = _run_digits()

    def event(self, sender: str, seq: int) -> dict[str, Any]:
        msg_id = f"{self._run}{seq:08d}"
        body, query = self._platform.safe_xml(
            self._text_xml("你好，请问有货吗", msg_id=msg_id, sender=sender)
        )
        return dict(self._api_event("POST", query, body))


class SmsDeliveries:
    """Twilio's inbound-SMS form POST, signed by twilio's ``RequestValidator``."""

    channel = "sms"

    def __init__(self) -> None:
        from tests.integration.test_sms_webhook import sms_form, twilio_event

        self._form = sms_form
        self._twilio_event = twilio_event
        self._run = uuid.uuid4().hex[:16]

    def event(self, sender: str, seq: int) -> dict[str, Any]:
        phone = f"+1415{int(hashlib.sha256(sender.encode()).hexdigest(), 16) % 10**7:07d}"
        form = self._form(sid=f"SM{self._run}{seq:016d}", body="Hi, I need help") | {"From": phone}
        return dict(self._twilio_event(form))


class EmailDeliveries:
    """SES "Received" notifications (stdlib MIME) in SNS HTTPS deliveries signed like SNS signs them;
    the signer's certificate is served through ``OMNIFLOW_SNS_CERT_FILE`` as in the email tests."""

    channel = "email"

    def __init__(self, stack: Stack) -> None:
        from tests.integration.test_email_webhook import TOPIC, sns_event
        from tests.unit.test_email import customer_mail, ses_notification
        from tests.unit.test_email_sns import CERT_URL, SnsSigner

        self._signer = SnsSigner()
        cert_file = stack.workdir / "sns-certs.json"
        cert_file.write_text(json.dumps({CERT_URL: self._signer.pem.decode()}))
        stack.set_env("OMNIFLOW_SNS_CERT_FILE", str(cert_file))
        from chalicelib.channels import sns

        sns.reset_cache()
        self._topic = TOPIC
        self._sns_event = sns_event
        self._mail = customer_mail
        self._notification = ses_notification
        self._run = uuid.uuid4().hex[:16]

    def event(self, sender: str, seq: int) -> dict[str, Any]:
        address = f"{sender}@example.com"
        mail = self._mail(
            "Hello, my order #42 has not arrived.",
            sender=f"Customer {sender} <{address}>",
            message_id=f"<{self._run}.{seq}@mail.example.com>",
        )
        note = self._notification(mail, ses_message_id=f"{self._run}{seq:024d}", source=address)
        body = self._signer.body(json.dumps(note), topic_arn=self._topic)
        return dict(self._sns_event(body))


class TelegramDeliveries:
    """Bot API updates built by python-telegram-bot, authenticated by the webhook's secret token."""

    channel = "telegram"

    def __init__(self) -> None:
        import telegram

        from infra.local.provision import DEMO_CHANNELS

        self._telegram = telegram
        self._secret = DEMO_CHANNELS["telegram"]["secret_token"]
        self._run = _run_digits()

    def event(self, sender: str, seq: int) -> dict[str, Any]:
        tg = self._telegram
        user_id = int(hashlib.sha256(sender.encode()).hexdigest(), 16) % 10**9
        user = tg.User(id=user_id, first_name=f"Customer {sender}", is_bot=False)
        message = tg.Message(
            message_id=seq,
            date=datetime.now(UTC),
            chat=tg.Chat(id=user_id, type="private"),
            from_user=user,
            text="Hello, is anyone there?",
        )
        body = tg.Update(update_id=self._run * 10**7 + seq % 10**7, message=message).to_json()
        headers = {"content-type": "application/json", "x-telegram-bot-api-secret-token": self._secret}
        return http_event("POST", "/webhooks/telegram", body=body, headers=headers)


class MetaDeliveries:
    """WhatsApp Cloud API, Messenger and Instagram deliveries in Meta's documented shapes, signed
    (``X-Hub-Signature-256``) and checked by pywa's validator, through ``tests/support/meta_payloads``."""

    def __init__(self, channel: str) -> None:
        from infra.local.provision import DEMO_CHANNELS
        from tests.support import meta_payloads

        self.channel = channel
        self._payloads = meta_payloads
        self._demo = DEMO_CHANNELS[channel]
        self._run = uuid.uuid4().hex[:12]

    def event(self, sender: str, seq: int) -> dict[str, Any]:
        p = self._payloads
        user = str(int(hashlib.sha256(sender.encode()).hexdigest(), 16) % 10**15)
        mid = f"bench.{self._run}.{seq}"
        text = "Hi, I need help"
        payload: dict[str, Any]
        if self.channel == "whatsapp":
            contacts = [{"profile": {"name": f"Customer {sender}"}, "wa_id": user}]
            payload = p.whatsapp_update(messages=[p.wa_text(text, wamid=mid, sender=user)], contacts=contacts)
        elif self.channel == "messenger":
            payload = p.page_update(p.psid_message({"mid": mid, "text": text}, sender=user))
        else:
            payload = p.instagram_update(
                p.messaging_event(user, self._demo["ig_id"], message={"mid": mid, "text": text})
            )
        return dict(p.meta_event(self.channel, payload, self._demo["app_secret"]))


def builder(channel: str, stack: Stack) -> Deliveries | str:
    """The channel's delivery builder, or why there is none (the reason is printed, not raised)."""
    try:
        if channel == "web":
            return WebDeliveries()
        if channel == "wechat":
            return WeChatDeliveries()
        if channel == "sms":
            return SmsDeliveries()
        if channel == "email":
            return EmailDeliveries(stack)
        if channel == "telegram":
            return TelegramDeliveries()
        if channel in ("whatsapp", "messenger", "instagram"):
            return MetaDeliveries(channel)
    except ImportError as exc:
        return f"no delivery builder ({exc.name or exc} not importable)"
    return "no delivery builder in tests/bench/deliveries.py yet"
