"""The email channel end to end on moto: SNS deliveries of SES mail through the real webhook
pipeline onto the inbound FIFO queue, and replies through SES ``SendRawEmail``.

Deliveries are signed with a self-signed certificate; its PEM is served through the local-stack
cert file (``OMNIFLOW_SNS_CERT_FILE``), the same way the local stack's SNS simulator works.
"""

from __future__ import annotations

import io
import json
import urllib.request
from datetime import UTC, datetime, timedelta
from email import message_from_string, policy
from typing import Any

import boto3
import pytest
from moto.core import DEFAULT_ACCOUNT_ID
from moto.ses.models import ses_backends

from chalicelib import config
from chalicelib.channels import email as email_channel
from chalicelib.channels import sns
from chalicelib.channels.credentials import account_credentials
from chalicelib.channels.pipeline import handle
from chalicelib.channels.transport import RecordingTransport
from chalicelib.messages import OutboundMessage
from functions.email import handler
from infra.local.provision import DEMO_CHANNELS
from tests.support.events import LambdaContext, http_event
from tests.support.queues import drain_inbound
from tests.unit.test_email import customer_mail, ses_notification
from tests.unit.test_email_sns import CERT_URL, SnsSigner

TOPIC = DEMO_CHANNELS["email"]["topic_arn"]
SUPPORT = DEMO_CHANNELS["email"]["from_address"]


def sns_event(
    body: str | bytes, message_type: str = "Notification", *, base64_body: bool = True
) -> dict[str, Any]:
    """SNS's HTTPS delivery as API Gateway (HTTP API v2) hands it over: a text/plain body arrives
    base64-encoded."""
    headers = {"content-type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": message_type}
    return http_event("POST", "/webhooks/email", body=body, headers=headers, base64_body=base64_body)


@pytest.fixture(scope="module")
def signer() -> SnsSigner:
    return SnsSigner()


@pytest.fixture
def email_stack(aws, monkeypatch, tmp_path, signer):
    """The provisioned stack plus SNS's (test) certificate in the local cert file."""
    cert_file = tmp_path / "sns-certs.json"
    cert_file.write_text(json.dumps({CERT_URL: signer.pem.decode()}))
    monkeypatch.setenv("OMNIFLOW_SNS_CERT_FILE", str(cert_file))
    config.settings.cache_clear()
    sns.reset_cache()
    yield aws
    sns.reset_cache()


def deliver(signer: SnsSigner, notification: dict[str, Any] | str, **kwargs: Any) -> dict[str, Any]:
    message = notification if isinstance(notification, str) else json.dumps(notification)
    return handle(sns_event(signer.body(message, topic_arn=kwargs.pop("topic_arn", TOPIC), **kwargs)))


# ---- inbound -----------------------------------------------------------------------------------
@pytest.mark.parametrize("version", ["1", "2"])
def test_a_signed_ses_mail_is_queued_as_one_message(email_stack, signer, version):
    body = signer.body(json.dumps(ses_notification(customer_mail())), topic_arn=TOPIC, version=version)
    # API Gateway base64-encodes text/plain bodies; the plain form is covered too.
    reply = handler(sns_event(body, base64_body=version == "1"), LambdaContext())
    assert reply["statusCode"] == 200
    [msg] = drain_inbound(email_stack)
    assert (msg.channel, msg.account, msg.channel_user_id) == ("email", "default", "alice@example.com")
    assert msg.text == "Hello, my order #42 has not arrived."
    assert msg.hints.verified == ("email",)
    assert msg.reply_context["subject"] == "Where is my order?"


def test_an_html_only_mail_arrives_as_text(email_stack, signer):
    mail = customer_mail(None, html="<div>Hi,<br>the <b>app</b> crashes &amp; freezes.</div>")
    assert deliver(signer, ses_notification(mail))["statusCode"] == 200
    [msg] = drain_inbound(email_stack)
    assert msg.text == "Hi,\nthe app crashes & freezes."


def test_a_multipart_mail_with_an_attachment_arrives_with_it_described(email_stack, signer):
    mail = customer_mail("Receipt attached.", html="<p>Receipt attached.</p>")
    mail.add_attachment(b"%PDF-1.7 receipt", maintype="application", subtype="pdf", filename="receipt.pdf")
    assert deliver(signer, ses_notification(mail, encoding="BASE64"))["statusCode"] == 200
    [msg] = drain_inbound(email_stack)
    assert msg.text == "Receipt attached."
    assert [(a.kind, a.name, a.size) for a in msg.attachments] == [("file", "receipt.pdf", 16)]


