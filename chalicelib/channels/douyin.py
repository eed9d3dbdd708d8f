"""Douyin (抖音) private messages to an enterprise account: the ``douyin`` channel, in and out.

Inbound, the Douyin Open Platform POSTs JSON events to ``/webhooks/douyin[/<account>]``, signed with
``X-Douyin-Signature`` = hex SHA-1 of (client secret + raw body): missing → 401, wrong → 403.

- ``{"event": "verify_webhook", "content": {"challenge": N}}`` is the URL check made when the webhook
  is saved in the console; after the signature check it is answered ``{"challenge": N}``.
- ``im_receive_msg``: a customer's private message (``from_user_id`` is the customer's open id,
  ``to_user_id`` our account's) → one ``InboundMessage``. ``content`` arrives as an object or as a
  JSON *string*; both are read. Deduplicated on the ``Msg-Id`` header, else ``server_message_id``
  (Douyin gives up after 5 s and retries 3 times).
- ``im_enter_direct_msg``: the customer opened the chat window → an ``enter_direct_msg`` event.
- ``im_send_msg`` (the echo of a message our account sent, including our own replies) and any event
  whose sender is our own open id are acknowledged and dropped, so replies never loop back in as
  customer messages. Other events (authorize, video …) are dropped too.

Outbound: ``POST https://open.douyin.com/im/send/msg/?open_id=<our open id>`` with header
``access-token``, replying in the scene ``im_reply_msg`` to the customer's last message
(``msg_id`` + ``conversation_id`` come back through ``reply_context``). The access token is the
app's client token (``POST /oauth/client_token/``, valid 2 h), cached and shared through
``tokens.py``.

**Unconfirmed send schema.** Douyin's reference pages are not publicly crawlable; the request body
below follows the open-source .NET SDK ``SKIT.FlurlHttpClient.ByteDance`` (``IMSendMessageRequest``:
``msg_id``, ``conversation_id``, ``to_user_id``, ``content{msg_type, text{text}}``, ``scene``;
response ``msg_id``), and ``msg_type`` 1 = text with ``scene = "im_reply_msg"`` follows public
integrations of the same API. Whether this endpoint accepts the app's client token or needs the
account owner's OAuth ``access_token`` (scope ``im.direct_message``) is also not confirmed publicly:
if Douyin answers with a token or permission error, that is the first thing to check. See
docs/channels/douyin.md.

Credentials per account: ``client_key``, ``client_secret`` and ``open_id`` (our account's open id).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from typing import Literal

from pydantic import ValidationError

from chalicelib.channels import json_fields as jf
from chalicelib.channels import tokens
from chalicelib.channels.base import BadRequest
from chalicelib.channels.base import ChannelAdapter
from chalicelib.channels.base import Content
from chalicelib.channels.base import Forbidden
from chalicelib.channels.base import MethodNotAllowed
from chalicelib.channels.base import Response
from chalicelib.channels.base import WebhookRequest
from chalicelib.channels.base import constant_time_equals
from chalicelib.channels.base import deliver
from chalicelib.channels.base import verify_header
from chalicelib.channels.transport import HttpCall
from chalicelib.channels.transport import HttpReply
from chalicelib.channels.transport import Transport
from chalicelib.channels.transport import json_post
from chalicelib.messages import Attachment
from chalicelib.messages import CustomerHints
from chalicelib.messages import InboundMessage
from chalicelib.messages import MessageType
from chalicelib.messages import OutboundMessage
from chalicelib.messages import SendResult

CHANNEL = "douyin"
API_BASE = "https://open.douyin.com"
CLIENT_TOKEN_URL = f"{API_BASE}/oauth/client_token/"
SEND_URL = f"{API_BASE}/im/send/msg/"
SIGNATURE_HEADER = "x-douyin-signature"
MSG_ID_HEADER = "msg-id"
LOCAL_ACCESS_TOKEN = "local-access-token"  # what the local stack records instead of a real token
#: Echoes of what our own account sent: never customer messages.
OWN_ECHO_EVENTS = frozenset({"im_send_msg", "im_group_send_msg"})
TEXT_MSG_TYPE = 1  # content.msg_type for text (SDK and public integrations agree)
REPLY_SCENE = "im_reply_msg"
#: Douyin error codes: the access token is invalid/expired → fetch a new one and retry once.
TOKEN_REJECTED = frozenset({2190002, 2190008})
#: "系统繁忙，请稍候再试" (busy) → the send goes back to the queue.
BUSY = frozenset({2100004, -1})

AttachmentKind = Literal["image", "file", "voice", "video"]


def signature(client_secret: str, body: bytes) -> str:
    """Douyin's ``X-Douyin-Signature``: hex SHA-1 of the client secret followed by the raw body."""
    return hashlib.sha1(client_secret.encode("utf-8") + body).hexdigest()  # noqa: S324 — protocol


