"""WeChat Official Account and Mini Program customer-service messages, in and out.

Inbound, this module supplies the WeChat steps of the shared webhook pipeline:

- ``handshake``: the GET URL check (``signature`` over token, timestamp, nonce; echo ``echostr``);
- ``verify``: ``signature`` in plaintext mode, ``msg_signature`` (which also covers ``Encrypt``) in
  safe mode (``encrypt_type=aes``);
- ``parse``: XML (Official Account, Mini Program) or JSON (Mini Program's JSON data format), plain or
  AES-encrypted, normalized into one ``InboundMessage``;
- ``acknowledge``: plain ``success`` so WeChat stops its 3 retries at once (replies go out through the
  custom-send API, never as a passive reply).

Outbound, ``send`` posts through the custom-send API with an access token shared by all Lambdas
(``tokens.py``).

Refusals: a missing signature is 401, a wrong one (or a ciphertext that does not open with our key
and app id) is 403, a malformed, DTD- or entity-bearing body is 400. Plaintext-mode signatures do
not cover the body (WeChat's design); only safe mode authenticates the content, which is why only
safe-mode payloads may mark a unionid as verified.

The signature and cipher helpers are WeChat-family generic (WeCom uses them with its CorpID as the
trailing id, Weibo the signature with its AppSecret as token).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import os
import struct
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from typing import Any
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring as safe_xml
from pydantic import ValidationError

from chalicelib.channels import tokens
from chalicelib.channels.base import BadRequest
from chalicelib.channels.base import ChannelAdapter
from chalicelib.channels.base import Content
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
from chalicelib.channels.transport import json_post
from chalicelib.channels.transport import media_get
from chalicelib.messages import Attachment
from chalicelib.messages import CustomerHints
from chalicelib.messages import InboundMessage
from chalicelib.messages import Location
from chalicelib.messages import OutboundMessage
from chalicelib.messages import SendResult

CHANNEL = "wechat"
API_BASE = "https://api.weixin.qq.com/cgi-bin"
TOKEN_URL = f"{API_BASE}/token"
CUSTOM_SEND_URL = f"{API_BASE}/message/custom/send"
MEDIA_URL = f"{API_BASE}/media/get"  # temporary media: kept by WeChat for 3 days
LOCAL_ACCESS_TOKEN = "local-access-token"  # what the local stack records instead of a real token

#: errcodes meaning "this access token is not (or no longer) valid": drop it, fetch anew, retry once
TOKEN_REJECTED = frozenset({40001, 40014, 42001})
OUTSIDE_REPLY_WINDOW = 45015
SYSTEM_BUSY = -1  # WeChat's "try again later"

# ================================================================================================
# WeChat-family crypto: signatures and the message cipher
# ================================================================================================


def sha1_signature(*parts: str) -> str:
    """WeChat's signature: SHA-1 hex of the parts sorted and concatenated. The parts are
    (token, timestamp, nonce) for ``signature``, plus ``Encrypt`` for ``msg_signature``."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()  # noqa: S324 — protocol


def echo_handshake(req: WebhookRequest, token: str) -> Response | None:
    """WeChat's URL check (reused by Weibo): a signed GET whose ``echostr`` is echoed back.
    None for a POST (a delivery, not a check)."""
    if req.method == "POST":
        return None
    if req.method != "GET":
        raise MethodNotAllowed(f"{req.method} not supported")
    echostr = req.query.get("echostr")
    if echostr is None:
        raise BadRequest("GET without echostr")
    q = req.query
    check_signature(q.get("signature"), token, q.get("timestamp"), q.get("nonce"))
    return Response.text(echostr)


def check_signature(
    given: str | None, token: str, timestamp: str | None, nonce: str | None, *extra: str
) -> None:
    """Raise Unauthorized when the request carries no signature (or its inputs), Forbidden when it
    does not match: the same two answers on every WeChat endpoint."""
    if not given or not timestamp or not nonce:
        raise Unauthorized("missing signature, timestamp or nonce")
    if not constant_time_equals(given.lower(), sha1_signature(token, timestamp, nonce, *extra)):
        raise Forbidden("signature mismatch")


