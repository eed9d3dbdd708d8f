"""WeCom 微信客服 (WeChat Customer Service, "kf"), in and out.

WeCom does not push messages: its callback only says "something is waiting" for one kf account
(``kf_msg_or_event`` with a short-lived ``Token`` and the ``OpenKfId``), and the messages are then
pulled with ``POST /cgi-bin/kf/sync_msg`` from a cursor kept per kf account. So this module supplies
the WeCom steps of the shared webhook pipeline, with the pull inside ``parse``:

- ``handshake``: the GET URL check. Unlike WeChat's, its ``echostr`` is encrypted: the
  ``msg_signature`` covers it, and the answer is its plaintext (within 1 s);
- ``verify``: ``msg_signature`` over the callback's ``Encrypt``;
- ``parse``: decrypt the callback (WeChat's cipher with the CorpID as trailing id), then pull:
  page by page, each page's messages enqueued (``pipeline.enqueue_once``) *before* the cursor is
  advanced with a conditional write, so a crash re-pulls a page (the enqueue dedupes it) and a racing
  puller can never move the cursor backwards. The pull is bounded (WeCom gives up after 5 s and
  retries): what is left waits for the next callback, which comes with the customer's next message;
- ``acknowledge``: plain ``success``.

Outbound, ``send`` posts through ``/cgi-bin/kf/send_msg``. The kf account a customer wrote to
travels in ``reply_context["open_kfid"]``. WeCom allows replies only within 48 h of the customer's
last message and 5 per customer message; the adapter declares both (``reply_window``,
``replies_per_inbound``) so the core refuses earlier, and WeCom's own refusals (95xxx) become
permanent failures an agent can read.

Refusals: a missing signature is 401, a wrong one (or a ciphertext that does not open with our key
and CorpID) is 403, a malformed, DTD- or entity-bearing body is 400. If WeCom's API fails during the
pull the answer is 503, so WeCom retries the callback and the retry continues from the saved cursor.
"""

from __future__ import annotations

import hashlib
import math
import time
from collections.abc import Callable
from collections.abc import Iterable
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from functools import lru_cache
from typing import Any
from typing import Literal

from botocore.exceptions import ClientError
from pydantic import ValidationError

from chalicelib.aws import client
from chalicelib.channels import tokens
from chalicelib.channels.base import BadRequest
from chalicelib.channels.base import ChannelAdapter
from chalicelib.channels.base import Content
from chalicelib.channels.base import MethodNotAllowed
from chalicelib.channels.base import Response
from chalicelib.channels.base import RetryLater
from chalicelib.channels.base import WebhookRequest
from chalicelib.channels.base import deliver
from chalicelib.channels.transport import HttpCall
from chalicelib.channels.transport import HttpReply
from chalicelib.channels.transport import LiveTransport
from chalicelib.channels.transport import Media
from chalicelib.channels.transport import MediaUnavailable
from chalicelib.channels.transport import Transport
from chalicelib.channels.transport import TransportError
from chalicelib.channels.transport import download_media
from chalicelib.channels.transport import json_post
from chalicelib.channels.transport import transport_for
from chalicelib.channels.wechat import MessageCrypto
from chalicelib.channels.wechat import _errcode as errcode_of
from chalicelib.channels.wechat import _errmsg as errmsg_of
from chalicelib.channels.wechat import check_signature
from chalicelib.channels.wechat import media_call
from chalicelib.channels.wechat import media_refusal
from chalicelib.channels.wechat import parse_xml_fields
from chalicelib.config import settings
from chalicelib.messages import Attachment
from chalicelib.messages import DeliveryStatus
from chalicelib.messages import InboundMessage
from chalicelib.messages import Location
from chalicelib.messages import OutboundMessage
from chalicelib.messages import SendResult
from chalicelib.observability import logger

