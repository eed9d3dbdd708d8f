"""Telegram bots: the ``telegram`` channel, in and out.

Inbound, Telegram POSTs one ``Update`` per request to the URL registered with ``setWebhook``
(``/webhooks/telegram[/<account>]``), with the ``secret_token`` given there echoed in the
``X-Telegram-Bot-Api-Secret-Token`` header. It is the only authentication Telegram offers (the body
is not signed), so the header is compared in constant time: missing → 401, wrong → 403.

What becomes an ``InboundMessage`` (one per update, deduplicated on ``update_id``, which Telegram
keeps when it retries a delivery we did not answer with a 2xx):

- ``message``: text, photo, document, voice/audio, video/video note/animation, location/venue,
  sticker (as text ``[sticker 😀]``), contact. A contact the user shares about *themselves*
  (``contact.user_id == from.id``) is Telegram's own "share my phone number" button, so its phone
  counts as verified; anyone else's contact card is shown to agents but links nobody.
- ``edited_message``: an ``event`` ``message_edited`` carrying the new text. An edit is not a new
  customer turn (it must not reopen a queue or restart an SLA clock), but the agent should see what
  the customer changed, in order, in the same thread.
- ``callback_query`` (an inline-keyboard button): an ``event`` ``callback_query`` with the button's
  ``data`` as text. Telegram shows a spinner on the button until the bot answers the query; we
  answer it for free in the webhook response (Telegram executes a Bot API method returned as the
  response body), so no extra API call is made.
- any other update type (polls, chat member changes …) is acknowledged and dropped: the
  ``setWebhook`` call below subscribes only to the three above.

``channel_user_id`` is the chat id (a private chat's id is the user's id), so replies go back to
the chat the customer wrote in; ``from`` gives the display name.

Outbound: ``POST https://api.telegram.org/bot<token>/sendMessage`` ``{chat_id, text}``. Bots may
write to a user who has started them at any time: no reply window.

Credentials per account: ``bot_token`` (from @BotFather) and ``secret_token`` (chosen by us,
1-256 characters ``A-Z a-z 0-9 _ -``, and passed to ``setWebhook``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from typing import Literal

from pydantic import ValidationError

from chalicelib.channels import json_fields as jf
from chalicelib.channels.base import BadRequest
from chalicelib.channels.base import ChannelAdapter
from chalicelib.channels.base import Content
from chalicelib.channels.base import Response
from chalicelib.channels.base import WebhookRequest
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
from chalicelib.messages import CustomerHints
from chalicelib.messages import InboundMessage
from chalicelib.messages import Location
from chalicelib.messages import OutboundMessage
from chalicelib.messages import SendResult
from chalicelib.messages import utcnow

CHANNEL = "telegram"
API_BASE = "https://api.telegram.org"
SECRET_HEADER = "x-telegram-bot-api-secret-token"
#: The update types Omniflow handles; ``setWebhook`` subscribes to exactly these.
ALLOWED_UPDATES = ("message", "edited_message", "callback_query")
#: Telegram's limit for one message's text (after entity parsing); longer replies are refused.
MAX_TEXT = 4096
#: What the local stack records in the URL instead of the bot token (the URL is shown to agents).
LOCAL_BOT_TOKEN = "local-bot-token"
_E164 = re.compile(r"\+[1-9]\d{6,14}")

AttachmentKind = Literal["image", "file", "voice", "video"]


def file_url(bot_token: str, file_path: str) -> str:
    """Where ``getFile``'s ``file_path`` is downloaded (valid for at least an hour; a secret too)."""
    return f"{API_BASE}/file/bot{bot_token}/{file_path}"


def _media_refusal(reply: HttpReply) -> str | None:
    """The Bot API's ``{"ok": false, "description"}`` (e.g. "file is too big": over 20 MB)."""
    if reply.ok or reply.recorded:
        return None
    if reply.status in (401, 404) and not reply.body.startswith(b"{"):
        return "Telegram rejected the bot token or no longer has the file"
    data = reply.json()
    description = data.get("description") if isinstance(data, dict) else None
    return f"Telegram: {description}" if description else f"Telegram answered HTTP {reply.status}"


def method_url(bot_token: str, method: str) -> str:
    """A Bot API method's URL. The token is part of the path, so this URL is a secret."""
    return f"{API_BASE}/bot{bot_token}/{method}"


def webhook_url(public_url: str, account: str = "default") -> str:
    """Our webhook URL for an account, from the webhook API's public base URL (a full webhook URL
    is accepted as it is)."""
    base = public_url.rstrip("/")
    if "/webhooks/" in base:
        return base
    return f"{base}/webhooks/{CHANNEL}" + ("" if account == "default" else f"/{account}")