class MessageCrypto:
    """WeChat's message cipher: AES-256-CBC with key = b64decode(EncodingAESKey + "="), IV = the key's
    first 16 bytes, PKCS#7 padding to 32-byte blocks, and plaintext = 16 random bytes + 4-byte
    big-endian length + message + receive id. The receive id is the app id (Official Account, Mini
    Program) or the CorpID (WeCom): a message that does not end with ours was not meant for us.

    A key that is not 43 base64 characters is our misconfiguration, so it raises ValueError (a 5xx
    the platform retries and our alarms see), never a 4xx blamed on the platform.
    """

    BLOCK = 32

    def __init__(self, aes_key: str, receive_id: str) -> None:
        try:
            key = base64.b64decode(aes_key + "=", validate=True)
        except (binascii.Error, ValueError) as exc:
            raise ValueError("EncodingAESKey is not base64") from exc
        if len(aes_key) != 43 or len(key) != 32:
            raise ValueError("EncodingAESKey must be 43 characters (a 32-byte key)")
        self._key = key
        self.receive_id = receive_id

    def _cipher(self) -> Any:
        # Imported here: plaintext-mode deliveries never pay for it on a cold start.
        from cryptography.hazmat.primitives.ciphers import Cipher
        from cryptography.hazmat.primitives.ciphers import algorithms
        from cryptography.hazmat.primitives.ciphers import modes

        return Cipher(algorithms.AES(self._key), modes.CBC(self._key[:16]))

    def decrypt(self, encrypted: str) -> bytes:
        """The message inside ``Encrypt``. BadRequest when it is not a ciphertext at all, Forbidden
        when it does not open with our key or was addressed to another receive id."""
        try:
            data = base64.b64decode(encrypted, validate=True)
        except (binascii.Error, ValueError) as exc:
            raise BadRequest("Encrypt is not base64") from exc
        if not data or len(data) % 16:
            raise BadRequest("Encrypt is not an AES-CBC ciphertext")
        decryptor = self._cipher().decryptor()
        plain = decryptor.update(data) + decryptor.finalize()
        pad = plain[-1]
        if not 1 <= pad <= self.BLOCK or plain[-pad:] != bytes([pad]) * pad:
            raise Forbidden("cannot decrypt: wrong EncodingAESKey?")
        body = plain[16:-pad]
        if len(body) < 4:
            raise Forbidden("cannot decrypt: message too short")
        (length,) = struct.unpack(">I", body[:4])
        if length > len(body) - 4:
            raise Forbidden("cannot decrypt: bad length")
        message, trailing = body[4 : 4 + length], body[4 + length :]
        if not constant_time_equals(trailing, self.receive_id.encode("utf-8")):
            raise Forbidden("message is for another app id")
        return message

    def encrypt(self, message: bytes, *, prefix: bytes | None = None) -> str:
        """The ``Encrypt`` value for ``message`` (encrypted passive replies, WeCom answers, tests of
        the round trip). ``prefix`` is the 16 random bytes; only tests fix it."""
        prefix = os.urandom(16) if prefix is None else prefix
        if len(prefix) != 16:
            raise ValueError("prefix must be 16 bytes")
        plain = prefix + struct.pack(">I", len(message)) + message + self.receive_id.encode("utf-8")
        pad = self.BLOCK - len(plain) % self.BLOCK
        plain += bytes([pad]) * pad
        encryptor = self._cipher().encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode("ascii")


# ================================================================================================
# Bodies: XML or JSON, parsed safely into flat fields
# ================================================================================================


def parse_xml_fields(body: bytes) -> dict[str, str]:
    """Top-level children of ``<xml>`` as tag → text. defusedxml with DTDs forbidden: entity bombs
    and external entities never expand, they are refused like any other malformed body."""
    try:
        root = safe_xml(body, forbid_dtd=True)
    except (ParseError, DefusedXmlException, ValueError, LookupError) as exc:
        # ValueError/LookupError: multi-byte or unknown encodings declared in the XML prolog
        raise BadRequest(f"malformed XML: {type(exc).__name__}") from exc
    if root.tag != "xml":
        raise BadRequest("XML root is not <xml>")
    return {child.tag: child.text or "" for child in root if isinstance(child.tag, str)}


