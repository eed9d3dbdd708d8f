"""WeCom's callback crypto checked against wechatpy, and the two halves of WeCom's servers that every
WeCom test plays:

- ``WeComPlatform`` signs and encrypts callbacks and URL checks only through wechatpy's WeCom
  crypto (``wechatpy.enterprise.crypto``, the 1.8 name of 2.x's ``wechatpy.work.crypto``: the same
  code with the CorpID as trailing id), never through ours;
- ``KfServer`` is WeCom's kf HTTP API (gettoken, sync_msg with cursor paging, send_msg) as
  ``responses`` callbacks, following WeCom's documented request and answer shapes, so the adapter's
  real HTTP calls are answered and can be asserted.

The integration tests import both from here.
"""

from __future__ import annotations

import base64
import json
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import responses
import xmltodict
from wechatpy.enterprise.crypto import PrpCrypto, WeChatCrypto
from wechatpy.exceptions import InvalidSignatureException
from wechatpy.utils import WeChatSigner, to_text

from chalicelib.channels.base import Forbidden
from chalicelib.channels.wechat import MessageCrypto, check_signature

TOKEN = "omniflow-demo-wecom-token"
AES_KEY = "WeComDemoAesKey0123456789abcdefghijklmnopqr"
CORP_ID = "ww0demo0omniflow01"
SECRET = "omniflow-demo-wecom-kf-secret"
OPEN_KFID = "wkDemoKf0000000000000000001"
TIMESTAMP = "1700000000"
NONCE = "1372623149"

TOKEN_URL = "https://qyapi.weixin.qq.com/cgi-bin/gettoken"
SYNC_MSG_URL = "https://qyapi.weixin.qq.com/cgi-bin/kf/sync_msg"
SEND_MSG_URL = "https://qyapi.weixin.qq.com/cgi-bin/kf/send_msg"


@dataclass(frozen=True)
class WeComPlatform:
    """What WeCom's servers send for one corp's kf callback URL, produced by wechatpy."""

    token: str = TOKEN
    aes_key: str = AES_KEY
    corp_id: str = CORP_ID

    def crypto(self) -> WeChatCrypto:
        return WeChatCrypto(self.token, self.aes_key, self.corp_id)

    def signature(self, timestamp: str, nonce: str, encrypted: str) -> str:
        signer = WeChatSigner()
        signer.add_data(self.token, timestamp, nonce, encrypted)
        return signer.signature

    def encrypted_echostr(self, plain: str) -> str:
        key = base64.b64decode(self.aes_key + "=")
        return to_text(PrpCrypto(key).encrypt(plain, self.corp_id))

    def handshake_query(self, plain: str, timestamp: str = TIMESTAMP, nonce: str = NONCE) -> dict[str, str]:
        """The URL check's query: an encrypted echostr and msg_signature over it."""
        echostr = self.encrypted_echostr(plain)
        sig = self.signature(timestamp, nonce, echostr)
        assert self.crypto().check_signature(sig, timestamp, nonce, echostr) == plain  # wechatpy agrees
        return {"msg_signature": sig, "timestamp": timestamp, "nonce": nonce, "echostr": echostr}

    def callback(
        self, inner_xml: str, timestamp: str = TIMESTAMP, nonce: str = NONCE, agent_id: str = "1000002"
    ) -> tuple[str, dict[str, str]]:
        """Body and query of a callback POST (``<xml><ToUserName/><Encrypt/><AgentID/></xml>``)."""
        out = xmltodict.parse(self.crypto().encrypt_message(inner_xml, nonce, timestamp))["xml"]
        body = (
            f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName>"
            f"<Encrypt><![CDATA[{out['Encrypt']}]]></Encrypt>"
            f"<AgentID><![CDATA[{agent_id}]]></AgentID></xml>"
        )
        query = {"msg_signature": out["MsgSignature"], "timestamp": out["TimeStamp"], "nonce": out["Nonce"]}
        return body, query

    def kf_callback(
        self, token: str, open_kfid: str = OPEN_KFID, **kwargs: str
    ) -> tuple[str, dict[str, str]]:
        """The only callback WeCom kf sends for messages: ``kf_msg_or_event``."""
        return self.callback(kf_event_xml(token, open_kfid), **kwargs)


