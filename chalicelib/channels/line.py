"""LINE Official Accounts (Messaging API): the ``line`` channel, in and out.

Inbound, LINE POSTs ``{"destination", "events": [...]}`` to ``/webhooks/line[/<account>]`` with
``x-line-signature`` = base64 HMAC-SHA256(channel secret, raw body): missing → 401, wrong → 403.
The console's "Verify" button sends a signed body with no events; it gets a 200 and nothing is
queued. One delivery may carry several events; each becomes at most one ``InboundMessage``,
deduplicated on ``webhookEventId`` (the id LINE keeps when it redelivers an event):

- ``message``: text, image, video, audio (voice), file, location, sticker (text ``[sticker]``);
- ``follow`` / ``unfollow`` (the customer added or blocked the account), ``postback`` (a button's
  ``data``) and ``unsend`` (the customer took a message back) as events;
- events in ``standby`` mode (another module channel owns the chat) and every other event type
  (join, leave, beacon …) are acknowledged and dropped.

``channel_user_id`` is ``source.userId``. A message from a group or room also records that chat in
``reply_context["to"]``, so the reply goes back to the group rather than privately.

Outbound: LINE has two send APIs. The **reply** API is free but needs the event's ``replyToken``,
which is single-use and expires about a minute after the webhook; the **push** API works any time
but counts against the account's monthly message quota. So a reply uses the reply token while it is
fresh (``reply_context`` keeps it with the event's timestamp), and otherwise — or when LINE answers
"Invalid reply token" (already used, e.g. by an earlier agent reply) — falls back to push once. A
push carries ``X-Line-Retry-Key``, a UUID derived from our message id, so a push retried from the
queue after a timeout is accepted by LINE at most once (it answers 409 to the repeat).

Credentials per account: ``channel_secret`` and ``channel_access_token`` (a long-lived token
issued in the LINE Developers console).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterable
from collections.abc import Mapping
from typing import Any
from typing import Literal
from urllib.parse import quote

from pydantic import ValidationError

from chalicelib.channels import json_fields as jf
from chalicelib.channels.base import BadRequest
from chalicelib.channels.base import ChannelAdapter
from chalicelib.channels.base import Content
from chalicelib.channels.base import WebhookRequest
from chalicelib.channels.base import b64_hmac
from chalicelib.channels.base import deliver
from chalicelib.channels.base import verify_header
from chalicelib.channels.transport import HttpCall
from chalicelib.channels.transport import HttpReply
from chalicelib.channels.transport import Media
from chalicelib.channels.transport import MediaUnavailable
from chalicelib.channels.transport import Transport
from chalicelib.channels.transport import download_media
from chalicelib.channels.transport import json_post
from chalicelib.channels.transport import media_get
from chalicelib.messages import Attachment
from chalicelib.messages import InboundMessage
from chalicelib.messages import Location
from chalicelib.messages import MessageType
from chalicelib.messages import OutboundMessage
from chalicelib.messages import SendResult

CHANNEL = "line"
API_BASE = "https://api.line.me/v2/bot"
REPLY_URL = f"{API_BASE}/message/reply"
PUSH_URL = f"{API_BASE}/message/push"
#: Media content lives on a separate host: ``GET {DATA_URL}/message/<messageId>/content``.
DATA_URL = "https://api-data.line.me/v2/bot"
SIGNATURE_HEADER = "x-line-signature"
#: LINE documents reply tokens as usable for "about a minute"; 10 s of margin covers the queue,
#: the send itself and clock skew, after which we push instead of risking a refused reply.
REPLY_TOKEN_SECONDS = 50
MAX_TEXT = 5000
#: Namespace of the push retry keys: uuid5(namespace, our message id) is the same on every attempt.
RETRY_KEY_NAMESPACE = uuid.UUID("6f6d6e69-666c-6f77-2d6c-696e652d7075")
_INVALID_REPLY_TOKEN = "invalid reply token"
_MONTHLY_LIMIT = "monthly limit"

AttachmentKind = Literal["image", "file", "voice", "video"]
_MEDIA: dict[str, tuple[MessageType, AttachmentKind]] = {
    "image": ("image", "image"),
    "video": ("video", "video"),
    "audio": ("voice", "voice"),
    "file": ("file", "file"),
}


def signature(channel_secret: str, body: bytes) -> str:
    """LINE's ``x-line-signature``: base64 HMAC-SHA256 of the raw body under the channel secret."""
    return b64_hmac(channel_secret.encode("utf-8"), body, "sha256")


