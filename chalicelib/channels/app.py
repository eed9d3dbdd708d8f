"""The company's own mobile app and mini-sites: the ``app`` channel, a documented JSON API.

    POST /webhooks/app[/<account>]                              a user wrote (one message or a batch)
    GET  /webhooks/app[/<account>]/messages?user=<id>&after=<iso>   that user's thread, agent replies included

The caller is the company's *backend* (never the app binary: the secret would leak). It signs every
request with one of the account's keys::

    X-Omniflow-Key:        <key id>            (the secret's "keys" map: several ids, for rotation)
    X-Omniflow-Timestamp:  <unix seconds>      (within ±300 s of our clock, else 401)
    X-Omniflow-Nonce:      <16-64 of [A-Za-z0-9_-]>, used once (a replay gets 409)
    X-Omniflow-Signature:  hex HMAC-SHA256(secret, timestamp + "\\n" + nonce + "\\n" + payload)

where payload is the raw body for POST and the raw query string for GET. The nonce is claimed with a
conditional put in the state table (``nonce#app#<account>#<nonce>``, TTL ``expires_at`` 600 s, longer
than the timestamp window, so a nonce cannot come back once its record expires).

The backend vouches for its logged-in users: ``user.id`` becomes a verified ``external_id`` (scoped by
account, so the same account name on the web channel's signed identities links the same people),
and ``user.phone`` / ``user.email`` count as verified only when listed in ``user.verified``.

Replies: the app has no push API here, so ``mailbox = True`` (like web) and the backend polls GET
messages. If the account's secret has a ``callback_url``, each reply is also POSTed there, signed the
same way, so the backend can push a notification at once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import time
from collections.abc import Iterable
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from typing import Literal

from chalicelib.channels.base import BadRequest
from chalicelib.channels.base import ChannelAdapter
from chalicelib.channels.base import MethodNotAllowed
from chalicelib.channels.base import NotFound
from chalicelib.channels.base import Response
from chalicelib.channels.base import Unauthorized
from chalicelib.channels.base import WebhookError
from chalicelib.channels.base import WebhookRequest
from chalicelib.channels.base import constant_time_equals
from chalicelib.channels.base import deliver
from chalicelib.channels.transport import HttpCall
from chalicelib.channels.transport import HttpReply
from chalicelib.channels.transport import Transport
from chalicelib.messages import Attachment
from chalicelib.messages import CustomerHints
from chalicelib.messages import HintField
from chalicelib.messages import InboundMessage
from chalicelib.messages import Location
from chalicelib.messages import MessageType
from chalicelib.messages import OutboundMessage
from chalicelib.messages import SendResult
from chalicelib.messages import utcnow

CLOCK_SKEW_SECONDS = 300
NONCE_TTL_SECONDS = 600  # > 2 × the skew window: an expired nonce's timestamp is already refused
MAX_BATCH = 50
MAX_TEXT = 4000
MAX_URL = 2048
ACTION_MESSAGES = "messages"

# Ids end up inside identity and mailbox keys ("app#<account>#<user>"): no "#", no whitespace.
_ID = re.compile(r"^[A-Za-z0-9_.:@+-]{1,128}$")
_KEY_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
_TIMESTAMP = re.compile(r"^\d{1,12}$")
_SIGNATURE = re.compile(r"^[0-9a-fA-F]{64}$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
_MIME = re.compile(r"^[\w.+-]{1,64}/[\w.+-]{1,128}$")

MediaKind = Literal["image", "file", "voice", "video"]
_MEDIA: tuple[MediaKind, ...] = ("image", "file", "voice", "video")
_VERIFIABLE: tuple[HintField, ...] = ("phone", "email")


class NonceReused(WebhookError):
    """The request's nonce was seen before: a replay, or a client resending a signed request
    as is. Distinct from 401 so an honest client knows to sign again (fresh nonce and timestamp)
    rather than suspect its key; message ids make that resend safe."""

    status, code = 409, "nonce_reused"


def sign(secret: str, timestamp: str, nonce: str, payload: bytes) -> str:
    """The signature both sides compute: hex HMAC-SHA256 over ``timestamp\\nnonce\\npayload``."""
    message = timestamp.encode() + b"\n" + nonce.encode() + b"\n" + payload
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def account_keys(creds: Mapping[str, Any]) -> dict[str, str]:
    """``keys`` from the account's secret: ``{key id: secret}``. Accepted as an object or as its
    JSON text (secret editors and environment overrides sometimes flatten nested values)."""
    keys: Any = creds.get("keys")
    if isinstance(keys, str):
        try:
            keys = json.loads(keys)
        except ValueError:
            return {}
    if not isinstance(keys, dict):
        return {}
    return {k: v for k, v in keys.items() if isinstance(k, str) and isinstance(v, str) and v}


def claim_nonce(account: str, nonce: str, now: float) -> None:
    """Record ``nonce`` as used (conditional put in the state table); NonceReused if it was."""
    from botocore.exceptions import ClientError

    from chalicelib.aws import client
    from chalicelib.config import settings

    try:
        client("dynamodb").put_item(
            TableName=settings().table("state"),
            Item={
                "key": {"S": f"nonce#app#{account}#{nonce}"},
                "expires_at": {"N": str(int(now) + NONCE_TTL_SECONDS)},
            },
            ConditionExpression="attribute_not_exists(#k)",
            ExpressionAttributeNames={"#k": "key"},
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
            raise NonceReused("nonce already used: sign the request again with a new nonce") from exc
        raise


def _text(value: Any, limit: int, what: str) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > limit:
        raise BadRequest(f"{what} must be a string of at most {limit} characters")
    return value.strip() or None


def _id(value: Any, what: str) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise BadRequest(f"{what} must be 1..128 of [A-Za-z0-9_.:@+-]")
    return value


def _object(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise BadRequest(f"{what} must be a JSON object")
    return value


def _number(value: Any, low: float, high: float, what: str) -> float:
    # bool is an int in Python; true/false are not coordinates.
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise BadRequest(f"{what} must be a number in [{low}, {high}]")
    return float(value)


def _sent_at(value: Any) -> datetime:
    if value is None:
        return utcnow()
    if not isinstance(value, str) or len(value) > 40:
        raise BadRequest("sent_at must be an ISO-8601 timestamp with a time zone")
    try:
        ts = datetime.fromisoformat(value)
    except ValueError as exc:
        raise BadRequest("sent_at must be an ISO-8601 timestamp with a time zone") from exc
    if ts.tzinfo is None:  # a local time of unknown zone would misorder the thread
        raise BadRequest("sent_at must carry a time zone (Z or ±hh:mm)")
    return ts


def user_hints(user: Mapping[str, Any]) -> CustomerHints:
    """What the company's backend says about its logged-in user. Pure.

    ``id`` is always verified (the backend authenticated the user); ``phone`` and ``email`` only
    when listed in ``verified``: a number typed into a profile form must not merge two customers.
    """
    user_id = _id(user.get("id"), "user.id")
    name = _text(user.get("name"), 80, "user.name")
    phone = _text(user.get("phone"), 16, "user.phone")
    if phone and not _E164.match(phone):
        raise BadRequest("user.phone must be E.164 (+<country><number>)")
    email = _text(user.get("email"), 320, "user.email")
    if email:
        if not _EMAIL.match(email):
            raise BadRequest("user.email is not an e-mail address")
        email = email.lower()
    listed = user.get("verified") or []
    if not isinstance(listed, list) or any(v not in _VERIFIABLE for v in listed):
        raise BadRequest('user.verified must be a list of "phone" and/or "email"')
    present = {"phone": phone, "email": email}
    if any(not present[v] for v in listed):
        raise BadRequest("user.verified lists a field the user object does not carry")
    verified: tuple[HintField, ...] = ("external_id", *(f for f in _VERIFIABLE if f in listed))
    return CustomerHints(display_name=name, phone=phone, email=email, external_id=user_id, verified=verified)


def inbound_message(item: Mapping[str, Any], account: str) -> InboundMessage:
    """One ``{"user", "message", "sent_at"?}`` entry as a normalized message. Pure; BadRequest
    on anything malformed, so a bad entry refuses the whole request and nothing is enqueued."""
    user = _object(item.get("user"), "user")
    message = _object(item.get("message"), "message")
    hints = user_hints(user)
    user_id = str(hints.external_id)
    message_id = _id(message.get("id"), "message.id")
    kind = message.get("type", "text")
    text = _text(message.get("text"), MAX_TEXT, "message.text") or ""
    attachments: tuple[Attachment, ...] = ()
    location = None
    msg_type: MessageType
    if kind == "text":
        if not text:
            raise BadRequest("a text message needs message.text")
        msg_type = "text"
    elif kind in _MEDIA:
        msg_type = kind
        attachments = (_attachment(kind, message),)
    elif kind == "location":
        msg_type = "location"
        location = Location(
            latitude=_number(message.get("latitude"), -90, 90, "message.latitude"),
            longitude=_number(message.get("longitude"), -180, 180, "message.longitude"),
            label=_text(message.get("label"), 200, "message.label"),
        )
    else:
        raise BadRequest("message.type must be text, image, file, voice, video or location")
    return InboundMessage(
        channel="app",
        account=account,
        channel_user_id=user_id,
        hints=hints,
        type=msg_type,
        text=text,
        attachments=attachments,
        location=location,
        # Scoped by user: an app numbering messages per user (1, 2, 3 …) must not have one
        # user's message dropped as a duplicate of another's. "/" is in neither id's alphabet.
        platform_message_id=f"{user_id}/{message_id}",
        sent_at=_sent_at(item.get("sent_at")),
    )


def _attachment(kind: MediaKind, message: Mapping[str, Any]) -> Attachment:
    url = message.get("url")
    if not isinstance(url, str) or len(url) > MAX_URL or not url.startswith("https://"):
        raise BadRequest(f"a {kind} message needs message.url (https, at most {MAX_URL} characters)")
    mime = _text(message.get("mime_type"), 200, "message.mime_type")
    if mime and not _MIME.match(mime):
        raise BadRequest("message.mime_type is not a media type")
    size = message.get("size")
    if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
        raise BadRequest("message.size must be a non-negative integer")
    return Attachment(
        kind=kind, url=url, name=_text(message.get("name"), 255, "message.name"), mime_type=mime, size=size
    )


class AppAdapter(ChannelAdapter):
    name = "app"
    credential_fields = ("keys",)
    mailbox = True

    # ---- routing ---------------------------------------------------------------------------------
    def account_of(self, req: WebhookRequest) -> str:
        parts = req.path_parts
        if parts and parts[-1] == ACTION_MESSAGES:
            parts = parts[:-1]
        return parts[0] if parts else "default"

    def route(self, req: WebhookRequest, creds: Mapping[str, str]) -> Response | None:
        parts = req.path_parts
        reading = bool(parts) and parts[-1] == ACTION_MESSAGES
        if len(parts) > (2 if reading else 1):
            raise NotFound("no such app endpoint")
        if not reading:
            if req.method != "POST":
                raise MethodNotAllowed("POST messages here; GET …/messages reads a thread")
            return None  # the user wrote: verify → parse → dedupe → enqueue
        if req.method != "GET":
            raise MethodNotAllowed("GET a thread here; POST messages to /webhooks/app[/<account>]")
        self.verify(req, creds)
        user_id = _id(req.query.get("user"), "user")
        from chalicelib.channels import mailbox

        messages = mailbox.thread(self.name, self.account_of(req), user_id, req.query.get("after"))
        return Response.json({"user": user_id, "messages": messages})

    # ---- authentication --------------------------------------------------------------------------
    def verify(self, req: WebhookRequest, creds: Mapping[str, str]) -> None:
        """Key id → secret, timestamp window, signature, then the nonce (last: only a signed
        request may spend a write on the state table)."""
        key_id = req.header("x-omniflow-key")
        timestamp = req.header("x-omniflow-timestamp")
        nonce = req.header("x-omniflow-nonce")
        signature = req.header("x-omniflow-signature")
        if not (key_id and timestamp and nonce and signature):
            raise Unauthorized(
                "X-Omniflow-Key, X-Omniflow-Timestamp, X-Omniflow-Nonce and X-Omniflow-Signature are required"
            )
        secret = account_keys(creds).get(key_id) if _KEY_ID.match(key_id) else None
        if secret is None:
            raise Unauthorized("unknown X-Omniflow-Key")
        if not _TIMESTAMP.match(timestamp):
            raise Unauthorized("X-Omniflow-Timestamp must be unix seconds")
        now = time.time()
        if abs(now - int(timestamp)) > CLOCK_SKEW_SECONDS:
            raise Unauthorized(f"X-Omniflow-Timestamp is more than {CLOCK_SKEW_SECONDS} s off")
        if not _NONCE.match(nonce):
            raise Unauthorized("X-Omniflow-Nonce must be 16..64 of [A-Za-z0-9_-]")
        if not _SIGNATURE.match(signature):
            raise Unauthorized("X-Omniflow-Signature must be 64 hex digits")
        expected = sign(secret, timestamp, nonce, self._signed_payload(req))
        if not constant_time_equals(signature.lower(), expected):
            raise Unauthorized("X-Omniflow-Signature does not match")
        claim_nonce(self.account_of(req), nonce, now)

    @staticmethod
    def _signed_payload(req: WebhookRequest) -> bytes:
        """The raw body for POST; for GET the raw query string exactly as sent (the pipeline
        appends API Gateway's rawQueryString, percent-encoding intact, to ``req.url``)."""
        if req.method == "GET":
            return req.url.partition("?")[2].encode()
        return req.body

    # ---- inbound ---------------------------------------------------------------------------------
    def parse(self, req: WebhookRequest, creds: Mapping[str, str]) -> Iterable[InboundMessage]:
        data = _object(req.json(), "the body")
        if "messages" in data:
            items = data["messages"]
            if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH:
                raise BadRequest(f"messages must be a list of 1..{MAX_BATCH} entries")
        else:
            items = [data]
        account = self.account_of(req)
        return [inbound_message(_object(item, "each entry"), account) for item in items]

    def acknowledge(self, req: WebhookRequest, accepted: list[InboundMessage]) -> Response:
        ids = [m.platform_message_id.split("/", 1)[1] for m in accepted]
        return Response.json({"accepted": len(accepted), "message_ids": ids}, 202)

    # ---- outbound --------------------------------------------------------------------------------
    def send(self, msg: OutboundMessage, creds: Mapping[str, str], http: Transport) -> SendResult:
        """The reply is already in the user's mailbox (the core stored it with a mailbox key). With
        a ``callback_url``, also push it to the company's backend, signed like inbound requests."""
        url = creds.get("callback_url")
        if not url:
            return SendResult(status="sent", platform_message_id=msg.message_id)
        if not isinstance(url, str) or not url.startswith("https://"):
            return SendResult(status="failed", error="callback_url must be an https URL")
        keys = account_keys(creds)
        key_id = creds.get("callback_key") or (next(iter(keys)) if len(keys) == 1 else "")
        if key_id not in keys:
            return SendResult(status="failed", error="callback_key must name one of the account's keys")
        body = callback_body(msg)
        timestamp, nonce = str(int(time.time())), secrets.token_hex(16)
        headers = {
            "content-type": "application/json; charset=utf-8",
            "x-omniflow-key": key_id,
            "x-omniflow-timestamp": timestamp,
            "x-omniflow-nonce": nonce,
            "x-omniflow-signature": sign(keys[key_id], timestamp, nonce, body),
        }
        return deliver(
            lambda: http.call(HttpCall("POST", url, headers=headers, data=body)),
            lambda reply: _callback_result(reply, msg),
            local=SendResult(status="sent_local", platform_message_id=msg.message_id),
        )


def callback_body(msg: OutboundMessage) -> bytes:
    """What the company's backend receives for an agent reply (the same shape as a thread entry,
    plus who it is for). ``message.id`` is stable across our retries: dedupe on it."""
    from chalicelib.messages import iso

    data = {
        "event": "message.reply",
        "account": msg.account,
        "user": {"id": msg.channel_user_id},
        "message": {
            "id": msg.message_id,
            "conversation_id": msg.conversation_id,
            "direction": "out",
            "type": msg.type,
            "text": msg.text,
            "created_at": iso(msg.created_at),
        },
    }
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


def _callback_result(reply: HttpReply, msg: OutboundMessage) -> SendResult:
    """2xx sent; 429 and 5xx worth retrying; other answers final (the reply stays in the mailbox)."""
    if reply.ok:
        return SendResult(status="sent", platform_message_id=msg.message_id)
    retryable = reply.status == 429 or reply.status >= 500
    return SendResult(status="failed", error=f"callback answered HTTP {reply.status}", retryable=retryable)


ADAPTER = AppAdapter()
