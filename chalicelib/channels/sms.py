"""SMS/MMS through Twilio: the ``sms`` channel.

Inbound: Twilio POSTs a form (``MessageSid, From, To, Body, NumMedia, MediaUrl0…``) to
``/webhooks/sms[/<account>]`` signed with ``X-Twilio-Signature``; the shared pipeline verifies it
here, turns it into one ``InboundMessage`` and answers an empty TwiML document (we reply later
through the REST API, never inline, so an agent has time to write).

Outbound: ``POST /2010-04-01/Accounts/{sid}/Messages.json`` with basic auth.

Credentials per account: ``account_sid``, ``auth_token``, ``from_number`` (or, optionally,
``messaging_service_sid`` to let a Twilio Messaging Service pick the sender).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Literal
from urllib.parse import parse_qsl
from urllib.parse import urlsplit
from urllib.parse import urlunsplit

from chalicelib.channels.base import BadRequest
from chalicelib.channels.base import ChannelAdapter
from chalicelib.channels.base import Response
from chalicelib.channels.base import WebhookRequest
from chalicelib.channels.base import constant_time_equals
from chalicelib.channels.base import deliver
from chalicelib.channels.base import verify_header
from chalicelib.channels.transport import HttpCall
from chalicelib.channels.transport import HttpReply
from chalicelib.channels.transport import Transport
from chalicelib.messages import Attachment
from chalicelib.messages import CustomerHints
from chalicelib.messages import InboundMessage
from chalicelib.messages import MessageType
from chalicelib.messages import OutboundMessage
from chalicelib.messages import SendResult
from chalicelib.messages import utcnow

API_BASE = "https://api.twilio.com/2010-04-01"
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
#: Twilio accepts at most 10 media per MMS; more indexes than that are not Twilio's doing.
MAX_MEDIA = 10
E164 = re.compile(r"\+[1-9]\d{6,14}")

AttachmentKind = Literal["image", "file", "voice", "video"]
_KINDS: dict[str, AttachmentKind] = {"image": "image", "audio": "voice", "video": "video"}


def twilio_signature(auth_token: str, url: str, pairs: Iterable[tuple[str, str]]) -> str:
    """Twilio's request signature: base64 HMAC-SHA1 over the URL followed by every form
    name+value, sorted by name then value (each distinct pair once, as Twilio's own SDK does)."""
    payload = url + "".join(name + value for name, value in sorted(set(pairs)))
    digest = hmac.new(auth_token.encode("utf-8"), payload.encode("utf-8"), hashlib.sha1).digest()
    return base64.b64encode(digest).decode("ascii")


def url_variants(url: str) -> tuple[str, ...]:
    """The URL with and without its default port: Twilio signs whichever form its edge used,
    so its SDK accepts both and so do we."""
    parts = urlsplit(url)
    default_port = {"https": 443, "http": 80}.get(parts.scheme)
    host = parts.hostname or ""
    if parts.port is not None and parts.port != default_port:
        return (url,)
    userinfo = parts.netloc.rpartition("@")[0]
    prefix = f"{userinfo}@" if userinfo else ""
    bare = urlunsplit(parts._replace(netloc=f"{prefix}{host}"))
    with_port = urlunsplit(parts._replace(netloc=f"{prefix}{host}:{default_port}"))
    return (bare, with_port)


def attachment_kind(mime_type: str) -> AttachmentKind:
    """Map a media content type to our attachment kinds (anything unknown is a plain file)."""
    return _KINDS.get(mime_type.split("/", 1)[0].strip().lower(), "file")


class SmsAdapter(ChannelAdapter):
    name = "sms"
    credential_fields = ("account_sid", "auth_token", "from_number")

    # ---- inbound -------------------------------------------------------------------------------
    def verify(self, req: WebhookRequest, creds: Mapping[str, str]) -> None:
        """Recompute ``X-Twilio-Signature`` over the public URL and the raw form pairs."""
        token = creds["auth_token"]

        def matches(given: str) -> bool:
            pairs, urls = _form_pairs(req.body), url_variants(req.url)
            # Every variant is checked (a list, no early exit): timing does not tell which matched.
            return any([constant_time_equals(twilio_signature(token, u, pairs), given) for u in urls])

        verify_header(req, "x-twilio-signature", matches)

    def parse(self, req: WebhookRequest, creds: Mapping[str, str]) -> Iterable[InboundMessage]:
        form = req.form()
        sid, sender = form.get("MessageSid", ""), form.get("From", "")
        if not sid or not sender:
            raise BadRequest("MessageSid and From are required")
        if form.get("MessageStatus"):
            # A delivery-status callback pointed at this URL: about our own message, not a new one.
            return []
        attachments = _attachments(form)
        text = form.get("Body", "")
        kind: MessageType = "text" if text or not attachments else attachments[0].kind
        is_phone = E164.fullmatch(sender) is not None
        return [
            InboundMessage(
                channel=self.name,
                account=self.account_of(req),
                channel_user_id=sender,
                # The carrier network vouches for a real number; short codes and alphanumeric
                # sender ids are not phone numbers and must not link to a customer.
                hints=CustomerHints(
                    phone=sender if is_phone else None, verified=("phone",) if is_phone else ()
                ),
                type=kind,
                text=text,
                attachments=tuple(attachments),
                platform_message_id=sid,
                sent_at=utcnow(),  # Twilio's webhook carries no timestamp
            )
        ]

    def acknowledge(self, req: WebhookRequest, accepted: list[InboundMessage]) -> Response:
        """Empty TwiML: "received, no inline reply"; replies go through the REST API."""
        return Response.text(EMPTY_TWIML, content_type="text/xml")

    # ---- outbound ------------------------------------------------------------------------------
    def send(self, msg: OutboundMessage, creds: Mapping[str, str], http: Transport) -> SendResult:
        sid = creds["account_sid"]
        form = {"To": msg.channel_user_id, "Body": msg.text}
        if creds.get("messaging_service_sid"):
            form["MessagingServiceSid"] = creds["messaging_service_sid"]
        else:
            form["From"] = creds["from_number"]
        call = HttpCall(
            "POST", f"{API_BASE}/Accounts/{sid}/Messages.json", data=form, auth=(sid, creds["auth_token"])
        )
        return deliver(lambda: http.call(call), _send_result)


def _form_pairs(body: bytes) -> list[tuple[str, str]]:
    """Every name/value pair of the form, repeated names included (``req.form()`` keeps one)."""
    try:
        return parse_qsl(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError as exc:
        raise BadRequest("form body is not UTF-8") from exc


def _attachments(form: Mapping[str, str]) -> list[Attachment]:
    try:
        count = int(form.get("NumMedia") or 0)
    except ValueError as exc:
        raise BadRequest("NumMedia is not a number") from exc
    found = []
    for i in range(max(0, min(count, MAX_MEDIA))):
        url = form.get(f"MediaUrl{i}")
        if not url:
            continue
        mime = form.get(f"MediaContentType{i}") or None
        found.append(Attachment(kind=attachment_kind(mime or ""), url=url, mime_type=mime))
    return found


def _send_result(reply: HttpReply) -> SendResult:
    """Map Twilio's answer: 2xx sent; 429 and 5xx worth retrying; other 4xx are final."""
    data = reply.json()
    data = data if isinstance(data, dict) else {}
    if reply.ok:
        return SendResult(status="sent", platform_message_id=data.get("sid"))
    detail = data.get("message") or f"HTTP {reply.status}"
    error = f"Twilio {data['code']}: {detail}" if data.get("code") else f"Twilio: {detail}"
    return SendResult(status="failed", error=error, retryable=reply.status == 429 or reply.status >= 500)


ADAPTER = SmsAdapter()
