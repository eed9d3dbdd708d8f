"""What a channel module supplies, and the HTTP primitives the webhook pipeline hands it.

A channel is one ``ChannelAdapter`` subclass in ``chalicelib/channels/<name>.py``. It only says what
differs between platforms: how the handshake works, how a request is authenticated, how the body
becomes ``InboundMessage``s, what the platform wants as an answer, and how a reply is sent. The
common steps (size limit, credentials, dedupe, enqueue, error mapping, logging) live once in
``pipeline.py``; the sending loop lives once in ``chalicelib/outbound``.
"""

from __future__ import annotations

import base64
import hmac
import json
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import ClassVar
from typing import TypedDict

from chalicelib.channels.transport import HttpReply
from chalicelib.channels.transport import Media
from chalicelib.channels.transport import MediaUnavailable
from chalicelib.channels.transport import TokenError
from chalicelib.channels.transport import TransportError
from chalicelib.messages import Attachment
from chalicelib.messages import DeliveryStatus
from chalicelib.messages import InboundMessage
from chalicelib.messages import Location
from chalicelib.messages import MessageType
from chalicelib.messages import OutboundMessage
from chalicelib.messages import SendResult


class WebhookError(Exception):
    """A request we refuse. Maps to a clear 4xx; nothing is enqueued."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.code)
        self.message = message or self.code


class BadRequest(WebhookError):
    status, code = 400, "bad_request"


class Unauthorized(WebhookError):
    status, code = 401, "unauthorized"


class Forbidden(WebhookError):
    status, code = 403, "forbidden"


class NotFound(WebhookError):
    status, code = 404, "not_found"


class MethodNotAllowed(WebhookError):
    status, code = 405, "method_not_allowed"


class PayloadTooLarge(WebhookError):
    status, code = 413, "payload_too_large"


class RetryLater(WebhookError):
    """The same delivery is being processed right now; the platform should retry."""

    status, code = 429, "retry_later"


@dataclass(frozen=True)
class WebhookRequest:
    """An API Gateway HTTP API (payload v2) request, reduced to what channels need."""

    method: str
    channel: str
    path_parts: tuple[str, ...]  # path segments after /webhooks/<channel>
    headers: Mapping[str, str]  # lower-cased names
    query: Mapping[str, str]
    body: bytes  # raw bytes: signatures are computed over these, never over re-serialized data
    url: str  # the public URL the platform called (Twilio signs it)
    source_ip: str = ""

    @property
    def account(self) -> str:
        """Default account naming: ``/webhooks/<channel>/<account>``, else ``default``."""
        return self.path_parts[0] if self.path_parts else "default"

    def header(self, name: str, default: str = "") -> str:
        return self.headers.get(name.lower(), default)

    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: "[[[[…"
            raise BadRequest("body is not valid JSON") from exc

    def form(self) -> dict[str, str]:
        from urllib.parse import parse_qsl

        try:
            pairs = parse_qsl(self.body.decode("utf-8"), keep_blank_values=True, strict_parsing=False)
        except UnicodeDecodeError as exc:
            raise BadRequest("form body is not UTF-8") from exc
        return dict(pairs)


@dataclass
class Response:
    status: int = 200
    body: str = ""
    headers: dict[str, str] = field(default_factory=lambda: {"content-type": "text/plain; charset=utf-8"})

    @classmethod
    def json(cls, data: Any, status: int = 200) -> Response:
        return cls(status, json.dumps(data, ensure_ascii=False), {"content-type": "application/json"})

    @classmethod
    def text(cls, body: str, status: int = 200, content_type: str = "text/plain; charset=utf-8") -> Response:
        return cls(status, body, {"content-type": content_type})

    def to_event(self) -> dict[str, Any]:
        return {
            "statusCode": self.status,
            "headers": self.headers,
            "body": self.body,
            "isBase64Encoded": False,
        }


def constant_time_equals(a: str | bytes, b: str | bytes) -> bool:
    a_b = a.encode() if isinstance(a, str) else a
    b_b = b.encode() if isinstance(b, str) else b
    return hmac.compare_digest(a_b, b_b)


def b64_hmac(key: bytes, data: bytes, digestmod: str) -> str:
    return base64.b64encode(hmac.new(key, data, digestmod).digest()).decode()


def verify_header(req: WebhookRequest, name: str, expected: str | Callable[[str], bool]) -> None:
    """Authenticate a request by the one header carrying its signature or shared secret:
    Unauthorized (401) when it is missing, Forbidden (403) unless it equals ``expected`` (compared
    in constant time) or, for a callable, ``expected(value)`` is true (which must compare in
    constant time itself)."""
    shown = "-".join(part[:1].upper() + part[1:] for part in name.split("-"))  # as platforms spell it
    given = req.header(name)
    if not given:
        raise Unauthorized(f"missing {shown}")
    if not (expected(given) if callable(expected) else constant_time_equals(given, expected)):
        raise Forbidden(f"{shown} does not match")


def deliver(
    attempt: Callable[[], HttpReply],
    result: Callable[[HttpReply], SendResult],
    *,
    unreachable: str | None = None,
    local: SendResult | None = None,
) -> SendResult:
    """The tail every channel's ``send`` shares: make the platform call(s) in ``attempt``, then

    - a network failure → failed, retryable (the outbound queue tries again); ``unreachable``
      names the platform instead of the URL when the URL holds a secret (Telegram's bot token);
    - no access token to be had → failed, retryable as the token cache says;
    - a call the local stack recorded → ``local`` (default ``sent_local``);
    - otherwise the platform's answer as the channel's ``result`` maps it.
    """

    try:
        reply = attempt()
    except TokenError as exc:
        return SendResult(status="failed", error=str(exc), retryable=exc.retryable)
    except TransportError as exc:
        cause = type(exc.__cause__).__name__
        error = f"{unreachable} unreachable ({cause})" if unreachable else str(exc)
        return SendResult(status="failed", error=error, retryable=True)
    if reply.recorded:
        return local or SendResult(status="sent_local")
    return result(reply)


class Content(TypedDict, total=False):
    """What a channel's normalizer reads out of one platform message: the InboundMessage fields
    that differ by message type (the rest — who, when, ids — each channel fills in once)."""

    type: MessageType
    text: str
    attachments: tuple[Attachment, ...]
    location: Location
    event: str
    status: DeliveryStatus


class ChannelAdapter:
    """Base class for a channel. Override what the platform does differently."""

    name: ClassVar[str]
    #: which fields the channel's secret must hold for an account (checked when credentials load)
    credential_fields: ClassVar[tuple[str, ...]] = ()
    #: True when the channel has no push API and its client polls a mailbox instead (website chat):
    #: the core then indexes the conversation's messages for that client (messages.by_mailbox).
    mailbox: ClassVar[bool] = False
    #: True when ``parse`` already put its messages on the inbound queue (WeCom pulls page by page
    #: and enqueues each page before it moves its cursor): the pipeline then sends nothing again.
    enqueues_itself: ClassVar[bool] = False
    #: what answers below ``/webhooks/<channel>``: the root itself (``()``), or these sub-paths only
    #: (the website chat's visitor API); the local stack's banner lists them
    endpoints: ClassVar[tuple[str, ...]] = ()
    #: Seconds after the customer's last message on this channel during which free-text replies
    #: are allowed (WeChat 48 h, WhatsApp/Messenger 24 h); None = no window. Outside it the agent
    #: API refuses free text and offers the account's ``templates`` instead.
    reply_window: ClassVar[int | None] = None
    #: Replies allowed per customer message inside the window (WeCom kf: 5); None = unlimited.
    replies_per_inbound: ClassVar[int | None] = None
    #: False for channels an agent cannot write to (voice: replies are spoken on the call).
    can_reply: ClassVar[bool] = True

    def templates(self, creds: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Approved templates an agent may send outside the reply window: the account secret's
        ``templates`` list of ``{"name", "language", "params": n, "preview"}``."""
        value = creds.get("templates") or []
        return [t for t in value if isinstance(t, dict) and t.get("name")] if isinstance(value, list) else []

    # ---- inbound -------------------------------------------------------------------------------
    def account_of(self, req: WebhookRequest) -> str:
        return req.account

    def route(self, req: WebhookRequest, creds: Mapping[str, str]) -> Response | None:
        """Channel-specific endpoints that are not message deliveries (e.g. a web visitor's session
        API). Return None to fall through to the standard verify → parse → enqueue pipeline."""
        return None

    def handshake(self, req: WebhookRequest, creds: Mapping[str, str]) -> Response | None:
        """Answer the platform's URL verification (e.g. WeChat's GET echostr). None if not one."""
        if req.method != "POST":
            raise MethodNotAllowed(f"{req.method} not supported")
        return None

    def verify(self, req: WebhookRequest, creds: Mapping[str, str]) -> None:
        """Raise Unauthorized/Forbidden unless the request is authentically from the platform."""
        raise NotImplementedError

    def parse(self, req: WebhookRequest, creds: Mapping[str, str]) -> Iterable[InboundMessage]:
        """Turn a verified request into normalized messages. Raise BadRequest on malformed input."""
        raise NotImplementedError

    def acknowledge(self, req: WebhookRequest, accepted: list[InboundMessage]) -> Response:
        """What the platform expects back once its delivery is safely queued."""
        return Response.json({"accepted": len(accepted)})

    # ---- outbound ------------------------------------------------------------------------------
    def send(self, msg: OutboundMessage, creds: Mapping[str, str], http: Any) -> SendResult:
        """Send one reply through the platform's API using ``http`` (a ``Transport``)."""
        raise NotImplementedError

    # ---- media ---------------------------------------------------------------------------------
    def fetch_media(self, creds: Mapping[str, str], attachment: Attachment, http: Any) -> Media:
        """Download a file the customer sent (``attachment.media_id`` or ``url``) with the account's
        credentials through ``http`` (a ``Transport``), ending in ``transport.download_media``.
        Raises MediaUnavailable; by default the channel cannot fetch media at all."""
        raise MediaUnavailable(f"{self.name} attachments cannot be fetched")