CHANNEL = "wecom"
API_BASE = "https://qyapi.weixin.qq.com/cgi-bin"
TOKEN_URL = f"{API_BASE}/gettoken"
SYNC_MSG_URL = f"{API_BASE}/kf/sync_msg"
SEND_MSG_URL = f"{API_BASE}/kf/send_msg"
MEDIA_URL = f"{API_BASE}/media/get"
LOCAL_ACCESS_TOKEN = "local-access-token"  # what the local stack records instead of a real token

#: WeCom's limits on replies, enforced by the core before a reply is even queued.
REPLY_WINDOW_SECONDS = 48 * 3600
REPLIES_PER_INBOUND = 5
MAX_TEXT_BYTES = 2048  # kf/send_msg: "content … 最长不超过2048个字节"

# ---- the pull's bounds. WeCom waits 5 s for the callback's answer; time spent before ``parse``
# (cold start, credentials) is not visible here, so the bounds leave room for it.
#: Messages asked for per sync_msg page. WeCom allows up to 1000, but a page is only done (and the
#: cursor moved) once all its messages are enqueued, at ~3 AWS calls each: a page that does not fit
#: in one callback is pulled again whole, so pages are kept small enough to finish.
PAGE_LIMIT = 50
MAX_PAGES = 10
PULL_SECONDS = 2.0  # no new page is fetched after this long in ``parse``
ENQUEUE_SECONDS = 3.5  # and no further message enqueued (the page is then re-pulled next time)
HTTP_TIMEOUT_SECONDS = 1.5  # one hung call must not eat the callback's whole 5 s

#: errcodes meaning "this access token is not (or no longer) valid": drop it, fetch anew, retry once
TOKEN_REJECTED = frozenset({40014, 42001})
SYSTEM_BUSY = -1
API_FREQ_LIMIT = 45009
INVALID_MSG_TOKEN = 95007  # the callback's Token expired (10 min) or was already replaced

ORIGIN_CUSTOMER, ORIGIN_SYSTEM, ORIGIN_SERVICER = 3, 4, 5

#: WeCom kf errcodes an agent can act on, in words. Any other 95xxx is a kf refusal too.
KF_ERRORS: dict[int, str] = {
    95000: "WeCom does not know this kf account (invalid open_kfid)",
    95001: "WeCom allows at most 5 replies per customer message: wait until the customer writes again",
    95002: "outside WeCom's 48 h reply window: the customer has to write again",
    95004: "this kf account no longer exists in WeCom (open_kfid not found)",
    95016: "WeCom does not allow this session state change (不允许这种状态转换)",
    95018: (
        "WeCom does not accept API replies in this session's current state (it is queued for, or"
        " served by, a servicer in the WeCom app, or has ended): reply from the WeCom app, or leave"
        " the kf account's sessions to the API"
    ),
    95024: "the customer has not written in the last 48 h: WeCom refuses replies until they do",
}

#: ``msg_send_fail`` events: why WeCom could not deliver one of our messages.
FAIL_TYPES: dict[int, str] = {
    0: "unknown reason",
    1: "the kf account was deleted",
    2: "the kf application is closed",
    4: "the session expired (more than 48 h)",
    5: "the session is closed",
    6: "more than 5 replies to one customer message",
    7: "no WeChat Channels account is bound",
    8: "the company is not verified",
    9: "no WeChat Channels account is bound and the company is not verified",
    10: "the customer refuses messages",
}

_SESSION_CHANGES = {1: "taken from the queue", 2: "transferred", 3: "ended"}
_UNSUPPORTED = "[unsupported WeCom message type: {}]"

# ================================================================================================
# Callback: the encrypted "messages are waiting" event
# ================================================================================================


@dataclass(frozen=True)
class KfCallback:
    """What a ``kf_msg_or_event`` callback says: pull ``open_kfid`` with this ``token``."""

    token: str
    open_kfid: str


def crypto(creds: Mapping[str, str]) -> MessageCrypto:
    """WeChat's message cipher with the CorpID as the receive id (WeCom's rule)."""
    return MessageCrypto(creds["aes_key"], creds["corp_id"])


