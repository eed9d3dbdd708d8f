"""E-mail through Amazon SES: the ``email`` channel.

Inbound: an SES receipt rule publishes each received mail to an SNS topic; the topic delivers to
``/webhooks/email[/<account>]`` over HTTPS. ``chalicelib.channels.sns`` proves the delivery is
SNS's and from the configured topic; this module reads the SES notification inside it (raw MIME,
inline or in S3 for large mail), keeps what a customer actually wrote (text, not quoted history)
and turns it into one ``InboundMessage``. Threading headers travel in ``reply_context`` so the core
can attach a reply to its conversation and the sender can answer in the same thread.

Outbound: SES ``SendRawEmail`` with ``In-Reply-To``/``References``. SES replaces our Message-ID
with ``<SES MessageId@…amazonses.com>``, so the SES MessageId is what a customer's reply will point
at: it is returned as ``platform_message_id``, and an inbound reply to it carries it back as
``reply_context["in_reply_to_platform_id"]``.

Credentials per account: ``topic_arn`` (the SNS topic we accept), ``from_address`` (a verified SES
identity), optionally ``from_name``.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import uuid
from collections.abc import Iterable
from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from email import message_from_bytes
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formataddr
from email.utils import formatdate
from email.utils import parseaddr
from email.utils import parsedate_to_datetime
from html.parser import HTMLParser
from typing import Any
from typing import cast

from botocore.exceptions import BotoCoreError
from botocore.exceptions import ClientError

from chalicelib.aws import client
from chalicelib.channels import sns
from chalicelib.channels.base import BadRequest
from chalicelib.channels.base import ChannelAdapter
from chalicelib.channels.base import Response
from chalicelib.channels.base import WebhookRequest
from chalicelib.messages import Attachment
from chalicelib.messages import CustomerHints
from chalicelib.messages import InboundMessage
from chalicelib.messages import OutboundMessage
from chalicelib.messages import SendResult
from chalicelib.messages import utcnow
from chalicelib.observability import logger

#: keeps one message well inside SQS's 256 KB even for 3-byte UTF-8 scripts
MAX_TEXT_CHARS = 32_000
#: RFC 5322 §3.6.4 lets a References chain be trimmed; keep the newest ids
MAX_REFERENCES = 20
#: a sender's clock may be wrong; a Date further ahead of SES's receipt time than this is ignored
MAX_CLOCK_SKEW = timedelta(minutes=5)
DEFAULT_SUBJECT = "Your message"
RETRYABLE_SES_ERRORS = frozenset(
    {"Throttling", "ThrottlingException", "TooManyRequestsException", "ServiceUnavailable", "InternalFailure"}
)

_MSG_ID = re.compile(r"<[^<>\s]+>")
_SES_MSG_ID = re.compile(r"<([^<>@\s]+)@(?:[a-z0-9-]+\.)?amazonses\.com>", re.IGNORECASE)
_REPLY_PREFIX = re.compile(r"^\s*(re|aw|sv|回复|答复)\s*[:：]", re.IGNORECASE)

# Lines that start the quoted history in replies, as common mail clients write them.
_QUOTE_HEADERS = (
    re.compile(r"^On\b.*\bwrote\s*:?$", re.IGNORECASE),  # Gmail, Apple Mail, Thunderbird
    re.compile(r"^Le\b.*\ba écrit\s*:?$", re.IGNORECASE),
    re.compile(r"^Am\b.*\bschrieb\b.*:$", re.IGNORECASE),
    re.compile(r"^在.*写道\s*[：:]?$"),  # Chinese Gmail / Apple Mail
    re.compile(r"^-{2,}\s*(Original Message|原始邮件)\s*-{2,}$", re.IGNORECASE),  # Outlook, QQ Mail
    re.compile(r"^发件人\s*[：:]"),  # Outlook / Foxmail (Chinese) header block
    re.compile(r"^_{20,}$"),  # Outlook's separator line above its header block
)
# Outlook's English header block only counts when "Sent:/Date:/To:" follows, since a customer
# may well start a line with "From:".
_FROM_LINE = re.compile(r"^From\s*:", re.IGNORECASE)
_HEADER_LINE = re.compile(r"^(Sent|Date|To|Subject)\s*:", re.IGNORECASE)


# ---- reading mail -------------------------------------------------------------------------------
class _HtmlText(HTMLParser):
    """HTML → plain text by collecting text nodes only: nothing is rendered, fetched or run.
    Quoted history (``<blockquote>``) and non-content elements are dropped."""

    SKIP = frozenset({"script", "style", "head", "title", "template", "blockquote"})
    BLOCK = frozenset(
        {"p", "div", "br", "li", "tr", "table", "ul", "ol", "pre", "hr", "section", "article"}
        | {"header", "footer", "h1", "h2", "h3", "h4", "h5", "h6"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self._skipping += 1
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """Readable text from an HTML mail body (whitespace collapsed as a browser would)."""
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    lines = (" ".join(line.split()) for line in "".join(parser.parts).splitlines())
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


def strip_quoted(text: str) -> str:
    """What the customer wrote in this mail: ``>`` lines and everything from a reply header
    ("On … wrote:", "-----Original Message-----", "在 … 写道：", "发件人:") onwards are dropped.
    A mail that is nothing but a quote is kept whole rather than emptied."""
    lines = text.splitlines()
    kept: list[str] = []
    for i, line in enumerate(lines):
        stripped = line.strip()
        following = lines[i + 1].strip() if i + 1 < len(lines) else ""
        if _starts_history(stripped, following):
            break
        if stripped.startswith(">"):
            continue
        kept.append(line.rstrip())
    result = "\n".join(kept).strip()
    return result or text.strip()


def _starts_history(line: str, following: str) -> bool:
    if any(p.match(line) for p in _QUOTE_HEADERS):
        return True
    # Gmail wraps a long "On <date>, <name> <address> wrote:" over two lines.
    if line.lower().startswith("on ") and _QUOTE_HEADERS[0].match(f"{line} {following}"):
        return True
    return bool(_FROM_LINE.match(line) and _HEADER_LINE.match(following))


def decode_content(content: str, encoding: str | None) -> bytes:
    """The raw MIME from an SES notification's ``content``: base64 when the SNS action says
    ``BASE64``, as-is for ``UTF8``; without a hint, base64 only if it decodes cleanly (raw MIME
    always has ``:`` in its headers, which base64 never contains)."""
    if (encoding or "").upper() != "UTF8":
        try:
            return base64.b64decode("".join(content.split()), validate=True)
        except (binascii.Error, ValueError):
            if (encoding or "").upper() == "BASE64":
                raise BadRequest("SES content is not valid base64") from None
    return content.encode("utf-8", "surrogateescape")


def body_text(mail: EmailMessage) -> str:
    """The mail's text: text/plain if the sender gave one, else its HTML converted to text."""
    part = mail.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    text = _part_text(cast(EmailMessage, part))
    return html_to_text(text) if part.get_content_subtype() == "html" else text


