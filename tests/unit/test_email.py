"""The email channel without AWS: reading SES "Received" notifications (MIME built with the stdlib
``email`` package, as a mail client would send it) and writing replies.

``ses_notification`` and ``customer_mail`` are also used by the integration tests.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber

from chalicelib.channels import email as email_channel
from chalicelib.channels.base import BadRequest, MethodNotAllowed, WebhookRequest
from chalicelib.channels.email import ADAPTER, build_reply, html_to_text, reply_subject, strip_quoted
from chalicelib.channels.transport import RecordingTransport
from chalicelib.messages import OutboundMessage
from tests.unit.test_email_sns import TOPIC, SnsSigner

CREDS = {"topic_arn": TOPIC, "from_address": "support@omniflow.example"}
PASS = {"status": "PASS"}


def customer_mail(
    text: str | None = "Hello, my order #42 has not arrived.",
    *,
    html: str | None = None,
    sender: str = "Alice Example <Alice@Example.COM>",
    subject: str = "Where is my order?",
    message_id: str = "<CAF=abc123@mail.example.com>",
    date: datetime | None = None,
    headers: dict[str, str] | None = None,
) -> EmailMessage:
    """A customer's mail as their client would build it."""
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = "support@omniflow.example"
    mail["Subject"] = subject
    mail["Message-ID"] = message_id
    mail["Date"] = format_datetime(date or datetime(2024, 5, 1, 9, 30, tzinfo=UTC))
    for name, value in (headers or {}).items():
        mail[name] = value
    if text is not None:
        mail.set_content(text)
        if html is not None:
            mail.add_alternative(html, subtype="html")
    elif html is not None:
        mail.set_content(html, subtype="html")
    return mail