def set_webhook_call(public_url: str, creds: Mapping[str, str], account: str = "default") -> HttpCall:
    """The one-time ``setWebhook`` call an operator makes to point the bot at Omniflow.

    Telegram then POSTs updates to our URL with ``secret_token`` in the
    ``X-Telegram-Bot-Api-Secret-Token`` header, and only the ``allowed_updates`` we handle. Run it
    again after changing the URL or the secret; ``make dev`` prints it.
    """
    return HttpCall(
        "POST",
        method_url(creds["bot_token"], "setWebhook"),
        json={
            "url": webhook_url(public_url, account),
            "secret_token": creds["secret_token"],
            "allowed_updates": list(ALLOWED_UPDATES),
        },
    )


# ================================================================================================
# Inbound: Update → InboundMessage (pure)
# ================================================================================================


def _file(data: Mapping[str, Any], kind: AttachmentKind) -> Attachment:
    return Attachment(
        kind=kind,
        media_id=jf.req_str(data, "file_id"),  # fetched on demand with getFile
        name=jf.opt_str(data, "file_name"),
        mime_type=jf.opt_str(data, "mime_type"),
        size=jf.opt_int(data, "file_size"),
    )


def _largest_photo(sizes: list[Any]) -> Attachment:
    """Telegram sends every resolution it made of one photo, smallest first; keep the largest."""
    photos = [jf.obj(p, "photo size") for p in sizes]
    if not photos:
        raise BadRequest("photo without sizes")
    best = max(photos, key=lambda p: (jf.opt_int(p, "width") or 0) * (jf.opt_int(p, "height") or 0))
    return _file(best, "image")


def normalize_phone(raw: str) -> str | None:
    """Telegram sends a contact's number as digits, usually without the ``+``: make it E.164."""
    digits = re.sub(r"[\s().-]", "", raw)
    candidate = digits if digits.startswith("+") else f"+{digits}"
    return candidate if _E164.fullmatch(candidate) else None


def _message_content(message: Mapping[str, Any]) -> Content:
    caption = jf.opt_str(message, "caption") or ""
    if (text := jf.opt_str(message, "text")) is not None:
        return {"type": "text", "text": text}
    if "photo" in message:
        return {
            "type": "image",
            "text": caption,
            "attachments": (_largest_photo(jf.opt_list(message, "photo")),),
        }
    # animation before document: Telegram sends a GIF as both, animation being the precise one
    if (animation := jf.opt_obj(message, "animation")) is not None:
        return {"type": "video", "text": caption, "attachments": (_file(animation, "video"),)}
    for key in ("video", "video_note"):
        if (video := jf.opt_obj(message, key)) is not None:
            return {"type": "video", "text": caption, "attachments": (_file(video, "video"),)}
    for key in ("voice", "audio"):
        if (audio := jf.opt_obj(message, key)) is not None:
            return {"type": "voice", "text": caption, "attachments": (_file(audio, "voice"),)}
    if (document := jf.opt_obj(message, "document")) is not None:
        return {"type": "file", "text": caption, "attachments": (_file(document, "file"),)}
    if (venue := jf.opt_obj(message, "venue")) is not None:
        where = jf.obj(venue.get("location"), "venue.location")
        label = ", ".join(p for p in (jf.opt_str(venue, "title"), jf.opt_str(venue, "address")) if p)
        return {"type": "location", "location": _location(where, label or None)}
    if (location := jf.opt_obj(message, "location")) is not None:
        return {"type": "location", "location": _location(location, None)}
    if (sticker := jf.opt_obj(message, "sticker")) is not None:
        emoji = jf.opt_str(sticker, "emoji")
        return {"type": "text", "text": f"[sticker {emoji}]" if emoji else "[sticker]"}
    if (contact := jf.opt_obj(message, "contact")) is not None:
        name = " ".join(p for p in (jf.opt_str(contact, "first_name"), jf.opt_str(contact, "last_name")) if p)
        return {"type": "text", "text": f"[contact] {name} {jf.req_str(contact, 'phone_number')}".strip()}
    # Service flags set to false (``group_chat_created``…) say nothing about the content.
    kinds = sorted(k for k, v in message.items() if k not in _ENVELOPE and v is not False and v is not None)
    # Kept rather than dropped: an agent sees that the customer sent something we cannot show.
    return {"type": "text", "text": f"[unsupported Telegram message: {', '.join(kinds) or 'empty'}]"}


#: Members every message has; whatever else is there says what kind of message it is.
_ENVELOPE = frozenset(
    {"message_id", "from", "chat", "date", "edit_date", "caption", "caption_entities", "entities"}
    | {"reply_to_message", "forward_origin", "message_thread_id", "is_topic_message", "sender_chat"}
    | {"author_signature", "media_group_id", "has_protected_content", "via_bot", "link_preview_options"}
)