def kf_event_xml(token: str, open_kfid: str = OPEN_KFID, create_time: int = 1700000000) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{CORP_ID}]]></ToUserName><CreateTime>{create_time}</CreateTime>"
        f"<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event>"
        f"<Token><![CDATA[{token}]]></Token><OpenKfId><![CDATA[{open_kfid}]]></OpenKfId></xml>"
    )


# ---- sync_msg entries as WeCom documents them ----------------------------------------------------


def customer_message(
    msgid: str,
    msgtype: str = "text",
    content: dict[str, Any] | None = None,
    user: str = "wmCustomer0000000000000001",
    send_time: int = 1700000100,
    open_kfid: str = OPEN_KFID,
    origin: int = 3,
) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "msgid": msgid,
        "open_kfid": open_kfid,
        "external_userid": user,
        "send_time": send_time,
        "origin": origin,
        "msgtype": msgtype,
    }
    if origin == 5:
        entry["servicer_userid"] = "zhangsan"
    entry[msgtype] = content if content is not None else {"content": f"message {msgid}"}
    return entry


def event_message(msgid: str, event: dict[str, Any], send_time: int = 1700000100) -> dict[str, Any]:
    # Events carry open_kfid / external_userid inside ``event`` only.
    return {"msgid": msgid, "send_time": send_time, "origin": 4, "msgtype": "event", "event": event}


# ---- WeCom's kf API ------------------------------------------------------------------------------


def _cursor(position: int) -> str:
    # Opaque to clients, as WeCom's are.
    return base64.urlsafe_b64encode(f"pos:{position}".encode()).decode().rstrip("=")


def _position(cursor: str) -> int | None:
    if cursor == "":
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except ValueError:
        return None
    return int(text[4:]) if text.startswith("pos:") and text[4:].isdigit() else None


@dataclass
class KfServer:
    """WeCom's kf API for one corp. ``page_size`` caps pages below the asked ``limit`` (WeCom may
    return fewer than asked). ``sync_answers`` / ``send_answers`` queue canned error answers that are
    served (once each) before the normal behaviour; ``on_sync`` runs on every sync_msg request."""

    rsps: responses.RequestsMock
    corp_id: str = CORP_ID
    secret: str = SECRET
    page_size: int = 1000
    logs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    msg_tokens: set[str] = field(default_factory=set)
    access_tokens: list[str] = field(default_factory=list)
    sync_requests: list[dict[str, Any]] = field(default_factory=list)
    sent: list[dict[str, Any]] = field(default_factory=list)
    sync_answers: list[Any] = field(default_factory=list)
    send_answers: list[Any] = field(default_factory=list)
    on_sync: Callable[[dict[str, Any]], None] | None = None
    delay: float = 0.0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.rsps.add_callback(responses.GET, TOKEN_URL, callback=self._gettoken)
        self.rsps.add_callback(responses.POST, SYNC_MSG_URL, callback=self._sync_msg)
        self.rsps.add_callback(responses.POST, SEND_MSG_URL, callback=self._send_msg)

    # ---- test controls ---------------------------------------------------------------------------
    def add(self, *entries: dict[str, Any], open_kfid: str = OPEN_KFID) -> None:
        with self._lock:
            self.logs.setdefault(open_kfid, []).extend(entries)

    def new_msg_token(self) -> str:
        """What a callback carries: a token for sync_msg, valid 10 minutes."""
        token = "ENC" + uuid.uuid4().hex
        self.msg_tokens.add(token)
        return token

    def cursor_after(self, count: int) -> str:
        return _cursor(count)

    def calls(self, url: str) -> list[Any]:
        return [c for c in self.rsps.calls if c.request.url.split("?")[0] == url]

    # ---- the API ---------------------------------------------------------------------------------
    @staticmethod
    def _answer(data: dict[str, Any], status: int = 200) -> tuple[int, dict[str, str], str]:
        return status, {"content-type": "application/json"}, json.dumps(data, ensure_ascii=False)

    @staticmethod
    def _query(request: Any) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(urlsplit(request.url).query).items()}

    def _canned(self, answers: list[Any]) -> Any:
        with self._lock:
            answer = answers.pop(0) if answers else None
        if isinstance(answer, Exception):
            raise answer
        return answer

    def _gettoken(self, request: Any) -> tuple[int, dict[str, str], str]:
        q = self._query(request)
        if q.get("corpid") != self.corp_id:
            return self._answer({"errcode": 40013, "errmsg": "invalid corpid"})
        if q.get("corpsecret") != self.secret:
            return self._answer({"errcode": 40001, "errmsg": "invalid credential"})
        with self._lock:
            token = f"ACCESS_TOKEN_{len(self.access_tokens) + 1}"
            self.access_tokens.append(token)
        return self._answer({"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": 7200})

    def _authorized(self, request: Any) -> bool:
        return self._query(request).get("access_token") in self.access_tokens

    def _sync_msg(self, request: Any) -> tuple[int, dict[str, str], str]:
        body = json.loads(request.body)
        with self._lock:
            self.sync_requests.append(body)
        if self.on_sync is not None:
            self.on_sync(body)
        if self.delay:
            import time

            time.sleep(self.delay)  # a slow API, so concurrent pulls really overlap
        canned = self._canned(self.sync_answers)
        if canned is not None:
            return self._answer(canned) if isinstance(canned, dict) else canned
        if not self._authorized(request):
            return self._answer({"errcode": 40014, "errmsg": "invalid access_token"})
        if "token" in body and body["token"] not in self.msg_tokens:
            return self._answer({"errcode": 95007, "errmsg": "invalid msg token"})
        limit = body.get("limit", 1000)
        position = _position(body.get("cursor", ""))
        if not isinstance(limit, int) or not 1 <= limit <= 1000 or position is None:
            return self._answer({"errcode": 40058, "errmsg": "invalid parameter"})
        with self._lock:
            log = self.logs.get(body.get("open_kfid", ""), [])
            page = log[position : position + min(limit, self.page_size)]
            end = position + len(page)
            has_more = int(end < len(log))
        return self._answer(
            {
                "errcode": 0,
                "errmsg": "ok",
                "next_cursor": _cursor(end),
                "has_more": has_more,
                "msg_list": page,
            }
        )

    def _send_msg(self, request: Any) -> tuple[int, dict[str, str], str]:
        canned = self._canned(self.send_answers)
        if canned is not None:
            return self._answer(canned) if isinstance(canned, dict) else canned
        if not self._authorized(request):
            return self._answer({"errcode": 40014, "errmsg": "invalid access_token"})
        body = json.loads(request.body)
        if not body.get("touser") or not body.get("open_kfid") or body.get("msgtype") != "text":
            return self._answer({"errcode": 40058, "errmsg": "invalid parameter"})
        with self._lock:
            self.sent.append(body)
            msgid = f"MSG{len(self.sent):04d}"
        return self._answer({"errcode": 0, "errmsg": "ok", "msgid": msgid})


