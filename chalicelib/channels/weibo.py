"""Weibo private messages to a verified account (粉丝服务平台): the ``weibo`` channel, in and out.

Inbound, Weibo calls ``/webhooks/weibo[/<account>]`` with WeChat's signature scheme and the app's
AppSecret as the token: ``signature`` = SHA-1 of the sorted, concatenated [app secret, timestamp,
nonce], in the query string. This module reuses WeChat's helpers for it (``wechat.check_signature``).

- ``GET ?signature&timestamp&nonce&echostr``: the URL check made when the callback is saved; the
  ``echostr`` is echoed.
- ``POST`` (same query signature): one message or event, as JSON
  ``{"type", "receiver_id", "sender_id", "created_at", "text", "data": {...}}`` or the same fields
  in XML, told apart by the body's first byte. XML is parsed with defusedxml, DTDs forbidden, so
  entity bombs and external entities are refused as malformed (400) and never expand.

As in WeChat's plaintext mode, the signature does not cover the body; it proves the request came
with our AppSecret's signature, not that the body is unchanged.

Types: ``text``; ``image`` and ``voice`` (``data.vfid``, the file id to fetch); ``position``
(``data.latitude/longitude``); ``event`` (``data.subtype``: follow, unfollow, subscribe, scan,
click … with ``data.key``); ``mention`` (we were @-mentioned). Weibo gives no message id, so a
delivery is deduplicated on sender + ``created_at`` (Weibo retries 3 times within 5 s with the same
payload), plus a short digest of the content so that two different messages sent by the same
person within the same second are not merged into one.

Outbound: ``POST https://m.api.weibo.com/2/messages/reply.json`` as a form: ``access_token``,
``type=text``, ``data`` (the JSON ``{"text": …}``, URL-encoded as the API requires, then
form-encoded again by the HTTP body), ``receiver_id`` and ``save_sender_box=1``, so that
the reply also shows in the account's own Weibo inbox and staff using Weibo's app see the whole
thread (Weibo's default; 0 would keep Omniflow's replies out of it).

Credentials per account: ``app_secret`` (signatures) and ``access_token`` (the 粉丝服务平台's
developer-mode access token, long-lived).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from collections.abc import Mapping
from datetime import datetime
from datetime import timedelta
from datetime import timezone
from typing import Any
from typing import Literal
from urllib.parse import quote
from xml.etree.ElementTree import Element
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as safe_xml
from pydantic import ValidationError

from chalicelib.channels import json_fields as jf
from chalicelib.channels.base import BadRequest
from chalicelib.channels.base import ChannelAdapter
from chalicelib.channels.base import Content
from chalicelib.channels.base import Response
from chalicelib.channels.base import WebhookRequest
from chalicelib.channels.base import deliver
from chalicelib.channels.transport import HttpCall
from chalicelib.channels.transport import HttpReply
from chalicelib.channels.transport import Transport
from chalicelib.channels.wechat import check_signature
from chalicelib.channels.wechat import echo_handshake
from chalicelib.messages import Attachment
from chalicelib.messages import InboundMessage
from chalicelib.messages import Location
from chalicelib.messages import MessageType
from chalicelib.messages import OutboundMessage
from chalicelib.messages import SendResult

CHANNEL = "weibo"
REPLY_URL = "https://m.api.weibo.com/2/messages/reply.json"
LOCAL_ACCESS_TOKEN = "local-access-token"  # what the local stack records instead of the token
#: "文本大小必须小于300个汉字": Weibo refuses longer text replies.
MAX_TEXT = 300
SAVE_SENDER_BOX = "1"
#: error_codes meaning the access token is no good: an operator must issue a new one.
TOKEN_ERRORS = frozenset({21301, 21314, 21315, 21316, 21317, 21327, 21332})
#: system error, too many pending tasks, and the rate limits: later attempts may succeed.
TRANSIENT_ERRORS = frozenset({10001, 10009, 10022, 10023, 10024})

AttachmentKind = Literal["image", "file", "voice", "video"]
_MONTHS = {m: i for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split(), start=1)}


# ================================================================================================
# Bodies: JSON or XML into one nested dict
# ================================================================================================


def _element(node: Element) -> Any:
    children = [c for c in node if isinstance(c.tag, str)]
    if not children:
        return node.text or ""
    return {child.tag: _element(child) for child in children}


def parse_xml(body: bytes) -> dict[str, Any]:
    """The XML variant as the same nested dict the JSON variant gives (leaves are strings).
    defusedxml with DTDs forbidden: entity bombs and external entities are malformed input."""
    try:
        root = safe_xml(body, forbid_dtd=True)
    except (ParseError, DefusedXmlException, ValueError, LookupError) as exc:
        raise BadRequest(f"malformed XML: {type(exc).__name__}") from exc
    fields = _element(root)
    if not isinstance(fields, dict):
        raise BadRequest("XML body has no fields")
    return fields


def parse_body(req: WebhookRequest) -> dict[str, Any]:
    """JSON or XML, told apart by the first significant byte (not Content-Type, which proxies and
    the platform's console settings do not keep consistent)."""
    head = req.body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if head == b"<":
        return parse_xml(req.body)
    if head == b"{":
        return jf.obj(req.json(), "body")
    raise BadRequest("body is neither JSON nor XML")


# ================================================================================================
# Normalization (pure)
# ================================================================================================


def parse_created_at(value: str) -> datetime:
    """Weibo's ``created_at`` (``Mon Jul 16 18:09:20 +0800 2012``), parsed without depending on
    the process locale (``strptime``'s ``%a``/``%b`` do)."""
    try:
        _, month, day, clock, offset, year = value.split()
        hour, minute, second = (int(p) for p in clock.split(":"))
        sign = -1 if offset[0] == "-" else 1
        if offset[0] not in "+-" or len(offset) != 5:
            raise ValueError(offset)
        tz = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5])))
        return datetime(int(year), _MONTHS[month], int(day), hour, minute, second, tzinfo=tz)
    except (ValueError, KeyError, IndexError) as exc:
        raise BadRequest("created_at is not a Weibo timestamp") from exc