def encrypted_part(body: bytes) -> str:
    """``Encrypt`` of a callback ``<xml><ToUserName/><Encrypt/><AgentID/></xml>`` (400 if absent)."""
    encrypted = parse_xml_fields(body).get("Encrypt", "").strip()
    if not encrypted:
        raise BadRequest("callback without Encrypt")
    return encrypted


def callback_event(plain: bytes) -> KfCallback | None:
    """The decrypted callback as a pull request, or None for the kf events that announce no
    messages (e.g. ``kf_account_auth_change``): those are acknowledged and otherwise ignored."""
    fields = parse_xml_fields(plain)
    event = fields.get("Event", "").strip()
    if fields.get("MsgType", "").strip().lower() != "event" or event != "kf_msg_or_event":
        logger.info("wecom callback ignored", extra={"event": event or fields.get("MsgType", "")})
        return None
    token, open_kfid = fields.get("Token", "").strip(), fields.get("OpenKfId", "").strip()
    if not token or not open_kfid:
        raise BadRequest("kf_msg_or_event without Token or OpenKfId")
    return KfCallback(token=token, open_kfid=open_kfid)


# ================================================================================================
# Normalization: one sync_msg entry → InboundMessage (pure)
# ================================================================================================


class MalformedMessage(ValueError):
    """A sync_msg entry we cannot turn into a message (no msgid, no customer, bad time …)."""