def test_a_reply_arrives_without_quoted_history_and_with_its_thread(email_stack, signer):
    mail = customer_mail(
        "Great, thanks!\n\nOn Tue, 30 Apr 2024, Omniflow <support@omniflow.example> wrote:\n> Ships today.",
        subject="Re: Where is my order?",
        message_id="<r2@mail.example.com>",
        headers={"In-Reply-To": "<abc-123@email.amazonses.com>", "References": "<r1@mail.example.com>"},
    )
    assert deliver(signer, ses_notification(mail, ses_message_id="ses-reply-2"))["statusCode"] == 200
    [msg] = drain_inbound(email_stack)
    assert msg.text == "Great, thanks!"
    assert msg.reply_context == {
        "message_id": "<r2@mail.example.com>",
        "references": "<r1@mail.example.com> <r2@mail.example.com>",
        "subject": "Re: Where is my order?",
        "in_reply_to": "<abc-123@email.amazonses.com>",
        "in_reply_to_platform_id": "abc-123",
    }


def test_sns_delivering_the_same_message_twice_queues_it_once(email_stack, signer):
    body = signer.body(json.dumps(ses_notification(customer_mail())), topic_arn=TOPIC, message_id="sns-dup-1")
    assert handle(sns_event(body))["statusCode"] == 200
    assert handle(sns_event(body))["statusCode"] == 200
    assert len(drain_inbound(email_stack)) == 1


def test_a_large_mail_stored_by_an_s3_action_is_read_from_the_bucket(email_stack, signer):
    s3 = boto3.client("s3")
    s3.create_bucket(Bucket="omniflow-test-inbound-mail")
    mail = customer_mail("A long complaint, stored in S3.")
    s3.put_object(Bucket="omniflow-test-inbound-mail", Key="mail/abc", Body=mail.as_bytes())
    action = {
        "type": "S3",
        "topicArn": TOPIC,
        "bucketName": "omniflow-test-inbound-mail",
        "objectKey": "mail/abc",
    }
    assert deliver(signer, ses_notification(mail, action=action))["statusCode"] == 200
    [msg] = drain_inbound(email_stack)
    assert msg.text == "A long complaint, stored in S3."


# ---- refusals ----------------------------------------------------------------------------------
def refused(env: dict[str, str], reply: dict[str, Any], status: int) -> None:
    assert reply["statusCode"] == status, reply
    assert drain_inbound(env) == []


def test_a_tampered_delivery_is_403(email_stack, signer):
    envelope = signer.envelope(json.dumps(ses_notification(customer_mail())), topic_arn=TOPIC)
    envelope["Message"] = envelope["Message"].replace("has not arrived", "arrived, refund me anyway")
    refused(email_stack, handle(sns_event(json.dumps(envelope))), 403)


def test_a_delivery_signed_by_another_key_is_403(email_stack):
    refused(email_stack, deliver(SnsSigner(), ses_notification(customer_mail())), 403)


def test_a_certificate_on_another_host_is_403(email_stack, signer):
    reply = deliver(signer, ses_notification(customer_mail()), cert_url="https://evil.test/cert.pem")
    refused(email_stack, reply, 403)


def test_a_delivery_from_another_topic_is_403(email_stack, signer):
    other = "arn:aws:sns:us-east-1:999999999999:attacker-topic"
    refused(email_stack, deliver(signer, ses_notification(customer_mail()), topic_arn=other), 403)


def test_a_stale_delivery_is_403(email_stack, signer):
    stale = datetime.now(UTC) - timedelta(hours=2)
    refused(email_stack, deliver(signer, ses_notification(customer_mail()), timestamp=stale), 403)


@pytest.mark.parametrize("body", ["{not json", json.dumps({"Type": "Notification"})])
def test_malformed_deliveries_are_400(email_stack, body):
    refused(email_stack, handle(sns_event(body)), 400)


# ---- subscription ------------------------------------------------------------------------------
class RecordingUrlopen:
    def __init__(self) -> None:
        self.urls: list[str] = []

    def __call__(self, url: str, timeout: float | None = None) -> io.BytesIO:
        self.urls.append(url)
        return io.BytesIO(b"<ConfirmSubscriptionResponse/>")