def _location(data: Mapping[str, Any], label: str | None) -> Location:
    return Location(
        latitude=jf.coordinate(data, "latitude", 90),
        longitude=jf.coordinate(data, "longitude", 180),
        label=label,
    )


def _display_name(user: Mapping[str, Any] | None) -> str | None:
    if user is None:
        return None
    name = " ".join(p for p in (jf.opt_str(user, "first_name"), jf.opt_str(user, "last_name")) if p)
    return name or jf.opt_str(user, "username")


def _hints(sender: Mapping[str, Any] | None, message: Mapping[str, Any] | None) -> CustomerHints:
    name = _display_name(sender)
    contact = jf.opt_obj(message, "contact") if message is not None else None
    if contact is None or sender is None:
        return CustomerHints(display_name=name)
    phone = normalize_phone(jf.req_str(contact, "phone_number"))
    # Only the user's own number (the "share my phone number" button) is vouched for by Telegram.
    own = phone is not None and jf.opt_int(contact, "user_id") == jf.req_int(sender, "id")
    return CustomerHints(display_name=name, phone=phone if own else None, verified=("phone",) if own else ())


def normalize(update: Mapping[str, Any], *, account: str) -> InboundMessage | None:
    """One Telegram Update as an InboundMessage, or None for update types we do not handle."""
    update_id = jf.req_int(update, "update_id")
    if (message := jf.opt_obj(update, "message")) is not None:
        return _from_message(message, update_id, account=account, edited=False)
    if (edited := jf.opt_obj(update, "edited_message")) is not None:
        return _from_message(edited, update_id, account=account, edited=True)
    if (query := jf.opt_obj(update, "callback_query")) is not None:
        return _from_callback(query, update_id, account=account)
    return None


def _from_message(
    message: Mapping[str, Any], update_id: int, *, account: str, edited: bool
) -> InboundMessage:
    chat = jf.obj(message.get("chat"), "message.chat")
    sender = jf.opt_obj(message, "from")
    jf.req_int(message, "message_id")
    content = _message_content(message)
    sent = jf.opt_int(message, "edit_date") if edited else None
    sent_at = jf.epoch(sent if sent is not None else jf.req_int(message, "date"), where="date")
    if edited:
        # The new version of an earlier message: shown in the thread, but not a new customer turn.
        content = {"type": "event", "text": content.get("text", "")}
    return _build(
        account=account,
        chat_id=jf.req_int(chat, "id"),
        hints=_hints(sender, message),
        update_id=update_id,
        sent_at=sent_at,
        content=content,
        event="message_edited" if edited else None,
    )


def _from_callback(query: Mapping[str, Any], update_id: int, *, account: str) -> InboundMessage:
    sender = jf.obj(query.get("from"), "callback_query.from")
    jf.req_str(query, "id")
    origin = jf.opt_obj(query, "message")
    # The chat holding the button's message; a button under an inline-mode message has none, and
    # then the user's private chat with the bot (same id as the user) is where to answer.
    chat = jf.opt_obj(origin, "chat") if origin is not None else None
    chat_id = jf.req_int(chat, "id") if chat is not None else jf.req_int(sender, "id")
    data = jf.opt_str(query, "data") or jf.opt_str(query, "game_short_name") or ""
    return _build(
        account=account,
        chat_id=chat_id,
        hints=_hints(sender, None),
        update_id=update_id,
        sent_at=utcnow(),  # a callback query carries no timestamp
        content={"type": "event", "text": data},
        event="callback_query",
    )


def _build(
    *,
    account: str,
    chat_id: int,
    hints: CustomerHints,
    update_id: int,
    sent_at: datetime,
    content: Content,
    event: str | None,
) -> InboundMessage:
    fields: Content = {**content, "event": event} if event else content
    try:
        return InboundMessage(
            channel=CHANNEL,
            account=account,
            channel_user_id=str(chat_id),
            hints=hints,
            platform_message_id=str(update_id),
            sent_at=sent_at,
            **fields,
        )
    except ValidationError as exc:
        raise BadRequest("update does not fit the normalized format") from exc


def _callback_answer(body: Any) -> dict[str, Any] | None:
    """The ``answerCallbackQuery`` to return in the webhook response for a button press."""
    if not isinstance(body, dict) or not isinstance(body.get("callback_query"), dict):
        return None
    query_id = body["callback_query"].get("id")
    return (
        {"method": "answerCallbackQuery", "callback_query_id": query_id}
        if isinstance(query_id, str)
        else None
    )