def attachments_of(mail: EmailMessage) -> tuple[Attachment, ...]:
    """Files in the mail, described only: the content stays in the mail, never in our store."""
    found = []
    # A single-part mail can itself be the attachment (e.g. a scanner sending just a PDF).
    parts = mail.iter_attachments() if mail.is_multipart() else ([mail] if mail.is_attachment() else [])
    for part in parts:
        payload = part.get_payload(decode=True)
        mime = part.get_content_type()
        found.append(
            Attachment(
                kind="image" if part.get_content_maintype() == "image" else "file",
                name=part.get_filename() or None,
                mime_type=mime,
                size=len(payload) if isinstance(payload, bytes) else None,
            )
        )
    return tuple(found)


def thread_context(mail: EmailMessage, subject: str, fallback_message_id: str = "") -> dict[str, str]:
    """What a reply needs to stay in the thread, and what the core needs to find the thread.
    ``fallback_message_id`` (SES's parsed header) serves when the MIME itself is unavailable."""
    message_id = _first_id(mail.get("Message-ID")) or _first_id(fallback_message_id)
    references = _ids(mail.get("References"))
    if message_id and message_id not in references:
        references.append(message_id)
    in_reply_to = _first_id(mail.get("In-Reply-To"))
    ctx = {
        "message_id": message_id,
        "references": " ".join(references[-MAX_REFERENCES:]),
        "subject": subject,
        "in_reply_to": in_reply_to,
    }
    ses_id = _SES_MSG_ID.fullmatch(in_reply_to)
    if ses_id:
        ctx["in_reply_to_platform_id"] = ses_id.group(1)
    auto = str(mail.get("Auto-Submitted") or "").strip().lower()
    if auto and auto != "no":
        ctx["auto_submitted"] = auto  # an out-of-office: the core must not auto-answer it
    return {k: v for k, v in ctx.items() if v}