def retry_key(message_id: str) -> str:
    """The push ``X-Line-Retry-Key`` for one of our messages: a UUID that every retry repeats."""
    return str(uuid.uuid5(RETRY_KEY_NAMESPACE, message_id))


# ================================================================================================
# Inbound: webhook events → InboundMessage (pure)
# ================================================================================================


def _message_content(message: Mapping[str, Any]) -> Content:
    kind = jf.req_str(message, "type")
    message_id = jf.req_str(message, "id")
    if kind == "text":
        return {"type": "text", "text": jf.opt_str(message, "text") or ""}
    if kind in _MEDIA:
        msg_type, attachment_kind = _MEDIA[kind]
        provider = jf.opt_obj(message, "contentProvider") or {}
        # "line": fetch from api-data.line.me/v2/bot/message/<id>/content; "external": a public URL.
        url = jf.opt_str(provider, "originalContentUrl") if provider.get("type") == "external" else None
        attachment = Attachment(
            kind=attachment_kind,
            media_id=message_id,
            url=url,
            name=jf.opt_str(message, "fileName"),
            size=jf.opt_int(message, "fileSize"),
        )
        return {"type": msg_type, "attachments": (attachment,)}
    if kind == "location":
        label = ", ".join(p for p in (jf.opt_str(message, "title"), jf.opt_str(message, "address")) if p)
        where = Location(
            latitude=jf.coordinate(message, "latitude", 90),
            longitude=jf.coordinate(message, "longitude", 180),
            label=label or None,
        )
        return {"type": "location", "location": where}
    if kind == "sticker":
        return {"type": "text", "text": "[sticker]"}
    # Kept rather than dropped: an agent sees that the customer sent something we cannot show.
    return {"type": "text", "text": f"[unsupported LINE message type: {kind}]"}


def _event_content(event: Mapping[str, Any]) -> Content | None:
    kind = jf.req_str(event, "type")
    if kind == "message":
        return _message_content(jf.obj(event.get("message"), "message"))
    if kind in ("follow", "unfollow"):
        return {"type": "event", "event": kind}
    if kind == "postback":
        postback = jf.obj(event.get("postback"), "postback")
        return {"type": "event", "event": "postback", "text": jf.opt_str(postback, "data") or ""}
    if kind == "unsend":
        unsend = jf.obj(event.get("unsend"), "unsend")
        return {"type": "event", "event": "unsend", "text": jf.req_str(unsend, "messageId")}
    return None


def normalize_event(event: Mapping[str, Any], *, account: str) -> InboundMessage | None:
    """One webhook event as an InboundMessage, or None for events Omniflow does not handle."""
    if event.get("mode") == "standby":  # another module channel is handling this chat
        return None
    content = _event_content(event)
    if content is None:
        return None
    timestamp = jf.req_int(event, "timestamp")
    source = jf.obj(event.get("source"), "source")
    user_id = jf.opt_str(source, "userId")
    chat = jf.opt_str(source, "groupId") or jf.opt_str(source, "roomId")
    customer = user_id or chat
    if customer is None:
        raise BadRequest("source has no userId, groupId or roomId")
    context: dict[str, str] = {}
    if chat is not None:
        context["to"] = chat
    reply_token = jf.opt_str(event, "replyToken")
    delivery = jf.opt_obj(event, "deliveryContext") or {}
    # A redelivered event's reply token is stale by the time it arrives: replies will push.
    if reply_token is not None and delivery.get("isRedelivery") is not True:
        context["reply_token"] = reply_token
        context["reply_token_at"] = str(timestamp)
    try:
        return InboundMessage(
            channel=CHANNEL,
            account=account,
            channel_user_id=customer,
            platform_message_id=jf.req_str(event, "webhookEventId"),
            sent_at=jf.epoch(timestamp, millis=True),
            reply_context=context,
            **content,
        )
    except ValidationError as exc:
        raise BadRequest("event does not fit the normalized format") from exc


def fresh_reply_token(context: Mapping[str, str], now: float) -> str | None:
    """The reply token, if it is young enough to still be accepted (it is used at most once:
    LINE refuses a second use, and the sender then pushes)."""
    token, issued = context.get("reply_token"), context.get("reply_token_at")
    if not token or not issued or not issued.isdigit():
        return None
    age = now - int(issued) / 1000
    return token if -REPLY_TOKEN_SECONDS < age < REPLY_TOKEN_SECONDS else None


# ================================================================================================
# Outbound: reply while the token is fresh, else push
# ================================================================================================


def _call(
    url: str, access_token: str, payload: dict[str, Any], extra: Mapping[str, str] | None = None
) -> HttpCall:
    headers = {"authorization": f"Bearer {access_token}", **(extra or {})}
    return json_post(url, payload, headers=headers, content_type="application/json")


