"""Meta's webhook family — WhatsApp Cloud API, Messenger and Instagram messaging — written once.

The three platforms share one webhook protocol and one send API, so this module supplies the
shared steps of the webhook pipeline and of sending; ``whatsapp.py``, ``messenger.py`` and
``instagram.py`` only say what differs:

- ``handshake``: the subscription check Meta makes when the callback URL is saved,
  ``GET ?hub.mode=subscribe&hub.verify_token=…&hub.challenge=…`` → the challenge as text/plain;
- ``verify``: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body)>``, compared in
  constant time over the raw bytes (never re-serialized JSON: Meta escapes ``/`` and non-ASCII as
  ``\\/`` and ``\\uXXXX``, so a re-encoded body would not match);
- ``parse``: checks the envelope (``{"object": …, "entry": [...]}``) and hands each entry to the
  platform; the account of each entry is the one whose configured asset id (phone number id, page
  id, Instagram account id) it names, so one callback URL can serve every number or page of an app;
- ``send``: the Graph API call, its Bearer token, and the classification of Graph errors into
  "retry later" (rate limits, Meta hiccups) and "final" (permissions, bad parameters, closed reply
  window) for the outbound queue.

Messenger and Instagram share everything down to the payloads (``entry[].messaging[]`` and
``POST /me/messages``), so their adapter, ``MessagingAdapter``, lives here as well.

Refusals: a missing signature is 401, a wrong one 403, a body that is not Meta's envelope 400, a
subscription check with the wrong verify token 403.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Iterable
from collections.abc import Iterator
from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import Any
from typing import ClassVar
from typing import Literal
from typing import NamedTuple
from urllib.parse import quote

from pydantic import ValidationError

from chalicelib.channels import json_fields as jf
from chalicelib.channels.base import BadRequest
from chalicelib.channels.base import ChannelAdapter
from chalicelib.channels.base import Forbidden
from chalicelib.channels.base import MethodNotAllowed
from chalicelib.channels.base import Response
from chalicelib.channels.base import Unauthorized
from chalicelib.channels.base import WebhookRequest
from chalicelib.channels.base import constant_time_equals
from chalicelib.channels.base import deliver
from chalicelib.channels.transport import HttpCall
from chalicelib.channels.transport import HttpReply
from chalicelib.channels.transport import Media
from chalicelib.channels.transport import MediaUnavailable
from chalicelib.channels.transport import Transport
from chalicelib.channels.transport import download_media
from chalicelib.channels.transport import media_get
from chalicelib.messages import Attachment
from chalicelib.messages import DeliveryStatus
from chalicelib.messages import InboundMessage
from chalicelib.messages import Location
from chalicelib.messages import MessageType
from chalicelib.messages import OutboundMessage
from chalicelib.messages import SendResult
from chalicelib.messages import utcnow
from chalicelib.observability import logger

GRAPH_VERSION = "v21.0"
GRAPH_URL = f"https://graph.facebook.com/{GRAPH_VERSION}"
SIGNATURE_HEADER = "x-hub-signature-256"
MAX_CHALLENGE = 256  # Meta's challenge is a short integer; we echo nothing longer

STANDARD_WINDOW = timedelta(hours=24)
HUMAN_AGENT_WINDOW = timedelta(days=7)

# ================================================================================================
# Webhook authentication
# ================================================================================================


def hub_signature(app_secret: str, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value Meta sends with ``body``."""
    return "sha256=" + hmac.new(app_secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def check_hub_signature(given: str, app_secret: str, body: bytes) -> None:
    """Raise Unauthorized without a signature, Forbidden when it is not Meta's for this body."""
    if not given:
        raise Unauthorized("missing X-Hub-Signature-256")
    algorithm, _, digest = given.strip().partition("=")
    expected = hub_signature(app_secret, body).partition("=")[2]
    # Compared even when the prefix is wrong, so a malformed header costs the same as a wrong one.
    if not constant_time_equals(digest.lower(), expected) or algorithm.lower() != "sha256":
        raise Forbidden("X-Hub-Signature-256 does not match")


def hub_challenge(req: WebhookRequest, verify_token: str) -> Response:
    """Answer Meta's subscription check: echo ``hub.challenge`` if the verify token is ours."""
    q = req.query
    challenge = q.get("hub.challenge", "")
    if q.get("hub.mode") != "subscribe" or not challenge or len(challenge) > MAX_CHALLENGE:
        raise BadRequest("expected hub.mode=subscribe with hub.verify_token and hub.challenge")
    if not constant_time_equals(q.get("hub.verify_token", ""), verify_token):
        raise Forbidden("hub.verify_token does not match")
    return Response.text(challenge)


# ================================================================================================
# Reading Meta's JSON: shape errors are the platform's 400 (json_fields), never our 500
# ================================================================================================


def items(data: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
    """A list of objects; absent means empty (Meta omits empty arrays)."""
    return [jf.obj(v, key) for v in jf.opt_list(data, key)]


def member(data: Mapping[str, Any], key: str) -> dict[str, Any]:
    """An optional sub-object, empty when absent."""
    return jf.opt_obj(data, key) or {}


def meta_time(data: Mapping[str, Any], key: str, *, millis: bool) -> datetime:
    """A Meta timestamp: WhatsApp sends seconds as a string, Messenger and Instagram milliseconds
    as a number."""
    value = jf.req_id(data, key)
    try:
        number = int(value)
    except ValueError as exc:
        raise BadRequest(f"{key} is not a Unix time") from exc
    return jf.epoch(number, millis=millis, where=key)


def location(data: Mapping[str, Any], lat: str, long: str, label: str | None) -> Location:
    return Location(
        latitude=jf.coordinate(data, lat, 90), longitude=jf.coordinate(data, long, 180), label=label
    )


def build(**fields: Any) -> InboundMessage:
    """An InboundMessage, or 400 when the platform's values do not fit our model."""
    try:
        return InboundMessage(**fields)
    except ValidationError as exc:
        raise BadRequest("message does not fit the normalized format") from exc


State = Literal["delivered", "read", "failed"]


def status_message(
    *,
    channel: str,
    account: str,
    user: str,
    platform_id: str,
    state: State,
    sent_at: datetime,
    error: str | None,
) -> InboundMessage:
    """A delivery report on one of our messages. Its own id is ``<our id>:<state>``, so the same
    report retried is deduplicated while "delivered" and then "read" both get through."""
    return build(
        channel=channel,
        account=account,
        channel_user_id=user,
        type="status",
        status=DeliveryStatus(platform_message_id=platform_id, state=state, error=error),
        platform_message_id=f"{platform_id}:{state}",
        sent_at=sent_at,
    )


# ================================================================================================
# Graph API errors → send results
# ================================================================================================

#: Meta's error codes worth another try later: rate limits, throttling and Meta-side hiccups.
RETRYABLE_CODES = frozenset(
    {
        1,  # unknown API error
        2,  # service temporarily unavailable
        4,  # application request limit
        17,  # user request limit
        32,  # page request limit
        341,  # application limit reached
        613,  # calls within one hour exceeded
        80007,  # WhatsApp Business Account rate limit
        130429,  # Cloud API throughput reached
        131000,  # something went wrong
        131016,  # service unavailable
        131048,  # spam rate limit
        131056,  # too many messages to one user
        133004,  # server temporarily unavailable
    }
)
OUTSIDE_24H = 131047  # WhatsApp re-engagement: free text more than 24 h after the customer's message
MESSENGER_WINDOW = (10, 2018278)  # Messenger/Instagram: sent outside the allowed window
OUTSIDE_24H_TEXT = "outside the 24 h window: send a template"
OUTSIDE_HUMAN_AGENT_TEXT = "outside the 7-day human agent window: the customer must write first"


class GraphError(NamedTuple):
    """The ``error`` object of a Graph API answer (or one entry of a WhatsApp status's errors)."""

    code: int | None
    subcode: int | None = None
    message: str = ""
    transient: bool = False

    @classmethod
    def of(cls, data: Any) -> GraphError | None:
        if not isinstance(data, dict):
            return None
        code, subcode = data.get("code"), data.get("error_subcode")
        details = data.get("error_data")
        detail = details.get("details") if isinstance(details, dict) else None
        message = data.get("message") or data.get("title") or ""
        if isinstance(detail, str) and detail and detail not in str(message):
            message = f"{message} ({detail})" if message else detail
        return cls(
            code=code if isinstance(code, int) else None,
            subcode=subcode if isinstance(subcode, int) else None,
            message=str(message),
            transient=data.get("is_transient") is True,
        )

    def describe(self) -> str:
        """What the agent sees. The two window errors get advice instead of Meta's wording."""
        if self.code == OUTSIDE_24H:
            return OUTSIDE_24H_TEXT
        if (self.code, self.subcode) == MESSENGER_WINDOW:
            return OUTSIDE_HUMAN_AGENT_TEXT
        code = f"{self.code}/{self.subcode}" if self.subcode else str(self.code)
        return f"Graph error {code}: {self.message}" if self.message else f"Graph error {code}"

    @property
    def retryable(self) -> bool:
        return self.transient or self.code in RETRYABLE_CODES


def send_result(reply: HttpReply, sent_id: str | None) -> SendResult:
    """Map a Graph API answer: 2xx sent; 429, 5xx and Meta's rate-limit codes are worth a retry;
    permissions (10, 200–299), bad parameters (100), expired tokens (190) and a closed window are
    final (retrying cannot fix them, an agent or an admin must)."""
    if reply.recorded:
        return SendResult(status="sent_local")
    if reply.ok:
        return SendResult(status="sent", platform_message_id=sent_id)
    data = reply.json()
    error = GraphError.of(data.get("error") if isinstance(data, dict) else None)
    if error is None:
        return SendResult(
            status="failed",
            error=f"Graph API HTTP {reply.status}",
            retryable=reply.status == 429 or reply.status >= 500,
        )
    retryable = error.retryable or reply.status == 429 or reply.status >= 500
    return SendResult(status="failed", error=error.describe(), retryable=retryable)


def graph_refusal(reply: HttpReply) -> str | None:
    """A Graph API error as the agent reads it (an expired or deleted media id is Graph error 100
    or a 404), or None for a 2xx."""
    if reply.ok or reply.recorded:
        return None
    data = reply.json()
    error = GraphError.of(data.get("error") if isinstance(data, dict) else None)
    if reply.status == 404 or error is None:
        return f"media not found or expired (HTTP {reply.status})"
    return f"media not available: {error.describe()}"


def last_inbound_age(msg: OutboundMessage) -> timedelta | None:
    """How long ago the customer last wrote, from ``reply_context["last_inbound_at"]`` (ISO UTC,
    set by the core); None when the core did not say or said something unreadable."""
    value = msg.reply_context.get("last_inbound_at")
    if not value:
        return None
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        logger.warning("unreadable last_inbound_at", extra={"value": value[:40]})
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return utcnow() - when


def refused(error: str) -> SendResult:
    """A send we do not attempt: Meta would refuse it for the same reason."""
    return SendResult(status="failed", error=error, retryable=False)


# ================================================================================================
# The shared adapter
# ================================================================================================


class MetaAdapter(ChannelAdapter):
    """What the three Meta platforms share: the hub handshake, the signature, the envelope, the
    account lookup by asset id, and the Graph API call. Subclasses parse their entries and build
    their send request."""

    #: the webhook's ``object`` value for this platform
    object_type: ClassVar[str]
    #: the credential naming the platform asset an account stands for (phone number, page, IG account)
    asset_field: ClassVar[str]
    #: the credential holding the Graph API token
    token_field: ClassVar[str]

    # ---- inbound -------------------------------------------------------------------------------
    def handshake(self, req: WebhookRequest, creds: Mapping[str, str]) -> Response | None:
        if req.method == "POST":
            return None
        if req.method != "GET":
            raise MethodNotAllowed(f"{req.method} not supported")
        return hub_challenge(req, creds["verify_token"])

    def verify(self, req: WebhookRequest, creds: Mapping[str, str]) -> None:
        check_hub_signature(req.header(SIGNATURE_HEADER), creds["app_secret"], req.body)

    def parse(self, req: WebhookRequest, creds: Mapping[str, str]) -> Iterable[InboundMessage]:
        envelope = jf.obj(req.json(), "body")
        kind = envelope.get("object")
        if kind != self.object_type:
            # One callback URL per object in the app dashboard: another object here is a setup mistake.
            raise BadRequest(f"object {kind!r} is not {self.object_type!r}: check the callback URL")
        if not isinstance(envelope.get("entry"), list):
            raise BadRequest("entry is not a list")
        return [m for entry in items(envelope, "entry") for m in self.parse_entry(entry, req, creds)]

    def parse_entry(
        self, entry: dict[str, Any], req: WebhookRequest, creds: Mapping[str, str]
    ) -> Iterator[InboundMessage]:
        raise NotImplementedError

    def account_for(self, asset_id: str | None, req: WebhookRequest, creds: Mapping[str, str]) -> str:
        """Our account for a Meta asset (phone number id, page id, Instagram account id).

        One Meta app has one callback URL per object, so every number or page subscribed to the app
        arrives at the same URL: the account is the one configured with that asset id. Only accounts
        sharing the verifying account's app secret qualify (another app's account could not have
        been signed for here). Unknown assets fall back to the URL's account, so no customer message
        is lost, and are logged: replies to them fail until the asset is configured.
        """
        fallback = self.account_of(req)
        if asset_id is None or creds.get(self.asset_field) == asset_id:
            return fallback
        from chalicelib.channels.credentials import channel_accounts

        for name, account in channel_accounts(self.name).items():
            if (
                isinstance(account, dict)
                and account.get(self.asset_field) == asset_id
                and account.get("app_secret") == creds.get("app_secret")
            ):
                return str(name)
        logger.warning("delivery for an unconfigured asset", extra={"asset": asset_id, "account": fallback})
        return fallback

    # ---- outbound ------------------------------------------------------------------------------
    def send(self, msg: OutboundMessage, creds: Mapping[str, str], http: Transport) -> SendResult:
        prepared = self.prepare(msg, creds)
        if isinstance(prepared, SendResult):
            return prepared
        url, payload = prepared
        call = HttpCall(
            "POST",
            url,
            headers={
                "authorization": f"Bearer {creds[self.token_field]}",
                "content-type": "application/json",
            },
            json=payload,
        )
        return deliver(lambda: http.call(call), self._send_result)

    def _send_result(self, reply: HttpReply) -> SendResult:
        data = reply.json() if reply.ok else None
        return send_result(reply, self.sent_id(data if isinstance(data, dict) else {}))

    def prepare(
        self, msg: OutboundMessage, creds: Mapping[str, str]
    ) -> tuple[str, dict[str, Any]] | SendResult:
        """The URL and JSON body of the send, or a refusal that needs no call."""
        raise NotImplementedError

    # ---- media ---------------------------------------------------------------------------------
    def fetch_media(self, creds: Mapping[str, str], attachment: Attachment, http: Transport) -> Media:
        """WhatsApp gives a media id: ``GET /{media-id}`` (Bearer token) answers a URL valid for
        5 minutes, downloaded with the same token. Messenger and Instagram give a CDN URL that
        works without a token until it expires."""
        auth = {"authorization": f"Bearer {creds[self.token_field]}"}
        media_id, url = attachment.media_id, attachment.url

        def attempt() -> HttpReply:
            if not media_id:
                return http.call(media_get(url or ""))
            found = http.call(HttpCall("GET", f"{GRAPH_URL}/{quote(media_id, safe='')}", headers=auth))
            data = found.json() if found.ok and not found.recorded else None
            if not isinstance(data, dict):
                return found  # an error (or the local stack's record) for download_media to tell
            if not isinstance(data.get("url"), str) or not data["url"]:
                raise MediaUnavailable(f"{self.name} gave no download URL for this media")
            return http.call(media_get(data["url"], headers=auth))

        if not media_id and not url:
            raise MediaUnavailable("the attachment names no file")
        return download_media(
            attempt,
            platform=self.name,
            name=attachment.name,
            mime_type=attachment.mime_type,
            refused=graph_refusal,
        )

    def sent_id(self, data: Mapping[str, Any]) -> str | None:
        """The platform's id for the message just sent, from the Graph API's answer."""
        raise NotImplementedError


# ================================================================================================
# Messenger and Instagram: entry[].messaging[] in, POST /me/messages out
# ================================================================================================

AttachmentKind = Literal["image", "file", "voice", "video"]
_ATTACHMENT_KINDS: dict[str, AttachmentKind] = {
    "image": "image",
    "audio": "voice",
    "video": "video",
    "file": "file",
}


def message_tag(age: timedelta | None) -> dict[str, str] | None:
    """How a reply may go out given the time since the customer's last message: a standard
    ``RESPONSE`` within 24 h (or when the core does not say), the ``HUMAN_AGENT`` tag up to 7 days
    (a person answering, which is what Omniflow is), and not at all after that (None)."""
    if age is None or age <= STANDARD_WINDOW:
        return {"messaging_type": "RESPONSE"}
    if age <= HUMAN_AGENT_WINDOW:
        return {"messaging_type": "MESSAGE_TAG", "tag": "HUMAN_AGENT"}
    return None


class MessagingAdapter(MetaAdapter):
    """Messenger and Instagram messaging (the Messenger Platform's ``messaging`` events)."""

    token_field = "page_access_token"
    # Standard 24 h window, extended to 7 days for human agents by the HUMAN_AGENT tag.
    reply_window = int(HUMAN_AGENT_WINDOW.total_seconds())

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A platform names its webhook object and its asset credential; the rest follows."""
        super().__init_subclass__(**kwargs)
        cls.credential_fields = ("app_secret", "verify_token", cls.token_field, cls.asset_field)

    def templates(self, creds: Mapping[str, Any]) -> list[dict[str, Any]]:
        """No WhatsApp-style templates here: past 7 days only the customer can reopen the thread."""
        return []

    # ---- inbound -------------------------------------------------------------------------------
    def parse_entry(
        self, entry: dict[str, Any], req: WebhookRequest, creds: Mapping[str, str]
    ) -> Iterator[InboundMessage]:
        # ``standby`` (another app owns the thread under the handover protocol) is not ours to answer.
        account = self.account_for(jf.opt_id(entry, "id"), req, creds)
        for event in items(entry, "messaging"):
            yield from self.parse_event(event, account)

    def parse_event(self, event: dict[str, Any], account: str) -> Iterator[InboundMessage]:
        sender = jf.req_id(jf.obj(event.get("sender"), "sender"), "id")
        if "message" in event:
            message = jf.obj(event["message"], "message")
            if message.get("is_echo") or message.get("is_deleted"):
                return  # our own sends (and the page inbox's) echoed back; a customer's unsend
            yield self._message(message, sender, account, meta_time(event, "timestamp", millis=True))
        elif "postback" in event:
            yield self._postback(jf.obj(event["postback"], "postback"), sender, account, event)
        elif "delivery" in event:
            delivery = jf.obj(event["delivery"], "delivery")
            # Delivery events carry a watermark (everything before it arrived), usually the mids,
            # and not always a timestamp of their own.
            stamped, key = (event, "timestamp") if "timestamp" in event else (delivery, "watermark")
            sent_at = meta_time(stamped, key, millis=True)
            for mid in jf.opt_list(delivery, "mids"):
                if isinstance(mid, str) and mid:
                    yield self._status(mid, "delivered", sender, account, sent_at)
        elif "read" in event:
            # Instagram names the message read; Messenger gives only a watermark (everything
            # before it was read), which names none of our messages and is skipped.
            mid = jf.opt_id(jf.obj(event["read"], "read"), "mid")
            if mid:
                yield self._status(mid, "read", sender, account, meta_time(event, "timestamp", millis=True))
        # Reactions, referrals, opt-ins, handover and policy events carry nothing an agent answers.

    def _status(self, mid: str, state: State, user: str, account: str, sent_at: datetime) -> InboundMessage:
        where = {"channel": self.name, "account": account, "user": user}
        return status_message(**where, platform_id=mid, state=state, sent_at=sent_at, error=None)

    def _message(
        self, message: dict[str, Any], sender: str, account: str, sent_at: datetime
    ) -> InboundMessage:
        text = jf.opt_str(message, "text") or ""
        attachments: list[Attachment] = []
        where: Location | None = None
        extra: list[str] = []
        for att in items(message, "attachments"):
            kind = jf.opt_str(att, "type") or "fallback"
            payload = member(att, "payload")
            url = jf.opt_str(payload, "url") or jf.opt_str(att, "url")
            if kind in _ATTACHMENT_KINDS:
                attachments.append(Attachment(kind=_ATTACHMENT_KINDS[kind], url=url))
            elif kind == "location" and "coordinates" in payload:
                where = location(member(payload, "coordinates"), "lat", "long", jf.opt_str(att, "title"))
            else:
                # Shares, story mentions, reels, link previews ("fallback"): what the agent can open.
                title = jf.opt_str(payload, "title") or jf.opt_str(att, "title")
                extra.append(" ".join(p for p in (f"[{kind}]", title, url) if p))
        if message.get("is_unsupported"):
            extra.append(f"[unsupported {self.name} message]")
        text = "\n".join(p for p in (text, *extra) if p)
        shape: MessageType = "text" if text or not attachments else attachments[0].kind
        return build(
            channel=self.name,
            account=account,
            channel_user_id=sender,
            type="location" if where else shape,
            text=text,
            attachments=tuple(attachments),
            location=where,
            platform_message_id=jf.req_id(message, "mid"),
            sent_at=sent_at,
        )

    def _postback(
        self, postback: dict[str, Any], sender: str, account: str, event: Mapping[str, Any]
    ) -> InboundMessage:
        """A button press (get started, persistent menu, template button, ice breaker)."""
        stamp = jf.req_id(event, "timestamp")
        # Recent API versions give postbacks a mid; older ones repeat the same sender and time.
        pid = jf.opt_id(postback, "mid") or f"postback#{sender}#{stamp}"
        return build(
            channel=self.name,
            account=account,
            channel_user_id=sender,
            type="event",
            event="postback",
            text=jf.opt_str(postback, "title") or jf.opt_str(postback, "payload") or "",
            platform_message_id=pid,
            sent_at=meta_time(event, "timestamp", millis=True),
        )

    # ---- outbound ------------------------------------------------------------------------------
    def prepare(
        self, msg: OutboundMessage, creds: Mapping[str, str]
    ) -> tuple[str, dict[str, Any]] | SendResult:
        if msg.template is not None:
            return refused(f"{self.name} has no message templates")
        how = message_tag(last_inbound_age(msg))
        if how is None:
            return refused(OUTSIDE_HUMAN_AGENT_TEXT)
        payload = {"recipient": {"id": msg.channel_user_id}, **how, "message": {"text": msg.text}}
        return f"{GRAPH_URL}/me/messages", payload

    def sent_id(self, data: Mapping[str, Any]) -> str | None:
        value = data.get("message_id")
        return value if isinstance(value, str) else None