def sender_is_verified(receipt: Mapping[str, Any], address: str, envelope_sender: str) -> bool:
    """Whether SES vouches that ``address`` (the From header) really sent this mail.

    SPF and DKIM must both PASS. They prove the *envelope* and *signing* domains, which need not be
    the From domain, so we also require DMARC PASS (SES's From-alignment check) or, failing a
    DMARC record, an envelope sender in the From domain. Otherwise anyone with a passing domain
    could claim a customer's address and be merged into their history.
    """

    if _verdict(receipt, "spfVerdict") != "PASS" or _verdict(receipt, "dkimVerdict") != "PASS":
        return False
    if _verdict(receipt, "dmarcVerdict") == "PASS":
        return True
    from_domain = address.rpartition("@")[2]
    source_domain = parseaddr(envelope_sender)[1].lower().rpartition("@")[2]
    return bool(from_domain) and (source_domain == from_domain or source_domain.endswith("." + from_domain))


def _verdict(receipt: Mapping[str, Any], name: str) -> str:
    value = receipt.get(name)
    return str(value.get("status", "")).upper() if isinstance(value, dict) else ""


def _part_text(part: EmailMessage) -> str:
    try:
        return str(part.get_content())
    except (LookupError, UnicodeError):  # unknown charset or broken encoding
        payload = part.get_payload(decode=True)
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else ""


def _ids(value: object) -> list[str]:
    return _MSG_ID.findall(str(value or ""))


def _first_id(value: object) -> str:
    found = _ids(value)
    return found[0] if found else ""


def _sent_at(mail: EmailMessage, received: datetime | None) -> datetime:
    ceiling = (received or utcnow()) + MAX_CLOCK_SKEW
    try:
        sent = parsedate_to_datetime(str(mail.get("Date") or ""))
    except (TypeError, ValueError, IndexError):
        sent = None
    if sent is not None:
        sent = sent if sent.tzinfo else sent.replace(tzinfo=UTC)
        if sent <= ceiling:
            return sent
    return received or utcnow()


def _iso_time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        ts = datetime.fromisoformat(value)
    except ValueError:
        return None
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def _raw_mime(notification: Mapping[str, Any]) -> bytes | None:
    """Inline content (SNS action, mail ≤ 150 KB), or the object an S3 action stored."""
    receipt = notification.get("receipt")
    action = receipt.get("action") if isinstance(receipt, dict) else None
    action = action if isinstance(action, dict) else {}
    content = notification.get("content")
    if isinstance(content, str):
        return decode_content(content, action.get("encoding"))
    if action.get("type") == "S3" and action.get("bucketName") and action.get("objectKey"):
        obj = client("s3").get_object(Bucket=action["bucketName"], Key=action["objectKey"])
        body: bytes = obj["Body"].read()
        return body
    return None


def _sender(mail: EmailMessage, common: Mapping[str, Any], source: str) -> tuple[str, str | None]:
    """(address lower-cased, display name) from the From header, else SES's parsed headers."""
    header = mail.get("From")
    addresses = getattr(header, "addresses", ())
    if addresses:
        first: Address = addresses[0]
        if first.addr_spec and "@" in first.addr_spec:
            return first.addr_spec.lower(), first.display_name or None
    common_from = common.get("from")
    if isinstance(common_from, list) and common_from:
        name, addr = parseaddr(str(common_from[0]))
        if "@" in addr:
            return addr.lower(), name or None
    name, addr = parseaddr(source)
    if "@" in addr:
        return addr.lower(), None
    raise BadRequest("mail has no sender address")


def _truncate(text: str) -> str:
    return text if len(text) <= MAX_TEXT_CHARS else text[:MAX_TEXT_CHARS] + "\n…[truncated]"


# ---- writing mail -------------------------------------------------------------------------------
def reply_subject(subject: str) -> str:
    """``Re: <subject>``, without stacking a second ``Re:`` on a thread that already has one."""
    subject = " ".join(subject.split())  # also removes any CR/LF a header could be split with
    if not subject:
        return DEFAULT_SUBJECT
    return subject if _REPLY_PREFIX.match(subject) else f"Re: {subject}"


def build_reply(msg: OutboundMessage, creds: Mapping[str, str]) -> EmailMessage:
    """The MIME reply: plain-text UTF-8 body, threaded on the customer's mail."""
    sender = creds["from_address"]
    ctx = msg.reply_context
    mail = EmailMessage(policy=policy.SMTP)
    mail["From"] = formataddr((creds["from_name"], sender)) if creds.get("from_name") else sender
    mail["To"] = msg.channel_user_id
    mail["Subject"] = reply_subject(ctx.get("subject", ""))
    mail["Date"] = formatdate(usegmt=True)
    mail["Message-ID"] = f"<{uuid.uuid4()}@{sender.rpartition('@')[2] or 'omniflow.invalid'}>"
    in_reply_to = _first_id(ctx.get("message_id"))
    references = _ids(ctx.get("references"))
    if in_reply_to and in_reply_to not in references:
        references.append(in_reply_to)
    if in_reply_to:
        mail["In-Reply-To"] = in_reply_to
    if references:
        mail["References"] = " ".join(references[-MAX_REFERENCES:])
    mail.set_content(msg.text, subtype="plain", charset="utf-8")
    return mail