def _part(item: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    value = item.get(name)
    return value if isinstance(value, dict) else {}


def _str(data: Mapping[str, Any], name: str) -> str | None:
    """A string member, stripped; None when absent, empty or not a string."""
    value = data.get(name)
    if not isinstance(value, str):
        return None
    return value.strip() or None


def _joined(*parts: str | None) -> str:
    return "\n".join(p for p in parts if p)


def _media(kind: Literal["image", "voice", "video", "file"]) -> Callable[[Mapping[str, Any]], Content]:
    """Media arrive as a ``media_id`` only (fetched on demand with kf's media API, 3 days)."""

    def build(item: Mapping[str, Any]) -> Content:
        media_id = _str(_part(item, kind), "media_id")
        mime = "audio/amr" if kind == "voice" else None  # sync_msg's default voice_format 0 is AMR
        return {"type": kind, "attachments": (Attachment(kind=kind, media_id=media_id, mime_type=mime),)}

    return build


def _text(item: Mapping[str, Any]) -> Content:
    return {"type": "text", "text": _str(_part(item, "text"), "content") or ""}


def _coordinate(data: Mapping[str, Any], name: str, bound: float) -> float:
    value = data.get(name)
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            value = None
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise MalformedMessage(f"location {name} is not a number")
    if abs(value) > bound:
        raise MalformedMessage(f"location {name} out of range")
    return float(value)


def _location(item: Mapping[str, Any]) -> Content:
    loc = _part(item, "location")
    where = Location(
        latitude=_coordinate(loc, "latitude", 90),
        longitude=_coordinate(loc, "longitude", 180),
        label=_joined(_str(loc, "name"), _str(loc, "address")) or None,
    )
    return {"type": "location", "location": where}


def _link(item: Mapping[str, Any]) -> Content:
    link = _part(item, "link")
    return {"type": "text", "text": _joined(_str(link, "title"), _str(link, "desc"), _str(link, "url"))}


def _miniprogram(item: Mapping[str, Any]) -> Content:
    mini = _part(item, "miniprogram")
    return {"type": "text", "text": _joined(_str(mini, "title"), _str(mini, "pagepath"))}


def _business_card(item: Mapping[str, Any]) -> Content:
    return {"type": "text", "text": f"[business card: {_str(_part(item, 'business_card'), 'userid') or '?'}]"}


_CONTENT: dict[str, Callable[[Mapping[str, Any]], Content]] = {
    "text": _text,
    "image": _media("image"),
    "voice": _media("voice"),
    "video": _media("video"),
    "file": _media("file"),
    "location": _location,
    "link": _link,
    "miniprogram": _miniprogram,
    "business_card": _business_card,
}


def _event_content(event_type: str, ev: Mapping[str, Any]) -> Content:
    if event_type == "msg_send_fail":
        fail_msgid = _str(ev, "fail_msgid")
        if not fail_msgid:
            raise MalformedMessage("msg_send_fail without fail_msgid")
        fail_type = ev.get("fail_type")
        reason = FAIL_TYPES.get(fail_type, f"fail_type {fail_type}") if isinstance(fail_type, int) else None
        status = DeliveryStatus(
            platform_message_id=fail_msgid, state="failed", error=f"WeCom could not deliver: {reason}"
        )
        return {"type": "status", "status": status}
    if event_type == "enter_session":
        # scene / scene_param: where the customer opened the chat (the kf link's parameters)
        text = _joined(_str(ev, "scene"), _str(ev, "scene_param"))
    elif event_type == "session_status_change":
        change = ev.get("change_type")
        text = _SESSION_CHANGES.get(change, "") if isinstance(change, int) else ""
    elif event_type == "user_recall_msg":
        text = _str(ev, "recall_msgid") or ""
    else:
        text = ""
    return {"type": "event", "event": event_type, "text": text}


def _sent_at(item: Mapping[str, Any]) -> datetime:
    value = item.get("send_time")
    if not isinstance(value, int) or isinstance(value, bool):
        raise MalformedMessage("send_time is not a Unix timestamp")
    try:
        return datetime.fromtimestamp(value, tz=UTC)
    except (ValueError, OverflowError, OSError) as exc:
        raise MalformedMessage("send_time out of range") from exc


def normalize(item: Mapping[str, Any], *, account: str, open_kfid: str) -> InboundMessage | None:
    """One sync_msg entry as an InboundMessage, or None when it is not for the agents.

    - origin 3 (the customer): a message of its ``msgtype``;
    - origin 4 (WeCom): events about a customer become ``type="event"`` (``enter_session`` …), except
      ``msg_send_fail``, a failure report on one of *our* messages (``type="status"``); events with no
      customer (a servicer's status) are skipped;
    - origin 5 (a servicer typing in the WeCom app) is skipped: it is not the customer talking.

    ``open_kfid`` (the callback's) is the fallback when the entry does not name its kf account; it
    rides in ``reply_context`` so the reply goes out through the account the customer wrote to.
    Raises MalformedMessage for entries that cannot be messages.
    """
    origin = item.get("origin")
    if origin not in (ORIGIN_CUSTOMER, ORIGIN_SYSTEM):
        return None
    msgid = _str(item, "msgid")
    if not msgid:
        raise MalformedMessage("entry without msgid")
    msgtype = (_str(item, "msgtype") or "").lower()
    if origin == ORIGIN_SYSTEM:
        ev = _part(item, "event")
        event_type = _str(ev, "event_type")
        if msgtype != "event" or not event_type:
            raise MalformedMessage("system entry without an event_type")
        user = _str(ev, "external_userid") or _str(item, "external_userid")
        if not user:
            return None  # e.g. servicer_status_change: about our staff, not a customer
        kf = _str(ev, "open_kfid") or _str(item, "open_kfid") or open_kfid
        content = _event_content(event_type.lower(), ev)
    else:
        user = _str(item, "external_userid")
        if not user:
            raise MalformedMessage("customer message without external_userid")
        kf = _str(item, "open_kfid") or open_kfid
        builder = _CONTENT.get(msgtype)
        # Kept rather than dropped: an agent sees that the customer sent something we cannot show.
        content = builder(item) if builder else {"type": "text", "text": _UNSUPPORTED.format(msgtype)}
    try:
        return InboundMessage(
            channel=CHANNEL,
            account=account,
            channel_user_id=user,
            platform_message_id=msgid,
            sent_at=_sent_at(item),
            reply_context={"open_kfid": kf},
            **content,
        )
    except ValidationError as exc:
        raise MalformedMessage("entry does not fit the normalized format") from exc


# ================================================================================================
# WeCom API: access token, the calls around it, and the answers
# ================================================================================================


class PullFailed(Exception):
    """sync_msg could not be completed (WeCom down or refusing, token trouble, network). Not the
    caller's fault: the webhook answers 503 and WeCom retries the callback."""


def token_key(creds: Mapping[str, str]) -> str:
    """State-table key of the account's access token. A corp has one token per secret (the kf
    secret, each app's secret), so the key is the CorpID plus a fingerprint of the secret: accounts
    sharing corp and secret share the token, a rotated secret gets a fresh one."""
    fingerprint = hashlib.sha256(creds["secret"].encode("utf-8")).hexdigest()[:12]
    return tokens.token_key(CHANNEL, f"{creds['corp_id']}#{fingerprint}")


def fetch_access_token(creds: Mapping[str, str], http: Transport) -> tokens.FetchedToken:
    """``GET /cgi-bin/gettoken?corpid&corpsecret``: a new access token (7200 s). Raises TokenError
    (retryable when WeCom is busy or down) or TransportError (network; retryable)."""
    reply = http.call(
        HttpCall("GET", TOKEN_URL, params={"corpid": creds["corp_id"], "corpsecret": creds["secret"]})
    )
    if not reply.ok:
        raise tokens.TokenError(f"WeCom gettoken HTTP {reply.status}", retryable=reply.status >= 500)
    data = reply.json()
    code = errcode_of(reply)
    if (
        code == 0
        and isinstance(data, dict)
        and isinstance(data.get("access_token"), str)
        and data["access_token"]
    ):
        expires_in = data.get("expires_in")
        valid = float(expires_in) if isinstance(expires_in, int | float) and expires_in > 0 else 7200.0
        return tokens.FetchedToken(data["access_token"], valid)
    raise tokens.TokenError(
        f"WeCom gettoken error {code}: {errmsg_of(reply)}", retryable=code in (None, SYSTEM_BUSY)
    )


def _post_json(url: str, access_token: str, payload: Mapping[str, Any]) -> HttpCall:
    return json_post(url, payload, params={"access_token": access_token})


API = tokens.TokenApi(
    key=token_key,
    fetch=fetch_access_token,
    rejected=lambda reply: reply.ok and errcode_of(reply) in TOKEN_REJECTED,
    local_token=LOCAL_ACCESS_TOKEN,
)


def send_result(reply: HttpReply) -> SendResult:
    """kf/send_msg's answer as a SendResult. WeCom's kf refusals (95xxx: reply window, reply
    count, session state …) are permanent: retrying cannot change them, the agent must act."""
    if not reply.ok:
        retryable = reply.status >= 500 or reply.status == 429
        return SendResult(status="failed", error=f"WeCom HTTP {reply.status}", retryable=retryable)
    code = errcode_of(reply)
    data = reply.json()
    if code == 0:
        msgid = data.get("msgid") if isinstance(data, dict) else None
        return SendResult(
            status="sent", platform_message_id=msgid if isinstance(msgid, str) and msgid else None
        )
    if code is None:
        return SendResult(status="failed", error="WeCom answered something unexpected", retryable=True)
    if code in KF_ERRORS:
        return SendResult(status="failed", error=f"{KF_ERRORS[code]} (WeCom {code})")
    if 95000 <= code <= 95999:
        return SendResult(status="failed", error=f"WeCom kf refused the reply ({code}: {errmsg_of(reply)})")
    # A token rejected again right after a refresh is a race with another token holder: retry later.
    retryable = code in (SYSTEM_BUSY, API_FREQ_LIMIT) or code in TOKEN_REJECTED
    return SendResult(status="failed", error=f"WeCom error {code}: {errmsg_of(reply)}", retryable=retryable)


# ================================================================================================
# The pull: sync_msg pages → enqueue → cursor
# ================================================================================================


@dataclass(frozen=True)
class SyncPage:
    msg_list: list[Mapping[str, Any]]
    next_cursor: str
    has_more: bool


def sync_page(reply: HttpReply) -> SyncPage:
    """A successful sync_msg answer as a page; PullFailed for anything else."""
    if not reply.ok:
        raise PullFailed(f"WeCom sync_msg HTTP {reply.status}")
    code, data = errcode_of(reply), reply.json()
    if code != 0 or not isinstance(data, dict):
        raise PullFailed(f"WeCom sync_msg error {code}: {errmsg_of(reply)}")
    msg_list, cursor = data.get("msg_list", []), data.get("next_cursor", "")
    if not isinstance(msg_list, list) or not isinstance(cursor, str):
        raise PullFailed("WeCom sync_msg answered an unexpected shape")
    # has_more may be 1 with an empty msg_list (WeCom's docs): only has_more ends the pull.
    return SyncPage([m for m in msg_list if isinstance(m, dict)], cursor, data.get("has_more") in (1, True))


class CursorStore:
    """sync_msg cursors in the ``state`` table, one per kf account. Keyed by CorpID rather than our
    account name: the cursor belongs to WeCom's message stream, whatever we call the account.

    Item: ``key`` = ``cursor#wecom#<corp_id>#<open_kfid>``, ``cursor``, ``updated_at`` (epoch s).
    No TTL: losing a cursor means pulling WeCom's retained history again (deduped, but slow).
    """

    def __init__(self, corp_id: str) -> None:
        self.corp_id = corp_id

    def key(self, open_kfid: str) -> str:
        return f"cursor#{CHANNEL}#{self.corp_id}#{open_kfid}"

    @staticmethod
    def _table() -> str:
        return settings().table("state")

    def read(self, open_kfid: str) -> str | None:
        item = (
            client("dynamodb")
            .get_item(
                TableName=self._table(),
                Key={"key": {"S": self.key(open_kfid)}},
                ConsistentRead=True,  # a stale read would re-pull pages another callback finished
            )
            .get("Item")
        )
        return item["cursor"]["S"] if item and "cursor" in item else None

    def advance(self, open_kfid: str, read: str | None, new: str) -> bool:
        """Move the cursor from ``read`` (what this puller started from) to ``new``. False if another
        puller moved it meanwhile: cursors are opaque, so ours may be behind theirs, and we stop."""
        condition = "attribute_not_exists(#c)" if read is None else "#c = :read"
        values = {":new": {"S": new}, ":now": {"N": str(int(time.time()))}}
        if read is not None:
            values[":read"] = {"S": read}
        try:
            client("dynamodb").update_item(
                TableName=self._table(),
                Key={"key": {"S": self.key(open_kfid)}},
                UpdateExpression="SET #c = :new, updated_at = :now",
                ConditionExpression=condition,
                ExpressionAttributeNames={"#c": "cursor"},
                ExpressionAttributeValues=values,
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException":
                return False
            raise
        return True


@dataclass
class Puller:
    """Pulls one kf account's waiting messages into the inbound queue, within a time budget.

    Order per page: fetch → enqueue every message → advance the cursor. A crash between enqueue and
    cursor re-pulls the page and the idempotent enqueue absorbs it; a cursor write that finds
    another puller's cursor stops this one (that puller is ahead, or as far). Usable from a
    non-HTTP entry point too (e.g. a scheduled catch-up): it needs only credentials and a transport.
    """

    account: str
    creds: Mapping[str, str]
    http: Transport
    enqueue: Callable[[InboundMessage], None]
    cursors: CursorStore
    clock: Callable[[], float] = time.monotonic
    pull_seconds: float = PULL_SECONDS
    enqueue_seconds: float = ENQUEUE_SECONDS
    max_pages: int = MAX_PAGES

    def pull(self, open_kfid: str, callback_token: str | None) -> list[InboundMessage]:
        """The messages enqueued by this pull. Raises PullFailed when WeCom's API fails."""
        started = self.clock()
        accepted: list[InboundMessage] = []
        cursor = self.cursors.read(open_kfid)
        token = callback_token
        for _ in range(self.max_pages):
            if self.clock() - started >= self.pull_seconds:
                return self._deferred(accepted, open_kfid, "time budget")
            page, token = self._fetch(open_kfid, cursor, token)
            for item in page.msg_list:
                if self.clock() - started >= self.enqueue_seconds:
                    return self._deferred(accepted, open_kfid, "time budget (mid-page)")
                msg = self._normalize(item, open_kfid)
                if msg is None:
                    continue
                try:
                    self.enqueue(msg)
                except RetryLater:  # another callback is enqueuing this very message right now
                    logger.info("wecom pull yields to a concurrent one", extra={"open_kfid": open_kfid})
                    return accepted
                accepted.append(msg)
            if page.next_cursor and page.next_cursor != cursor:
                if not self.cursors.advance(open_kfid, cursor, page.next_cursor):
                    logger.info("wecom cursor moved by a concurrent pull", extra={"open_kfid": open_kfid})
                    return accepted
                cursor = page.next_cursor
            if not page.has_more:
                return accepted
        return self._deferred(accepted, open_kfid, "page cap")

    def _fetch(self, open_kfid: str, cursor: str | None, token: str | None) -> tuple[SyncPage, str | None]:
        """One sync_msg page. An expired callback Token (95007: WeCom retried late, or a replay) is
        dropped and the page asked for without it, which WeCom allows at a lower rate."""
        body: dict[str, Any] = {"cursor": cursor or "", "limit": PAGE_LIMIT, "open_kfid": open_kfid}
        try:
            reply = API.call(self.creds, self.http, lambda t: _post_json(SYNC_MSG_URL, t, _with(body, token)))
            if token is not None and reply.ok and errcode_of(reply) == INVALID_MSG_TOKEN:
                logger.info("wecom callback token expired; pulling without it")
                token = None
                reply = API.call(self.creds, self.http, lambda t: _post_json(SYNC_MSG_URL, t, body))
        except (tokens.TokenError, TransportError) as exc:
            raise PullFailed(str(exc)) from exc
        return sync_page(reply), token

    def _normalize(self, item: Mapping[str, Any], open_kfid: str) -> InboundMessage | None:
        try:
            return normalize(item, account=self.account, open_kfid=open_kfid)
        except MalformedMessage as exc:
            # Skipped, not fatal: one bad entry must not stall the kf account's stream forever.
            logger.error("wecom entry skipped", extra={"reason": str(exc), "msgid": str(item.get("msgid"))})
            return None

    @staticmethod
    def _deferred(accepted: list[InboundMessage], open_kfid: str, why: str) -> list[InboundMessage]:
        logger.warning(
            "wecom pull stopped; the rest waits for the next callback",
            extra={"reason": why, "open_kfid": open_kfid},
        )
        return accepted


def _with(body: Mapping[str, Any], token: str | None) -> dict[str, Any]:
    return {**body, "token": token} if token is not None else dict(body)


@lru_cache(maxsize=1)
def _live_transport() -> LiveTransport:
    # One per Lambda instance: keep-alive to qyapi.weixin.qq.com saves a TLS handshake per call.
    return LiveTransport(timeout=HTTP_TIMEOUT_SECONDS)


def webhook_transport() -> Transport:
    """HTTP for the pull: live, with a timeout short enough for WeCom's 5 s callback deadline; in
    the local stack, the kf API's stand-in when it runs one (``infra/local/wecom_kf.py``), else
    recording (nothing pulled)."""
    s = settings()
    if s.outbound_mode != "record":
        return _live_transport()
    return transport_for("record", s.stand_ins.get(CHANNEL))


def _enqueue(msg: InboundMessage) -> None:
    from chalicelib.channels.pipeline import enqueue_once  # the pipeline imports the channels

    enqueue_once(msg)


# ================================================================================================
# The adapter
# ================================================================================================


class WeComAdapter(ChannelAdapter):
    """WeCom 微信客服: encrypted callbacks, messages pulled with sync_msg, replies with send_msg."""

    name = CHANNEL
    credential_fields = ("corp_id", "secret", "token", "aes_key")
    enqueues_itself = True
    reply_window = REPLY_WINDOW_SECONDS
    replies_per_inbound = REPLIES_PER_INBOUND

    def __init__(self) -> None:
        self.clock: Callable[[], float] = time.monotonic  # the pull's budget clock (tests move it)

    def handshake(self, req: WebhookRequest, creds: Mapping[str, str]) -> Response | None:
        """The URL check made when the callback URL is saved: answer the decrypted ``echostr``."""
        if req.method == "POST":
            return None
        if req.method != "GET":
            raise MethodNotAllowed(f"{req.method} not supported")
        q = req.query
        echostr = q.get("echostr")
        if echostr is None:
            raise BadRequest("GET without echostr")
        # base64 has no spaces: a space is a "+" that a form-style decoder turned into one.
        echostr = echostr.replace(" ", "+")
        check_signature(q.get("msg_signature"), creds["token"], q.get("timestamp"), q.get("nonce"), echostr)
        try:
            plain = crypto(creds).decrypt(echostr).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadRequest("echostr does not hold text") from exc
        return Response.text(plain)

    def verify(self, req: WebhookRequest, creds: Mapping[str, str]) -> None:
        q = req.query
        encrypted = encrypted_part(req.body)
        check_signature(q.get("msg_signature"), creds["token"], q.get("timestamp"), q.get("nonce"), encrypted)

    def parse(self, req: WebhookRequest, creds: Mapping[str, str]) -> Iterable[InboundMessage]:
        """Decrypt the callback, then pull (and enqueue) what it announces. The messages returned
        are already on the queue (``enqueues_itself``): the pipeline does not send them again."""
        callback = callback_event(crypto(creds).decrypt(encrypted_part(req.body)))
        if callback is None:
            return []
        http = webhook_transport()
        if http.recording:
            logger.info("wecom: local stack, sync_msg not called", extra={"open_kfid": callback.open_kfid})
            return []
        puller = Puller(
            account=self.account_of(req),
            creds=creds,
            http=http,
            enqueue=_enqueue,
            cursors=CursorStore(creds["corp_id"]),
            clock=self.clock,
        )
        return puller.pull(callback.open_kfid, callback.token)

    def acknowledge(self, req: WebhookRequest, accepted: list[InboundMessage]) -> Response:
        return Response.text("success")

    def send(self, msg: OutboundMessage, creds: Mapping[str, str], http: Transport) -> SendResult:
        """One text reply through kf/send_msg, to the kf account the customer last wrote to."""
        open_kfid = msg.reply_context.get("open_kfid")
        if not open_kfid:
            return SendResult(
                status="failed",
                error="no WeCom kf account is known for this customer: they have to write to it first",
            )
        if len(msg.text.encode("utf-8")) > MAX_TEXT_BYTES:
            return SendResult(status="failed", error=f"longer than WeCom's {MAX_TEXT_BYTES}-byte text limit")
        payload = {
            "touser": msg.channel_user_id,
            "open_kfid": open_kfid,
            "msgtype": "text",
            "text": {"content": msg.text},
        }
        return deliver(
            lambda: API.call(creds, http, lambda t: _post_json(SEND_MSG_URL, t, payload)), send_result
        )

    def fetch_media(self, creds: Mapping[str, str], attachment: Attachment, http: Transport) -> Media:
        """``cgi-bin/media/get`` with the kf access token (the media_id sync_msg gave; 3 days)."""
        media_id = attachment.media_id
        if not media_id:
            raise MediaUnavailable("the attachment names no WeCom media id")
        return download_media(
            lambda: API.call(creds, http, lambda t: media_call(t, media_id, MEDIA_URL)),
            platform="WeCom",
            name=attachment.name,
            mime_type=attachment.mime_type,
            refused=media_refusal("WeCom"),
        )


ADAPTER = WeComAdapter()