def parse_json_fields(body: bytes) -> dict[str, str]:
    """A JSON object's scalar members as strings (the Mini Program's JSON format sends CreateTime
    and MsgId as numbers); nested members are dropped."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: [[[[…]]]] bombs
        raise BadRequest("malformed JSON") from exc
    if not isinstance(data, dict):
        raise BadRequest("JSON body is not an object")
    fields: dict[str, str] = {}
    for name, value in data.items():
        if isinstance(value, str):
            fields[name] = value
        elif isinstance(value, int | float) and not isinstance(value, bool):
            fields[name] = str(value)
    return fields


def parse_fields(body: bytes) -> dict[str, str]:
    """XML or JSON, told apart by the first significant byte rather than Content-Type (the Mini
    Program's data format is a console setting, and proxies rewrite headers)."""
    head = body.lstrip(b"\xef\xbb\xbf \t\r\n")[:1]
    if head == b"<":
        return parse_xml_fields(body)
    if head == b"{":
        return parse_json_fields(body)
    raise BadRequest("body is neither XML nor JSON")


# ================================================================================================
# Normalization: WeChat fields → InboundMessage (pure)
# ================================================================================================


_VOICE_MIME = {"amr": "audio/amr", "speex": "audio/speex", "mp3": "audio/mpeg"}


def _opt(fields: Mapping[str, str], name: str) -> str | None:
    value = fields.get(name, "").strip()
    return value or None


def _required(fields: Mapping[str, str], name: str) -> str:
    value = _opt(fields, name)
    if value is None:
        raise BadRequest(f"missing {name}")
    return value


def _coordinate(fields: Mapping[str, str], name: str, bound: float) -> float:
    try:
        value = float(_required(fields, name))
    except ValueError as exc:
        raise BadRequest(f"{name} is not a number") from exc
    if not math.isfinite(value) or abs(value) > bound:
        raise BadRequest(f"{name} out of range")
    return value


def _joined(*parts: str | None) -> str:
    return "\n".join(p for p in parts if p)


def _text(f: Mapping[str, str]) -> Content:
    return {"type": "text", "text": f.get("Content", "")}


def _image(f: Mapping[str, str]) -> Content:
    return {
        "type": "image",
        "attachments": (Attachment(kind="image", url=_opt(f, "PicUrl"), media_id=_opt(f, "MediaId")),),
    }


def _voice(f: Mapping[str, str]) -> Content:
    fmt = (_opt(f, "Format") or "").lower()
    voice = Attachment(kind="voice", media_id=_opt(f, "MediaId"), mime_type=_VOICE_MIME.get(fmt))
    # WeChat's speech recognition, when the account enabled it, is the most useful text we get.
    return {"type": "voice", "text": f.get("Recognition", "").strip(), "attachments": (voice,)}


def _video(f: Mapping[str, str]) -> Content:
    return {"type": "video", "attachments": (Attachment(kind="video", media_id=_opt(f, "MediaId")),)}


def _file(f: Mapping[str, str]) -> Content:
    size = _opt(f, "FileTotalLen")
    attachment = Attachment(
        kind="file",
        name=_opt(f, "Title"),
        media_id=_opt(f, "FileKey"),
        size=int(size) if size and size.isdigit() else None,
    )
    return {"type": "file", "text": f.get("Description", "").strip(), "attachments": (attachment,)}


def _location(f: Mapping[str, str]) -> Content:
    where = Location(
        latitude=_coordinate(f, "Location_X", 90),
        longitude=_coordinate(f, "Location_Y", 180),
        label=_opt(f, "Label"),
    )
    return {"type": "location", "location": where}


def _link(f: Mapping[str, str]) -> Content:
    return {"type": "text", "text": _joined(_opt(f, "Title"), _opt(f, "Description"), _opt(f, "Url"))}


def _mini_program_page(f: Mapping[str, str]) -> Content:
    return {"type": "text", "text": _joined(_opt(f, "Title"), _opt(f, "PagePath"))}


def _event(f: Mapping[str, str]) -> Content:
    event = _required(f, "Event").lower()
    # EventKey carries the menu key (CLICK), the URL (VIEW) or the QR scene (SCAN, subscribe).
    content: Content = {"type": "event", "event": event, "text": f.get("EventKey", "").strip()}
    if event == "location":  # the periodic location report, when the account asks for it
        content["location"] = Location(
            latitude=_coordinate(f, "Latitude", 90), longitude=_coordinate(f, "Longitude", 180)
        )
    return content


_CONTENT: dict[str, Callable[[Mapping[str, str]], Content]] = {
    "text": _text,
    "image": _image,
    "voice": _voice,
    "video": _video,
    "shortvideo": _video,
    "file": _file,
    "location": _location,
    "link": _link,
    "miniprogrampage": _mini_program_page,
    "event": _event,
}


def _unsupported(msg_type: str) -> Content:
    # Kept rather than dropped: an agent sees that the customer sent something we cannot show.
    return {"type": "text", "text": f"[unsupported WeChat message type: {msg_type}]"}


def _sent_at(create_time: str) -> datetime:
    try:
        return datetime.fromtimestamp(int(create_time), tz=UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise BadRequest("CreateTime is not a Unix timestamp") from exc


def normalize(fields: Mapping[str, str], *, account: str, authenticated_body: bool) -> InboundMessage:
    """One WeChat message or event as an InboundMessage.

    ``authenticated_body``: the fields came out of a ciphertext signed and addressed to us (safe
    mode). Only then may the unionid link this sender to an existing customer; a plaintext-mode body
    is not covered by any signature.
    """
    sender = _required(fields, "FromUserName")
    msg_type = _required(fields, "MsgType").lower()
    created = _required(fields, "CreateTime")
    builder = _CONTENT.get(msg_type)
    content = builder(fields) if builder else _unsupported(msg_type)
    if msg_type == "event":
        # Events have no MsgId; WeChat retries them with the same sender, time and event.
        message_id = f"{sender}#{created}#{_required(fields, 'Event')}"
    else:
        message_id = _opt(fields, "MsgId") or f"{sender}#{created}#{msg_type}"
    unionid = _opt(fields, "UnionId") or _opt(fields, "unionid")
    hints = CustomerHints(unionid=unionid, verified=("unionid",) if unionid and authenticated_body else ())
    try:
        return InboundMessage(
            channel=CHANNEL,
            account=account,
            channel_user_id=sender,
            hints=hints,
            platform_message_id=message_id,
            sent_at=_sent_at(created),
            **content,
        )
    except ValidationError as exc:
        raise BadRequest("message does not fit the normalized format") from exc


# ================================================================================================
# Outbound: access token and custom-send
# ================================================================================================


def _errcode(reply: HttpReply) -> int | None:
    data = reply.json()
    if not isinstance(data, dict):
        return None
    code = data.get("errcode", 0)
    return code if isinstance(code, int) else None


def _errmsg(reply: HttpReply) -> str:
    data = reply.json()
    return str(data.get("errmsg", "")) if isinstance(data, dict) else ""


def fetch_access_token(creds: Mapping[str, str], http: Transport) -> tokens.FetchedToken:
    """``GET /cgi-bin/token``: a new access token for the account's app. Raises TokenError
    (retryable when WeChat is busy or down) or TransportError (network; retryable)."""
    reply = http.call(
        HttpCall(
            "GET",
            TOKEN_URL,
            params={
                "grant_type": "client_credential",
                "appid": creds["app_id"],
                "secret": creds["app_secret"],
            },
        )
    )
    if not reply.ok:
        raise tokens.TokenError(f"WeChat token endpoint HTTP {reply.status}", retryable=reply.status >= 500)
    data = reply.json()
    if isinstance(data, dict) and isinstance(data.get("access_token"), str) and data["access_token"]:
        expires_in = data.get("expires_in", 7200)
        return tokens.FetchedToken(data["access_token"], float(expires_in) if expires_in else 7200.0)
    code = _errcode(reply)
    raise tokens.TokenError(
        f"WeChat token error {code}: {_errmsg(reply)}", retryable=code in (None, SYSTEM_BUSY)
    )


API = tokens.TokenApi(
    key=lambda creds: tokens.token_key(CHANNEL, creds["app_id"]),
    fetch=fetch_access_token,
    rejected=lambda reply: reply.ok and _errcode(reply) in TOKEN_REJECTED,
    local_token=LOCAL_ACCESS_TOKEN,
)


#: media/get's errcode for a media_id it does not (or no longer) know
INVALID_MEDIA_ID = 40007


def media_refusal(platform: str) -> Callable[[HttpReply], str | None]:
    """How the WeChat family's ``media/get`` refuses: HTTP 200 with JSON ``{"errcode", "errmsg"}``
    instead of the file (shared by WeChat and WeCom)."""

    def refusal(reply: HttpReply) -> str | None:
        if not reply.ok or reply.recorded or not reply.body.lstrip()[:1] == b"{":
            return None
        code = _errcode(reply)
        if code == INVALID_MEDIA_ID:
            return f"{platform} no longer has this file (temporary media are kept 3 days)"
        return f"{platform} error {code}: {_errmsg(reply)}" if code else None

    return refusal


def media_call(access_token: str, media_id: str, url: str = MEDIA_URL) -> HttpCall:
    """``GET media/get?access_token=&media_id=`` (WeChat's and WeCom's alike)."""
    return media_get(url, params={"access_token": access_token, "media_id": media_id})


def _custom_send_call(access_token: str, payload: Mapping[str, Any]) -> HttpCall:
    return json_post(CUSTOM_SEND_URL, payload, params={"access_token": access_token})


def _send_result(reply: HttpReply) -> SendResult:
    if not reply.ok:
        retryable = reply.status >= 500 or reply.status == 429
        return SendResult(status="failed", error=f"WeChat HTTP {reply.status}", retryable=retryable)
    code = _errcode(reply)
    if code == 0:
        return SendResult(status="sent")
    if code == OUTSIDE_REPLY_WINDOW:
        return SendResult(status="failed", error="outside the 48 h reply window")
    if code is None:
        return SendResult(status="failed", error="WeChat answered something unexpected", retryable=True)
    # A token rejected again right after a refresh is a race with another token holder: retry later.
    retryable = code == SYSTEM_BUSY or code in TOKEN_REJECTED
    return SendResult(status="failed", error=f"WeChat error {code}: {_errmsg(reply)}", retryable=retryable)


# ================================================================================================
# The adapter
# ================================================================================================


def _safe_mode(req: WebhookRequest) -> bool:
    mode = req.query.get("encrypt_type", "raw").lower()
    if mode not in ("raw", "aes", ""):
        raise BadRequest(f"unsupported encrypt_type {mode!r}")
    return mode == "aes"


def _encrypted_part(fields: Mapping[str, str]) -> str:
    encrypted = _opt(fields, "Encrypt")
    if encrypted is None:
        raise BadRequest("safe mode body without Encrypt")
    return encrypted


class WeChatAdapter(ChannelAdapter):
    """WeChat Official Account and Mini Program (XML or JSON, plaintext or safe mode)."""

    name = CHANNEL
    # aes_key is needed only by safe-mode accounts; it is checked when a safe-mode message arrives.
    credential_fields = ("token", "app_id", "app_secret")
    reply_window = 48 * 3600  # custom-send works for 48 h after the customer's last message

    def handshake(self, req: WebhookRequest, creds: Mapping[str, str]) -> Response | None:
        """The URL check WeChat (OA and Mini Program alike) makes when the server URL is saved."""
        return echo_handshake(req, creds["token"])

    def verify(self, req: WebhookRequest, creds: Mapping[str, str]) -> None:
        q, token = req.query, creds["token"]
        if _safe_mode(req):
            encrypted = _encrypted_part(parse_fields(req.body))
            check_signature(q.get("msg_signature"), token, q.get("timestamp"), q.get("nonce"), encrypted)
            if "signature" in q:  # sent alongside in safe mode: when present it must match too
                check_signature(q["signature"], token, q.get("timestamp"), q.get("nonce"))
        else:
            check_signature(q.get("signature"), token, q.get("timestamp"), q.get("nonce"))

    def parse(self, req: WebhookRequest, creds: Mapping[str, str]) -> Iterable[InboundMessage]:
        fields = parse_fields(req.body)
        safe = _safe_mode(req)
        if safe:
            aes_key = creds.get("aes_key")
            if not aes_key:
                raise ValueError(f"wechat account {self.account_of(req)!r} has no aes_key for safe mode")
            inner = MessageCrypto(aes_key, creds["app_id"]).decrypt(_encrypted_part(fields))
            fields = parse_fields(inner)
        return [normalize(fields, account=self.account_of(req), authenticated_body=safe)]

    def acknowledge(self, req: WebhookRequest, accepted: list[InboundMessage]) -> Response:
        return Response.text("success")

    def send(self, msg: OutboundMessage, creds: Mapping[str, str], http: Transport) -> SendResult:
        """One text reply through custom-send. The JSON is sent as UTF-8 bytes with Chinese left
        unescaped (``ensure_ascii=False``), as WeChat requires; ``requests``' ``json=`` would escape
        it. An access token WeChat rejects is dropped and the send retried once with a fresh one."""
        payload = {"touser": msg.channel_user_id, "msgtype": "text", "text": {"content": msg.text}}
        return deliver(lambda: API.call(creds, http, lambda t: _custom_send_call(t, payload)), _send_result)

    def fetch_media(self, creds: Mapping[str, str], attachment: Attachment, http: Transport) -> Media:
        """``media/get`` with the shared access token (retried once with a fresh token if WeChat
        rejects it). Videos come back as JSON ``{"video_url"}``, downloaded from there."""
        media_id = attachment.media_id
        if not media_id:
            raise MediaUnavailable("the attachment names no WeChat media id")

        def attempt() -> HttpReply:
            reply = API.call(creds, http, lambda t: media_call(t, media_id))
            data = reply.json() if reply.ok and reply.body.lstrip()[:1] == b"{" else None
            video = data.get("video_url") if isinstance(data, dict) else None
            return http.call(media_get(video)) if isinstance(video, str) and video else reply

        return download_media(
            attempt,
            platform="WeChat",
            name=attachment.name,
            mime_type=attachment.mime_type,
            refused=media_refusal("WeChat"),
        )


ADAPTER = WeChatAdapter()