def _ses_failure(exc: ClientError) -> SendResult:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", "Unknown"))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 0)
    retryable = code in RETRYABLE_SES_ERRORS or status >= 500
    return SendResult(
        status="failed", error=f"SES {code}: {error.get('Message', '')}".strip(), retryable=retryable
    )


# ---- the adapter --------------------------------------------------------------------------------
class EmailAdapter(ChannelAdapter):
    name = "email"
    credential_fields = ("topic_arn", "from_address")

    def handshake(self, req: WebhookRequest, creds: Mapping[str, str]) -> Response | None:
        """SNS (un)subscription confirmations: verified like any delivery, then answered here."""
        super().handshake(req, creds)
        envelope = sns.parse_envelope(req.body)
        if envelope["Type"] == sns.NOTIFICATION:
            return None
        sns.verify(envelope, topic_arn=creds.get("topic_arn", ""))
        if envelope["Type"] == sns.SUBSCRIPTION_CONFIRMATION:
            sns.confirm_subscription(envelope)
        return Response.text("")

    def verify(self, req: WebhookRequest, creds: Mapping[str, str]) -> None:
        sns.verify(sns.parse_envelope(req.body), topic_arn=creds.get("topic_arn", ""))

    def parse(self, req: WebhookRequest, creds: Mapping[str, str]) -> Iterable[InboundMessage]:
        envelope = sns.parse_envelope(req.body)
        try:
            notification = json.loads(envelope["Message"])
        except ValueError:
            notification = None
        if not isinstance(notification, dict) or notification.get("notificationType") != "Received":
            # Setup notices, bounces or a test publish on our topic: authentic, but not a mail.
            logger.info("SNS notification ignored", extra={"sns_message_id": envelope["MessageId"]})
            return []
        message = self._message(notification, req, creds)
        return [message] if message is not None else []

    def _message(
        self, notification: Mapping[str, Any], req: WebhookRequest, creds: Mapping[str, str]
    ) -> InboundMessage | None:
        meta = notification.get("mail")
        if not isinstance(meta, dict) or not isinstance(meta.get("messageId"), str) or not meta["messageId"]:
            raise BadRequest("SES notification lacks mail.messageId")
        receipt = notification.get("receipt")
        receipt = receipt if isinstance(receipt, dict) else {}
        common = meta.get("commonHeaders")
        common = common if isinstance(common, dict) else {}
        if _verdict(receipt, "virusVerdict") == "FAIL":
            logger.warning("mail with a virus dropped", extra={"ses_message_id": meta["messageId"]})
            return None
        raw = _raw_mime(notification)
        mail = cast(EmailMessage, message_from_bytes(raw or b"", policy=policy.default))
        source = str(meta.get("source") or "")
        address, display_name = _sender(mail, common, source)
        if address == creds.get("from_address", "").lower():
            return None  # our own mail coming back (a loop through a forwarder): never a customer
        subject = " ".join(str(mail.get("Subject") or common.get("subject") or "").split())
        verified = sender_is_verified(receipt, address, source)
        if raw is None:
            logger.warning("SES notification without content", extra={"ses_message_id": meta["messageId"]})
        return InboundMessage(
            channel=self.name,
            account=self.account_of(req),
            channel_user_id=address,
            hints=CustomerHints(
                display_name=display_name, email=address, verified=("email",) if verified else ()
            ),
            text=_truncate(strip_quoted(body_text(mail))),
            attachments=attachments_of(mail),
            platform_message_id=meta["messageId"],
            sent_at=_sent_at(mail, _iso_time(meta.get("timestamp"))),
            reply_context=thread_context(mail, subject, str(common.get("messageId") or "")),
        )

    def send(self, msg: OutboundMessage, creds: Mapping[str, str], http: Any) -> SendResult:
        """Send through SES itself (moto in the local stack, so no recording shortcut is needed).
        Returns SES's MessageId: SES rewrites Message-ID to contain it, so replies thread on it."""
        mail = build_reply(msg, creds)
        try:
            answer = client("ses").send_raw_email(
                Source=creds["from_address"],
                Destinations=[msg.channel_user_id],
                RawMessage={"Data": mail.as_bytes()},
            )
        except ClientError as exc:
            return _ses_failure(exc)
        except BotoCoreError as exc:  # network, timeouts: the queue retries
            return SendResult(status="failed", error=f"SES unreachable: {type(exc).__name__}", retryable=True)
        return SendResult(status="sent", platform_message_id=answer["MessageId"])


ADAPTER = EmailAdapter()