def _event_body(req: WebhookRequest) -> dict[str, Any]:
    return jf.obj(req.json(), "body")


# ================================================================================================
# Inbound: events → InboundMessage (pure)
# ================================================================================================


def _media(content: Mapping[str, Any], msg_type: MessageType, kind: AttachmentKind) -> Content:
    attachment = Attachment(
        kind=kind,
        url=jf.opt_str(content, "resource_url"),
        media_id=jf.opt_id(content, "item_id"),  # a Douyin video shared into the chat
    )
    return {"type": msg_type, "text": jf.opt_str(content, "text") or "", "attachments": (attachment,)}


def _message_content(content: Mapping[str, Any]) -> Content:
    kind = (jf.opt_str(content, "message_type") or "").lower()
    text = jf.opt_str(content, "text") or ""
    if kind == "text":
        return {"type": "text", "text": text}
    if kind == "image":
        return _media(content, "image", "image")
    if kind == "video":
        return _media(content, "video", "video")
    if kind in ("emoji", "sticker"):
        return {"type": "text", "text": text or "[sticker]"}
    if kind == "retain_consult_card":  # a lead form the customer filled in: label/value pairs
        rows = [jf.obj(r, "card_data") for r in jf.opt_list(content, "card_data")]
        filled = "\n".join(f"{jf.opt_str(r, 'label') or ''}: {jf.opt_str(r, 'value') or ''}" for r in rows)
        return {"type": "text", "text": filled or "[consult card]"}
    # Kept rather than dropped: an agent sees that the customer sent something we cannot show.
    return {"type": "text", "text": text or f"[unsupported Douyin message type: {kind or 'none'}]"}


def _display_name(content: Mapping[str, Any], sender: str) -> str | None:
    for info in jf.opt_list(content, "user_infos"):
        user = jf.obj(info, "user_infos[]")
        if jf.opt_id(user, "open_id") == sender:
            return jf.opt_str(user, "nick_name")
    return None


def _sent_at(content: Mapping[str, Any]) -> datetime:
    created = jf.req_int(content, "create_time")
    # Douyin's create_time is in milliseconds; some events carry seconds. 10^11 s is year 5138.
    return jf.epoch(created, millis=created >= 10**11, where="create_time")


def normalize(
    data: Mapping[str, Any], *, account: str, own_open_id: str, delivery_id: str | None
) -> InboundMessage | None:
    """One Douyin event as an InboundMessage, or None for our own echoes and events we ignore."""
    event = jf.req_str(data, "event")
    if event in OWN_ECHO_EVENTS or event not in ("im_receive_msg", "im_enter_direct_msg"):
        return None
    sender = jf.req_id(data, "from_user_id")
    if sender == own_open_id:  # our account's own message, whatever the event says
        return None
    content = jf.obj_or_json_string(data.get("content"), "content")
    body: Content = (
        _message_content(content)
        if event == "im_receive_msg"
        else {"type": "event", "event": "enter_direct_msg"}
    )
    server_message_id = jf.req_id(content, "server_message_id")
    context = {"msg_id": server_message_id}
    if (conversation := jf.opt_id(content, "conversation_short_id")) is not None:
        context["conversation_id"] = conversation
    try:
        return InboundMessage(
            channel=CHANNEL,
            account=account,
            channel_user_id=sender,
            hints=CustomerHints(display_name=_display_name(content, sender)),
            platform_message_id=delivery_id or server_message_id,
            sent_at=_sent_at(content),
            reply_context=context,
            **body,
        )
    except ValidationError as exc:
        raise BadRequest("event does not fit the normalized format") from exc


# ================================================================================================
# Outbound: client token and IM send
# ================================================================================================


def _codes(reply: HttpReply) -> tuple[int | None, str]:
    """Douyin's error code and description, wherever this API put them (``data``, ``extra``, top)."""
    data = reply.json()
    if not isinstance(data, dict):
        return None, ""
    for part in (data.get("data"), data.get("extra"), data):
        if isinstance(part, dict) and isinstance(part.get("error_code"), int) and part["error_code"] != 0:
            return part["error_code"], str(part.get("description") or "")
    has_code = any(
        isinstance(p, dict) and "error_code" in p for p in (data.get("data"), data.get("extra"), data)
    )
    return (0, "") if has_code else (None, "")


def fetch_client_token(creds: Mapping[str, str], http: Transport) -> tokens.FetchedToken:
    """``POST /oauth/client_token/``: a new app access token (no user authorization needed)."""
    reply = http.call(
        HttpCall(
            "POST",
            CLIENT_TOKEN_URL,
            headers={"content-type": "application/json"},
            json={
                "client_key": creds["client_key"],
                "client_secret": creds["client_secret"],
                "grant_type": "client_credential",
            },
        )
    )
    if not reply.ok:
        raise tokens.TokenError(f"Douyin token endpoint HTTP {reply.status}", retryable=reply.status >= 500)
    data = reply.json()
    inner = data.get("data") if isinstance(data, dict) else None
    if isinstance(inner, dict) and isinstance(inner.get("access_token"), str) and inner["access_token"]:
        expires_in = inner.get("expires_in")
        valid = float(expires_in) if isinstance(expires_in, int | float) and expires_in > 0 else 7200.0
        return tokens.FetchedToken(inner["access_token"], valid)
    code, description = _codes(reply)
    raise tokens.TokenError(
        f"Douyin token error {code}: {description}", retryable=code is None or code in BUSY
    )