def _media(data: Mapping[str, Any], msg_type: MessageType, kind: AttachmentKind, text: str) -> Content:
    # vfid: the file as the customer sent it (fetched with the 粉丝服务 download API on demand)
    attachment = Attachment(kind=kind, media_id=jf.req_id(data, "vfid"))
    return {"type": msg_type, "text": text, "attachments": (attachment,)}


def _content(kind: str, text: str, data: Mapping[str, Any]) -> Content:
    if kind == "text":
        return {"type": "text", "text": text}
    if kind == "image":
        return _media(data, "image", "image", text)
    if kind == "voice":
        return _media(data, "voice", "voice", text)
    if kind == "position":
        where = Location(
            latitude=jf.coordinate(data, "latitude", 90), longitude=jf.coordinate(data, "longitude", 180)
        )
        return {"type": "location", "text": text, "location": where}
    if kind == "event":
        subtype = jf.req_str(data, "subtype").lower()
        # key: the menu key (click), the URL (view) or the QR scene (scan, scan_follow)
        return {"type": "event", "event": subtype, "text": jf.opt_id(data, "key") or ""}
    if kind == "mention":
        return {"type": "event", "event": "mention", "text": text}
    # Kept rather than dropped: an agent sees that the customer sent something we cannot show.
    return {"type": "text", "text": text or f"[unsupported Weibo message type: {kind}]"}


def _digest(kind: str, text: str, data: Mapping[str, Any]) -> str:
    canonical = json.dumps([kind, text, data], sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:12]