# ================================================================================================
# Our crypto against wechatpy's WeCom crypto
# ================================================================================================

PLATFORM = WeComPlatform()


def test_our_cipher_opens_what_wechatpy_encrypts_for_a_corp():
    encrypted = PLATFORM.encrypted_echostr("4470596651183396128")
    assert MessageCrypto(AES_KEY, CORP_ID).decrypt(encrypted) == b"4470596651183396128"


def test_wechatpy_opens_what_our_cipher_encrypts_with_the_corp_id():
    inner = kf_event_xml("ENCtoken")
    encrypted = MessageCrypto(AES_KEY, CORP_ID).encrypt(inner.encode())
    sig = PLATFORM.signature(TIMESTAMP, NONCE, encrypted)
    plain = PLATFORM.crypto().decrypt_message(
        f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>", sig, TIMESTAMP, NONCE
    )
    assert plain == inner


def test_a_ciphertext_for_another_corp_is_refused():
    encrypted = WeComPlatform(corp_id="ww0another0corp").encrypted_echostr("x")
    with pytest.raises(Forbidden):
        MessageCrypto(AES_KEY, CORP_ID).decrypt(encrypted)


def test_msg_signature_covers_the_encrypted_part_as_wechatpy_computes_it():
    body, query = PLATFORM.kf_callback("ENCtoken")
    encrypted = xmltodict.parse(body)["xml"]["Encrypt"]
    check_signature(query["msg_signature"], TOKEN, query["timestamp"], query["nonce"], encrypted)
    with pytest.raises(InvalidSignatureException):
        PLATFORM.crypto().decrypt_message(body, "0" * 40, query["timestamp"], query["nonce"])
    with pytest.raises(Forbidden):
        check_signature("0" * 40, TOKEN, query["timestamp"], query["nonce"], encrypted)