API = tokens.TokenApi(
    key=lambda creds: tokens.token_key(CHANNEL, creds["client_key"]),
    fetch=fetch_client_token,
    rejected=lambda reply: _codes(reply)[0] in TOKEN_REJECTED,
    local_token=LOCAL_ACCESS_TOKEN,
)


def _send_call(open_id: str, access_token: str, payload: Mapping[str, Any]) -> HttpCall:
    return json_post(
        SEND_URL,
        payload,
        params={"open_id": open_id},
        headers={"access-token": access_token},
        content_type="application/json",
    )


def _send_result(reply: HttpReply) -> SendResult:
    if reply.status == 429 or reply.status >= 500:
        return SendResult(status="failed", error=f"Douyin HTTP {reply.status}", retryable=True)
    code, description = _codes(reply)
    if reply.ok and code == 0:
        data = reply.json()
        inner = data.get("data") if isinstance(data.get("data"), dict) else {}
        msg_id = jf.id_or_none(inner.get("msg_id")) or jf.id_or_none(data.get("msg_id"))
        return SendResult(status="sent", platform_message_id=msg_id)
    if code is None:
        return SendResult(
            status="failed",
            error=f"Douyin answered something unexpected (HTTP {reply.status})",
            retryable=True,
        )
    retryable = code in BUSY or code in TOKEN_REJECTED  # rejected twice in a row: a refresh race
    return SendResult(status="failed", error=f"Douyin error {code}: {description}", retryable=retryable)


# ================================================================================================
# The adapter
# ================================================================================================


class DouyinAdapter(ChannelAdapter):
    name = CHANNEL
    credential_fields = ("client_key", "client_secret", "open_id")
    #: Douyin lets an enterprise account answer a private message for 24 h (public integrations'
    #: reading of the platform rules; unconfirmed, see the module docstring).
    reply_window = 24 * 3600

    def handshake(self, req: WebhookRequest, creds: Mapping[str, str]) -> Response | None:
        """The console's ``verify_webhook`` POST: echo the challenge, after the signature check."""
        if req.method != "POST":
            raise MethodNotAllowed(f"{req.method} not supported")
        try:
            data = json.loads(req.body)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return None  # not ours to judge here: verify, then parse, refuse it properly
        if not isinstance(data, dict) or data.get("event") != "verify_webhook":
            return None
        self.verify(req, creds)
        challenge = jf.obj_or_json_string(data.get("content"), "content").get("challenge")
        if isinstance(challenge, bool) or not isinstance(challenge, int | str) or challenge == "":
            raise BadRequest("verify_webhook without a challenge")
        return Response.json({"challenge": challenge})

    def verify(self, req: WebhookRequest, creds: Mapping[str, str]) -> None:
        expected = signature(creds["client_secret"], req.body)
        verify_header(req, SIGNATURE_HEADER, lambda given: constant_time_equals(given.lower(), expected))

    def parse(self, req: WebhookRequest, creds: Mapping[str, str]) -> Iterable[InboundMessage]:
        data = _event_body(req)
        client_key = jf.opt_str(data, "client_key")
        if client_key is not None and client_key != creds["client_key"]:
            raise Forbidden("event is for another client_key")
        msg = normalize(
            data,
            account=self.account_of(req),
            own_open_id=creds["open_id"],
            delivery_id=req.header(MSG_ID_HEADER) or None,
        )
        return [] if msg is None else [msg]

    def send(self, msg: OutboundMessage, creds: Mapping[str, str], http: Transport) -> SendResult:
        """Reply to the customer's last message. JSON is sent as UTF-8 with Chinese unescaped."""
        context = msg.reply_context
        if not context.get("msg_id") or not context.get("conversation_id"):
            # The reply scene needs the customer's message to answer; Douyin has no free push.
            return SendResult(status="failed", error="no Douyin message from this customer to reply to")
        payload = {
            "msg_id": context["msg_id"],
            "conversation_id": context["conversation_id"],
            "to_user_id": msg.channel_user_id,
            "content": {"msg_type": TEXT_MSG_TYPE, "text": {"text": msg.text}},
            "scene": REPLY_SCENE,
        }
        open_id = creds["open_id"]
        return deliver(lambda: API.call(creds, http, lambda t: _send_call(open_id, t, payload)), _send_result)


ADAPTER = DouyinAdapter()