def ses_notification(
    mail: EmailMessage | None,
    *,
    encoding: str | None = "UTF8",
    ses_message_id: str = "o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g1",
    source: str = "alice@example.com",
    verdicts: dict[str, Any] | None = None,
    timestamp: str = "2024-05-01T09:30:05.000Z",
    action: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The JSON SES publishes for a received mail (SNS action), per the SES developer guide."""
    raw = mail.as_bytes(policy=policy.SMTP) if mail is not None else b""
    verdicts = verdicts if verdicts is not None else {"spf": PASS, "dkim": PASS, "dmarc": PASS}
    receipt: dict[str, Any] = {
        "timestamp": timestamp,
        "processingTimeMillis": 420,
        "recipients": ["support@omniflow.example"],
        "spamVerdict": PASS,
        "virusVerdict": PASS,
        "action": action or {"type": "SNS", "topicArn": TOPIC, "encoding": encoding or "UTF8"},
    }
    receipt.update({f"{k}Verdict": v for k, v in verdicts.items()})
    if action is None and encoding is None:
        del receipt["action"]["encoding"]
    notification: dict[str, Any] = {
        "notificationType": "Received",
        "receipt": receipt,
        "mail": {
            "timestamp": timestamp,
            "source": source,
            "messageId": ses_message_id,
            "destination": ["support@omniflow.example"],
            "headersTruncated": False,
            "commonHeaders": {
                "from": [str(mail["From"])] if mail is not None else [source],
                "to": ["support@omniflow.example"],
                "messageId": str(mail["Message-ID"]) if mail is not None else "",
                "subject": str(mail["Subject"]) if mail is not None else "",
            },
        },
    }
    if mail is not None and (action is None or action.get("type") == "SNS"):
        notification["content"] = (
            base64.b64encode(raw).decode() if encoding == "BASE64" else raw.decode("utf-8", "surrogateescape")
        )
    return notification


def sns_request(body: bytes, method: str = "POST", path_parts: tuple[str, ...] = ()) -> WebhookRequest:
    return WebhookRequest(
        method=method,
        channel="email",
        path_parts=path_parts,
        headers={"content-type": "text/plain; charset=UTF-8", "x-amz-sns-message-type": "Notification"},
        query={},
        body=body,
        url="https://omniflow.test/webhooks/email",
    )


SIGNER = SnsSigner()


def parse_one(notification: dict[str, Any], creds: dict[str, str] = CREDS):
    found = list(ADAPTER.parse(sns_request(SIGNER.body(json.dumps(notification))), creds))
    assert len(found) == 1, found
    return found[0]


def parse_all(notification: Any) -> list:
    message = notification if isinstance(notification, str) else json.dumps(notification)
    return list(ADAPTER.parse(sns_request(SIGNER.body(message)), CREDS))


# ---- reading a plain mail ----------------------------------------------------------------------
def test_a_plain_mail_becomes_one_message_from_the_lower_cased_sender():
    msg = parse_one(ses_notification(customer_mail()))
    assert msg.channel == "email"
    assert msg.account == "default"
    assert msg.channel_user_id == "alice@example.com"
    assert msg.hints.email == "alice@example.com"
    assert msg.hints.display_name == "Alice Example"
    assert msg.type == "text"
    assert msg.text == "Hello, my order #42 has not arrived."
    assert msg.platform_message_id == "o3vrnil0e2ic28trm7dfhrc2v0clambda4nbp0g1"
    assert msg.sent_at == datetime(2024, 5, 1, 9, 30, tzinfo=UTC)
    assert msg.reply_context == {
        "message_id": "<CAF=abc123@mail.example.com>",
        "references": "<CAF=abc123@mail.example.com>",
        "subject": "Where is my order?",
    }


def test_base64_content_is_decoded_whether_or_not_the_action_says_so():
    assert parse_one(ses_notification(customer_mail(), encoding="BASE64")).text.startswith("Hello")
    notification = ses_notification(customer_mail(), encoding="BASE64")
    del notification["receipt"]["action"]["encoding"]
    assert parse_one(notification).text.startswith("Hello")


def test_utf8_content_without_an_encoding_hint_is_read_as_is():
    mail = customer_mail("你好，我的订单还没到。", subject="订单问题")
    msg = parse_one(ses_notification(mail, encoding=None))
    assert msg.text == "你好，我的订单还没到。"
    assert msg.reply_context["subject"] == "订单问题"


def test_a_mail_for_another_account_path_is_tagged_with_it():
    request = sns_request(SIGNER.body(json.dumps(ses_notification(customer_mail()))), path_parts=("brand2",))
    [msg] = ADAPTER.parse(request, CREDS)
    assert msg.account == "brand2"


# ---- HTML and attachments ----------------------------------------------------------------------
def test_an_html_only_mail_is_turned_into_text_without_markup_or_scripts():
    html = (
        "<html><head><title>t</title><style>p{color:red}</style></head><body>"
        "<p>Hello&nbsp;team,</p><p>my <b>order</b> &amp; invoice<br>are missing.</p>"
        "<script>alert('x')</script><img src='https://tracker.test/p.gif'>"
        "<div class='gmail_quote'><blockquote>old stuff</blockquote></div></body></html>"
    )
    msg = parse_one(ses_notification(customer_mail(None, html=html)))
    assert msg.text == "Hello team,\n\nmy order & invoice\nare missing."


def test_plain_text_is_preferred_over_its_html_alternative():
    mail = customer_mail("plain version", html="<p>html version</p>")
    assert parse_one(ses_notification(mail)).text == "plain version"


def test_attachments_are_described_but_their_content_is_not_kept():
    mail = customer_mail("See the photo and the invoice.")
    mail.add_attachment(b"\x89PNG fake image bytes", maintype="image", subtype="png", filename="parcel.png")
    mail.add_attachment(b"%PDF-1.4 fake pdf", maintype="application", subtype="pdf", filename="invoice.pdf")
    msg = parse_one(ses_notification(mail))
    assert msg.text == "See the photo and the invoice."
    assert [(a.kind, a.name, a.mime_type, a.size) for a in msg.attachments] == [
        ("image", "parcel.png", "image/png", len(b"\x89PNG fake image bytes")),
        ("file", "invoice.pdf", "application/pdf", len(b"%PDF-1.4 fake pdf")),
    ]
    assert all(a.url is None and a.media_id is None for a in msg.attachments)


def test_a_mail_that_is_just_an_attachment_is_described():
    mail = customer_mail(None)
    mail.set_content(
        b"%PDF-1.4 scan", maintype="application", subtype="pdf", disposition="attachment", filename="scan.pdf"
    )
    msg = parse_one(ses_notification(mail))
    assert msg.text == ""
    assert [(a.kind, a.name, a.size) for a in msg.attachments] == [("file", "scan.pdf", 13)]


def test_html_to_text_keeps_only_text_nodes_never_scripts_comments_or_styles():
    html = "<p>Hi<script>alert(1)</script> there</p><!-- <p>hidden</p> --><style>p{}</style><p>&lt;b&gt;x</p>"
    # Escaped markup comes out as the literal characters the sender typed; it is text, not HTML.
    assert html_to_text(html) == "Hi there\n\n<b>x"
    assert html_to_text("line one<br/>line two") == "line one\nline two"


def test_a_part_in_an_unknown_charset_is_read_as_utf8_rather_than_lost():
    notification = ses_notification(customer_mail())
    notification["content"] = (
        "From: bob@example.com\r\nContent-Type: text/plain; charset=x-unheard-of\r\n"
        "Content-Transfer-Encoding: 8bit\r\n\r\nBonjour, ça va ?"
    )
    assert parse_one(notification).text == "Bonjour, ça va ?"


def test_content_marked_base64_that_is_not_is_400():
    notification = ses_notification(customer_mail(), encoding="BASE64")
    notification["content"] = "From: x@y.test\n\nnot base64"
    with pytest.raises(BadRequest):
        parse_all(notification)


def test_without_content_the_message_is_built_from_ses_parsed_headers():
    notification = ses_notification(None, source="carol@example.org")
    notification["mail"]["commonHeaders"].update(
        {"from": ["Carol <Carol@Example.org>"], "subject": "Big file", "messageId": "<big-1@example.org>"}
    )
    msg = parse_one(notification)
    assert (msg.channel_user_id, msg.hints.display_name, msg.text) == ("carol@example.org", "Carol", "")
    assert msg.reply_context == {
        "message_id": "<big-1@example.org>",
        "references": "<big-1@example.org>",
        "subject": "Big file",
    }


def test_without_any_sender_address_the_notification_is_400():
    notification = ses_notification(None, source="")
    notification["mail"]["commonHeaders"]["from"] = ["undisclosed-recipients:;"]
    with pytest.raises(BadRequest):
        parse_all(notification)


# ---- quoted history ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "history",
    [
        "On Tue, 30 Apr 2024 at 10:00, Omniflow Support <support@omniflow.example> wrote:\n> old reply",
        "On Tue, 30 Apr 2024 at 10:00, Omniflow Support <\nsupport@omniflow.example> wrote:\n> old reply",
        "-----Original Message-----\nFrom: Omniflow Support\nSent: Tuesday\nold reply",
        "在 2024年4月30日 10:00，Omniflow Support <support@omniflow.example> 写道：\n> 旧回复",
        "发件人: Omniflow Support <support@omniflow.example>\n发送时间: 2024年4月30日\n旧回复",
        "------------------ 原始邮件 ------------------\n发件人: support\n旧回复",
        "From: Omniflow Support <support@omniflow.example>\nSent: Tuesday, April 30, 2024\nold reply",
        "________________________________\nFrom: Omniflow Support\nold reply",
    ],
)
def test_quoted_history_after_a_reply_header_is_dropped(history):
    assert strip_quoted(f"Thanks, it arrived!\n\n{history}") == "Thanks, it arrived!"


def test_quoted_lines_are_dropped_wherever_they_are():
    text = "> you said A\nI disagree.\n> you said B\nAnd this too."
    assert strip_quoted(text) == "I disagree.\nAnd this too."


def test_a_customer_line_starting_with_from_is_kept():
    text = "From: my side the parcel is lost.\nPlease refund."
    assert strip_quoted(text) == text


def test_a_mail_that_is_only_a_quote_is_kept_whole():
    assert strip_quoted("> forwarded complaint") == "> forwarded complaint"


def test_a_reply_mail_arrives_without_its_quoted_history():
    body = (
        "Yes, please resend.\n\nOn Tue, 30 Apr 2024, Omniflow <support@omniflow.example> wrote:\n> Shall we?"
    )
    assert parse_one(ses_notification(customer_mail(body))).text == "Yes, please resend."


# ---- threading ---------------------------------------------------------------------------------
def test_threading_headers_ride_in_the_reply_context():
    ses_id = "0100018f2b3c4d5e-aaaa-bbbb-cccc-000000000000-000000"
    mail = customer_mail(
        "Thanks!",
        subject="Re: Where is my order?",
        message_id="<reply-2@mail.example.com>",
        headers={
            "In-Reply-To": f"<{ses_id}@email.amazonses.com>",
            "References": f"<first@mail.example.com> <{ses_id}@email.amazonses.com>",
        },
    )
    ctx = parse_one(ses_notification(mail)).reply_context
    assert ctx == {
        "message_id": "<reply-2@mail.example.com>",
        "references": f"<first@mail.example.com> <{ses_id}@email.amazonses.com> <reply-2@mail.example.com>",
        "subject": "Re: Where is my order?",
        "in_reply_to": f"<{ses_id}@email.amazonses.com>",
        "in_reply_to_platform_id": ses_id,
    }


def test_an_out_of_office_is_flagged_so_the_core_does_not_answer_it_automatically():
    mail = customer_mail("I am away.", headers={"Auto-Submitted": "auto-replied"})
    assert parse_one(ses_notification(mail)).reply_context["auto_submitted"] == "auto-replied"


# ---- who is writing ----------------------------------------------------------------------------
def test_spf_dkim_and_dmarc_passing_verify_the_address():
    assert parse_one(ses_notification(customer_mail())).hints.verified == ("email",)


@pytest.mark.parametrize(
    "verdicts",
    [
        {"spf": {"status": "FAIL"}, "dkim": PASS, "dmarc": PASS},
        {"spf": PASS, "dkim": {"status": "FAIL"}, "dmarc": PASS},
        {"spf": PASS, "dmarc": PASS},
        {"spf": {"status": "GRAY"}, "dkim": {"status": "GRAY"}},
        {},
    ],
)
def test_without_spf_and_dkim_passing_the_address_is_not_verified(verdicts):
    msg = parse_one(ses_notification(customer_mail(), verdicts=verdicts))
    assert msg.hints.email == "alice@example.com"
    assert msg.hints.verified == ()


def test_passing_spf_and_dkim_for_another_domain_do_not_verify_a_spoofed_from():
    verdicts = {"spf": PASS, "dkim": PASS, "dmarc": {"status": "FAIL"}}
    notification = ses_notification(customer_mail(), source="bounce@attacker.test", verdicts=verdicts)
    assert parse_one(notification).hints.verified == ()


def test_without_dmarc_an_envelope_sender_in_the_from_domain_is_enough():
    verdicts = {"spf": PASS, "dkim": PASS, "dmarc": {"status": "GRAY"}}
    notification = ses_notification(customer_mail(), source="bounces@mx.example.com", verdicts=verdicts)
    assert parse_one(notification).hints.verified == ("email",)


def test_our_own_mail_coming_back_is_not_a_customer_message():
    mail = customer_mail(sender="Omniflow Support <Support@Omniflow.Example>")
    assert parse_all(ses_notification(mail, source="support@omniflow.example")) == []


def test_a_mail_with_a_virus_is_dropped():
    notification = ses_notification(customer_mail())
    notification["receipt"]["virusVerdict"] = {"status": "FAIL"}
    assert parse_all(notification) == []


# ---- time --------------------------------------------------------------------------------------
def test_without_a_date_header_the_ses_receipt_time_is_used():
    mail = customer_mail()
    del mail["Date"]
    assert parse_one(ses_notification(mail)).sent_at == datetime(2024, 5, 1, 9, 30, 5, tzinfo=UTC)


def test_a_date_in_the_future_is_not_believed():
    mail = customer_mail(date=datetime.now(UTC) + timedelta(days=2))
    received = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000Z")
    msg = parse_one(ses_notification(mail, timestamp=received))
    assert msg.sent_at == datetime.fromisoformat(received)


# ---- notifications that are not mail -----------------------------------------------------------
@pytest.mark.parametrize(
    "message",
    [
        {"notificationType": "AMAZON_SES_SETUP_NOTIFICATION"},
        {"notificationType": "Bounce", "bounce": {}},
        "a test publish from the console",
    ],
)
def test_authentic_notifications_that_are_not_received_mail_are_acknowledged_and_ignored(message):
    assert parse_all(message) == []


def test_a_received_notification_without_a_mail_id_is_400():
    notification = ses_notification(customer_mail())
    del notification["mail"]["messageId"]
    with pytest.raises(BadRequest):
        parse_all(notification)


# ---- handshake ---------------------------------------------------------------------------------
def test_only_post_is_accepted():
    with pytest.raises(MethodNotAllowed):
        ADAPTER.handshake(sns_request(b"", method="GET"), CREDS)


def test_a_notification_is_not_a_handshake():
    assert ADAPTER.handshake(sns_request(SIGNER.body("x")), CREDS) is None


# ---- writing replies ---------------------------------------------------------------------------
def reply(text: str = "Your parcel was re-sent today.", **context: str) -> OutboundMessage:
    return OutboundMessage(
        message_id="conv-9#3",
        conversation_id="conv-9",
        seq=3,
        customer_id="cust-9",
        channel="email",
        channel_user_id="alice@example.com",
        text=text,
        reply_context=context,
    )


@pytest.mark.parametrize(
    ("original", "expected"),
    [
        ("Where is my order?", "Re: Where is my order?"),
        ("Re: Where is my order?", "Re: Where is my order?"),
        ("RE:Where is my order?", "RE:Where is my order?"),
        ("回复：订单", "回复：订单"),
        ("Evil\r\nBcc: x@y.test", "Re: Evil Bcc: x@y.test"),
        ("", "Your message"),
    ],
)
def test_the_reply_subject_gets_one_re_prefix(original, expected):
    assert reply_subject(original) == expected


def test_a_reply_is_threaded_on_the_customers_mail():
    mail = build_reply(
        reply(
            "Your parcel was re-sent today. 谢谢！",
            message_id="<reply-2@mail.example.com>",
            references="<first@mail.example.com> <reply-2@mail.example.com>",
            subject="Where is my order?",
        ),
        {**CREDS, "from_name": "Omniflow Support"},
    )
    parsed = message_from_bytes(mail.as_bytes(), policy=policy.default)
    assert parsed["From"] == "Omniflow Support <support@omniflow.example>"
    assert parsed["To"] == "alice@example.com"
    assert parsed["Subject"] == "Re: Where is my order?"
    assert parsed["In-Reply-To"] == "<reply-2@mail.example.com>"
    assert parsed["References"] == "<first@mail.example.com> <reply-2@mail.example.com>"
    assert parsed["Message-ID"].endswith("@omniflow.example>")
    assert parsed["Date"]
    assert parsed.get_content_type() == "text/plain"
    assert parsed.get_content_charset() == "utf-8"
    assert parsed.get_content().rstrip() == "Your parcel was re-sent today. 谢谢！"


def test_a_reference_missing_from_the_chain_is_added_for_in_reply_to():
    mail = build_reply(reply(message_id="<m2@x>", references="<m1@x>"), CREDS)
    assert (mail["In-Reply-To"], mail["References"]) == ("<m2@x>", "<m1@x> <m2@x>")


def test_a_first_contact_reply_has_no_threading_headers():
    parsed = build_reply(reply(), CREDS)
    assert parsed["In-Reply-To"] is None and parsed["References"] is None
    assert parsed["Subject"] == "Your message"


def test_a_forged_reference_cannot_inject_headers():
    mail = build_reply(reply(message_id="<a@b>\r\nBcc: victim@example.com", references="<a@b>"), CREDS)
    raw = mail.as_bytes()
    assert b"Bcc" not in raw
    assert mail["In-Reply-To"] == "<a@b>"


def stubbed_ses(monkeypatch) -> Stubber:
    ses = boto3.client("ses", region_name="us-east-1")
    monkeypatch.setattr(email_channel, "client", lambda service: ses)
    stubber = Stubber(ses)
    stubber.activate()
    return stubber


@pytest.mark.parametrize(
    ("code", "http_status", "retryable"),
    [
        ("MessageRejected", 400, False),
        ("MailFromDomainNotVerifiedException", 400, False),
        ("Throttling", 400, True),
        ("ServiceUnavailable", 503, True),
    ],
)
def test_ses_refusals_fail_for_good_and_throttling_is_retried(monkeypatch, code, http_status, retryable):
    stubber = stubbed_ses(monkeypatch)
    stubber.add_client_error(
        "send_raw_email", service_error_code=code, service_message="no", http_status_code=http_status
    )
    result = ADAPTER.send(reply(), CREDS, RecordingTransport())
    assert result.status == "failed"
    assert result.retryable is retryable
    assert result.error == f"SES {code}: no"


def test_a_send_returns_the_ses_message_id(monkeypatch):
    stubber = stubbed_ses(monkeypatch)
    stubber.add_response("send_raw_email", {"MessageId": "0100018f-0000"})
    result = ADAPTER.send(reply(), CREDS, RecordingTransport())
    assert (result.status, result.platform_message_id) == ("sent", "0100018f-0000")


def test_ses_unreachable_is_retried(monkeypatch):
    class Unreachable:
        def send_raw_email(self, **kwargs: Any) -> dict[str, Any]:
            raise EndpointConnectionError(endpoint_url="https://email.us-east-1.amazonaws.com")

    monkeypatch.setattr(email_channel, "client", lambda service: Unreachable())
    result = ADAPTER.send(reply(), CREDS, RecordingTransport())
    assert (result.status, result.retryable) == ("failed", True)
    assert result.error == "SES unreachable: EndpointConnectionError"