# ================================================================================================
# Outbound: sendMessage
# ================================================================================================


def _chat_id(channel_user_id: str) -> int | str:
    """Chat ids are integers (negative for groups); ``@channelusername`` strings also work."""
    try:
        return int(channel_user_id)
    except ValueError:
        return channel_user_id


def _send_result(reply: HttpReply) -> SendResult:
    """Map the Bot API's answer: ``{"ok": true, "result": Message}`` or
    ``{"ok": false, "error_code", "description", "parameters": {"retry_after"}}``."""
    data = reply.json()
    data = data if isinstance(data, dict) else {}
    if reply.ok and data.get("ok") is True:
        result = data.get("result")
        message_id = result.get("message_id") if isinstance(result, dict) else None
        return SendResult(
            status="sent", platform_message_id=str(message_id) if message_id is not None else None
        )
    description = str(data.get("description") or f"HTTP {reply.status}")
    if reply.status == 429:
        params = data.get("parameters")
        retry_after = params.get("retry_after") if isinstance(params, dict) else None
        wait = f": retry after {retry_after} s" if retry_after is not None else ""
        return SendResult(status="failed", error=f"Telegram rate limit{wait}", retryable=True)
    if reply.status == 403:
        error = (
            "the customer blocked the bot" if "blocked" in description.lower() else f"Telegram: {description}"
        )
        return SendResult(status="failed", error=error)
    if reply.status in (401, 404):  # Telegram answers 404 for a malformed token, 401 for a revoked one
        return SendResult(status="failed", error="Telegram rejected the bot token")
    if reply.status >= 500 or reply.ok:  # a 2xx without ok=true is not Telegram's documented answer
        return SendResult(status="failed", error=f"Telegram: {description}", retryable=True)
    return SendResult(status="failed", error=f"Telegram: {description}")


# ================================================================================================
# The adapter
# ================================================================================================


class TelegramAdapter(ChannelAdapter):
    name = CHANNEL
    credential_fields = ("bot_token", "secret_token")

    def verify(self, req: WebhookRequest, creds: Mapping[str, str]) -> None:
        verify_header(req, SECRET_HEADER, creds["secret_token"])

    def parse(self, req: WebhookRequest, creds: Mapping[str, str]) -> Iterable[InboundMessage]:
        update = jf.obj(req.json(), "update")
        msg = normalize(update, account=self.account_of(req))
        return [] if msg is None else [msg]

    def acknowledge(self, req: WebhookRequest, accepted: list[InboundMessage]) -> Response:
        """200 stops Telegram's retries. For a button press the body also answers the callback
        query, which clears the button's spinner without a separate API call."""
        answer = _callback_answer(req.json()) if accepted and accepted[0].event == "callback_query" else None
        return Response.json(answer) if answer else Response.json({"accepted": len(accepted)})

    def send(self, msg: OutboundMessage, creds: Mapping[str, str], http: Transport) -> SendResult:
        if len(msg.text) > MAX_TEXT:
            return SendResult(status="failed", error=f"longer than Telegram's {MAX_TEXT} characters")
        token = LOCAL_BOT_TOKEN if http.recording else creds["bot_token"]
        payload = {"chat_id": _chat_id(msg.channel_user_id), "text": msg.text}
        call = json_post(method_url(token, "sendMessage"), payload, content_type="application/json")
        # unreachable: a network failure must not be told with the URL, which holds the bot token
        return deliver(lambda: http.call(call), _send_result, unreachable="Telegram")

    def fetch_media(self, creds: Mapping[str, str], attachment: Attachment, http: Transport) -> Media:
        """``getFile?file_id=`` → ``file_path`` → ``/file/bot<token>/<file_path>`` (bots may
        download files up to 20 MB)."""
        if not attachment.media_id:
            raise MediaUnavailable("the attachment names no file")
        token = LOCAL_BOT_TOKEN if http.recording else creds["bot_token"]
        file_id = attachment.media_id

        def attempt() -> HttpReply:
            found = http.call(HttpCall("GET", method_url(token, "getFile"), params={"file_id": file_id}))
            data = found.json() if found.ok and not found.recorded else None
            if not isinstance(data, dict):
                return found
            result = data.get("result")
            path = result.get("file_path") if isinstance(result, dict) else None
            if data.get("ok") is not True or not isinstance(path, str) or not path:
                raise MediaUnavailable("Telegram gave no file path for this file")
            return http.call(media_get(file_url(token, path)))

        return download_media(
            attempt,
            platform="Telegram",
            name=attachment.name,
            mime_type=attachment.mime_type,
            refused=_media_refusal,
        )


ADAPTER = TelegramAdapter()