def _message_of(reply: HttpReply) -> str:
    data = reply.json()
    return str(data.get("message") or "") if isinstance(data, dict) else ""


def _is_invalid_reply_token(reply: HttpReply) -> bool:
    return reply.status == 400 and _INVALID_REPLY_TOKEN in _message_of(reply).lower()


def _send_result(reply: HttpReply) -> SendResult:
    """Map a reply/push answer. 2xx ``{"sentMessages": [{"id", "quoteToken"}]}``; errors
    ``{"message", "details"?}``."""
    if reply.ok:
        data = reply.json()
        sent = data.get("sentMessages") if isinstance(data, dict) else None
        first = sent[0] if isinstance(sent, list) and sent and isinstance(sent[0], dict) else {}
        message_id = first.get("id")
        return SendResult(status="sent", platform_message_id=str(message_id) if message_id else None)
    message = _message_of(reply) or f"HTTP {reply.status}"
    if reply.status == 409:  # this retry key was already accepted: an earlier attempt went out
        return SendResult(status="sent")
    if reply.status == 429:
        if _MONTHLY_LIMIT in message.lower():  # waiting minutes will not help; next month will
            return SendResult(status="failed", error="LINE monthly push message quota reached")
        return SendResult(status="failed", error="LINE rate limit", retryable=True)
    if reply.status >= 500:
        return SendResult(status="failed", error=f"LINE: {message}", retryable=True)
    if reply.status == 401:
        return SendResult(status="failed", error="LINE rejected the channel access token")
    return SendResult(status="failed", error=f"LINE: {message}")


def _media_refusal(reply: HttpReply) -> str | None:
    if reply.recorded:
        return None
    if reply.status == 202:  # video and audio are transcoded first
        return "LINE is still preparing this file: try again in a moment"
    if reply.status == 404:
        return "LINE no longer has this file (content is kept for a limited time)"
    if reply.status == 401:
        return "LINE rejected the channel access token"
    return None if reply.ok else f"LINE: {_message_of(reply) or f'HTTP {reply.status}'}"


class LineAdapter(ChannelAdapter):
    name = CHANNEL
    credential_fields = ("channel_secret", "channel_access_token")

    def verify(self, req: WebhookRequest, creds: Mapping[str, str]) -> None:
        verify_header(req, SIGNATURE_HEADER, signature(creds["channel_secret"], req.body))

    def parse(self, req: WebhookRequest, creds: Mapping[str, str]) -> Iterable[InboundMessage]:
        body = jf.obj(req.json(), "body")
        if not isinstance(body.get("events"), list):
            raise BadRequest("missing events")
        account = self.account_of(req)
        found = (normalize_event(jf.obj(e, "event"), account=account) for e in body["events"])
        return [msg for msg in found if msg is not None]

    def send(self, msg: OutboundMessage, creds: Mapping[str, str], http: Transport) -> SendResult:
        if len(msg.text) > MAX_TEXT:
            return SendResult(status="failed", error=f"longer than LINE's {MAX_TEXT} characters")
        token = creds["channel_access_token"]
        messages = [{"type": "text", "text": msg.text}]
        reply_token = fresh_reply_token(msg.reply_context, time.time())

        def attempt() -> HttpReply:
            if reply_token is not None:
                answer = http.call(_call(REPLY_URL, token, {"replyToken": reply_token, "messages": messages}))
                if answer.recorded or not _is_invalid_reply_token(answer):
                    return answer
            push = {"to": msg.reply_context.get("to") or msg.channel_user_id, "messages": messages}
            return http.call(_call(PUSH_URL, token, push, {"x-line-retry-key": retry_key(msg.message_id)}))

        return deliver(attempt, _send_result)

    def fetch_media(self, creds: Mapping[str, str], attachment: Attachment, http: Transport) -> Media:
        """``GET api-data.line.me/v2/bot/message/<messageId>/content`` with the channel access
        token; a file the sender's app hosts itself (``contentProvider: external``) from its URL."""
        if attachment.url:
            call = media_get(attachment.url)
        elif attachment.media_id:
            content = f"{DATA_URL}/message/{quote(attachment.media_id, safe='')}/content"
            call = media_get(content, headers={"authorization": f"Bearer {creds['channel_access_token']}"})
        else:
            raise MediaUnavailable("the attachment names no file")
        return download_media(
            lambda: http.call(call),
            platform="LINE",
            name=attachment.name,
            mime_type=attachment.mime_type,
            refused=_media_refusal,
        )


ADAPTER = LineAdapter()