def test_a_subscription_confirmation_is_confirmed_and_nothing_is_queued(email_stack, signer, monkeypatch):
    fake = RecordingUrlopen()
    monkeypatch.setattr(urllib.request, "urlopen", fake)
    url = f"https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn={TOPIC}&Token=tok"
    body = signer.body(
        "You have chosen to subscribe…", kind="SubscriptionConfirmation", topic_arn=TOPIC, subscribe_url=url
    )
    reply = handle(sns_event(body, "SubscriptionConfirmation"))
    assert reply["statusCode"] == 200
    assert fake.urls == [url]
    assert drain_inbound(email_stack) == []


def test_a_confirmation_for_another_topic_is_never_confirmed(email_stack, signer, monkeypatch):
    fake = RecordingUrlopen()
    monkeypatch.setattr(urllib.request, "urlopen", fake)
    body = signer.body("join", kind="SubscriptionConfirmation", topic_arn="arn:aws:sns:us-east-1:9:attacker")
    assert handle(sns_event(body, "SubscriptionConfirmation"))["statusCode"] == 403
    assert fake.urls == []


def test_an_unsubscribe_confirmation_is_acknowledged_and_nothing_happens(email_stack, signer, monkeypatch):
    fake = RecordingUrlopen()
    monkeypatch.setattr(urllib.request, "urlopen", fake)
    body = signer.body("unsubscribed", kind="UnsubscribeConfirmation", topic_arn=TOPIC)
    assert handle(sns_event(body, "UnsubscribeConfirmation"))["statusCode"] == 200
    assert fake.urls == []
    assert drain_inbound(email_stack) == []


# ---- outbound ----------------------------------------------------------------------------------
def outbound(**context: str) -> OutboundMessage:
    return OutboundMessage(
        message_id="c7#4",
        conversation_id="c7",
        seq=4,
        customer_id="k7",
        channel="email",
        channel_user_id="alice@example.com",
        text="We re-sent your parcel; tracking number 1Z999.",
        reply_context=context,
    )


def sent_mails() -> list[Any]:
    return ses_backends[DEFAULT_ACCOUNT_ID]["us-east-1"].sent_messages


def test_a_reply_goes_out_through_ses_threaded_on_the_customers_mail(email_stack):
    creds = account_credentials("email", "default")
    context = {
        "message_id": "<CAF=abc123@mail.example.com>",
        "references": "<CAF=abc123@mail.example.com>",
        "subject": "Where is my order?",
    }
    result = email_channel.ADAPTER.send(outbound(**context), creds, RecordingTransport())
    assert result.status == "sent"
    [sent] = sent_mails()
    assert sent.id == result.platform_message_id
    assert sent.source == SUPPORT
    assert "alice@example.com" in sent.destinations
    mail = message_from_string(sent.raw_data, policy=policy.default)
    assert mail["From"] == SUPPORT
    assert mail["To"] == "alice@example.com"
    assert mail["Subject"] == "Re: Where is my order?"
    assert mail["In-Reply-To"] == "<CAF=abc123@mail.example.com>"
    assert mail["References"] == "<CAF=abc123@mail.example.com>"
    assert mail["Message-ID"].endswith("@omniflow.example>")
    assert "tracking number 1Z999" in mail.get_content()


def test_the_customers_answer_to_our_reply_points_back_at_its_ses_id(email_stack, signer):
    sent = email_channel.ADAPTER.send(
        outbound(subject="Where is my order?"), account_credentials("email", "default"), RecordingTransport()
    )
    # SES rewrites Message-ID to <MessageId@email.amazonses.com>; the customer's client replies to it.
    answer = customer_mail(
        "Got it.",
        subject="Re: Where is my order?",
        headers={"In-Reply-To": f"<{sent.platform_message_id}@email.amazonses.com>"},
    )
    assert deliver(signer, ses_notification(answer, ses_message_id="ses-answer"))["statusCode"] == 200
    [msg] = drain_inbound(email_stack)
    assert msg.reply_context["in_reply_to_platform_id"] == sent.platform_message_id


def test_sending_from_an_unverified_identity_fails_for_good(email_stack):
    creds = {**account_credentials("email", "default"), "from_address": "nobody@unverified.example"}
    result = email_channel.ADAPTER.send(outbound(), creds, RecordingTransport())
    assert result.status == "failed"
    assert result.retryable is False
    assert result.error and result.error.startswith("SES MessageRejected")
    assert sent_mails() == []