def normalize(fields: Mapping[str, Any], *, account: str) -> InboundMessage:
    kind = jf.req_str(fields, "type").lower()
    sender = jf.req_id(fields, "sender_id")
    created_raw = jf.req_str(fields, "created_at")
    sent_at = parse_created_at(created_raw)
    text = jf.opt_str(fields, "text") or ""
    raw_data = fields.get("data")
    data = {} if raw_data in (None, "") else jf.obj(raw_data, "data")
    content = _content(kind, text, data)
    message_id = f"{sender}#{int(sent_at.timestamp())}#{_digest(kind, text, data)}"
    try:
        return InboundMessage(
            channel=CHANNEL,
            account=account,
            channel_user_id=sender,
            platform_message_id=message_id,
            sent_at=sent_at,
            **content,
        )
    except ValidationError as exc:
        raise BadRequest("message does not fit the normalized format") from exc


# ================================================================================================
# Outbound
# ================================================================================================


def reply_form(access_token: str, receiver_id: str, text: str) -> dict[str, str]:
    """The reply.json form. ``data`` must be "json 做 URLEncode 后的字符串" (the URL-encoded JSON),
    which the form encoding then encodes once more, as Weibo's server decodes it twice."""
    data = quote(json.dumps({"text": text}, ensure_ascii=False), safe="")
    return {
        "access_token": access_token,
        "type": "text",
        "data": data,
        "receiver_id": receiver_id,
        "save_sender_box": SAVE_SENDER_BOX,
    }


def _send_result(reply: HttpReply) -> SendResult:
    """Success answers the sent message (``{"result": true, …}`` or the message object); errors are
    ``{"error", "error_code", "request"}``, usually with HTTP 400/403."""
    data = reply.json()
    data = data if isinstance(data, dict) else {}
    code = data.get("error_code")
    if reply.ok and code is None and data:
        return SendResult(status="sent", platform_message_id=jf.id_or_none(data.get("id")))
    if isinstance(code, str) and code.isdigit():
        code = int(code)
    detail = str(data.get("error") or f"HTTP {reply.status}")
    if code in TOKEN_ERRORS:
        return SendResult(status="failed", error=f"Weibo rejected the access token ({code}: {detail})")
    if code in TRANSIENT_ERRORS or reply.status == 429 or reply.status >= 500:
        return SendResult(status="failed", error=f"Weibo {code or reply.status}: {detail}", retryable=True)
    if not data:
        return SendResult(
            status="failed",
            error=f"Weibo answered something unexpected (HTTP {reply.status})",
            retryable=True,
        )
    return SendResult(status="failed", error=f"Weibo {code}: {detail}" if code else f"Weibo: {detail}")


# ================================================================================================
# The adapter
# ================================================================================================


class WeiboAdapter(ChannelAdapter):
    name = CHANNEL
    credential_fields = ("app_secret", "access_token")

    def handshake(self, req: WebhookRequest, creds: Mapping[str, str]) -> Response | None:
        return echo_handshake(req, creds["app_secret"])

    def verify(self, req: WebhookRequest, creds: Mapping[str, str]) -> None:
        q = req.query
        check_signature(q.get("signature"), creds["app_secret"], q.get("timestamp"), q.get("nonce"))

    def parse(self, req: WebhookRequest, creds: Mapping[str, str]) -> Iterable[InboundMessage]:
        return [normalize(parse_body(req), account=self.account_of(req))]

    def acknowledge(self, req: WebhookRequest, accepted: list[InboundMessage]) -> Response:
        """An empty 200: received, no passive reply (agents answer through reply.json)."""
        return Response.text("")

    def send(self, msg: OutboundMessage, creds: Mapping[str, str], http: Transport) -> SendResult:
        if len(msg.text) > MAX_TEXT:
            return SendResult(status="failed", error=f"longer than Weibo's {MAX_TEXT} characters")
        token = LOCAL_ACCESS_TOKEN if http.recording else creds["access_token"]
        call = HttpCall("POST", REPLY_URL, data=reply_form(token, msg.channel_user_id, msg.text))
        return deliver(lambda: http.call(call), _send_result)


ADAPTER = WeiboAdapter()
