"""A stand-in for WeCom's kf API (微信客服) on the local stack, so a WeCom customer reaches an agent.

WeCom never pushes messages: its callback only says "messages wait for kf account X", and the
webhook then pulls them with ``sync_msg``. With nothing to pull from, the local stack could verify
callbacks but never deliver a WeCom message. So the stack serves, under ``/demo/wecom``:

- ``GET  cgi-bin/gettoken?corpid&corpsecret``: an access token (7200 s), for the stack's CorpID and
  kf secret only (``provision.DEMO_CHANNELS["wecom"]``, overridable like every demo credential);
- ``POST cgi-bin/kf/sync_msg?access_token``: the kf account's messages from an opaque cursor, paged
  (``limit``, ``has_more``, ``next_cursor``); a callback's ``token`` must be one it issued;
- ``POST cgi-bin/kf/send_msg?access_token``: a text reply, kept as what the customer received;
and, for the simulator and tests (WeCom's side of the conversation, not an API WeCom has):
- ``POST customer`` ``{"external_userid", "text", "open_kfid"?, "callback"?}``: the customer writes
  in WeChat: the message joins the kf account's log and, unless ``"callback": false``, WeCom's
  callback is made to the stack's ``/webhooks/wecom``, signed and encrypted with wechatpy's work
  crypto as WeCom does. Answers ``{"msgid", "token", "callback": {"status", "body"}}``;
- ``GET  sent?touser=``: the replies that customer received.

The webhook and the sender reach it through ``OMNIFLOW_STAND_INS`` (``channels/transport.py``
``StandInTransport``): the same adapter code as in production, only the host differs. State lives in
memory for the life of the stack, as moto's does.
"""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

PREFIX = "/demo/wecom"
DEFAULT_OPEN_KFID = "wkDemoShop0000000000000000001"
TOKEN_SECONDS = 7200
MSG_TOKEN_SECONDS = 600  # a callback's sync_msg token is valid 10 minutes


def _cursor(position: int) -> str:
    return base64.urlsafe_b64encode(f"pos:{position}".encode()).decode().rstrip("=")


def _position(cursor: str) -> int | None:
    if not cursor:
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        return int(text.removeprefix("pos:")) if text.startswith("pos:") else None
    except ValueError:
        return None


def _answer(data: dict[str, Any], status: int = 200) -> tuple[int, dict[str, Any]]:
    return status, data


@dataclass
class KfStandIn:
    corp_id: str
    secret: str
    token: str  # the callback's signing token
    aes_key: str
    callback_url: str
    logs: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    access_tokens: dict[str, float] = field(default_factory=dict)
    msg_tokens: dict[str, float] = field(default_factory=dict)
    sent: list[dict[str, Any]] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    # ---- the kf API ---------------------------------------------------------------------------
    def handle(self, method: str, path: str, query: str, body: bytes) -> tuple[int, dict[str, Any]]:
        """``(status, JSON)`` for ``path`` below ``/demo/wecom``."""
        q = {k: v[0] for k, v in parse_qs(query).items()}
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            return _answer({"errcode": 47001, "errmsg": "data format error"})
        if not isinstance(data, dict):
            return _answer({"errcode": 47001, "errmsg": "data format error"})
        route = (method, path.rstrip("/"))
        if route == ("GET", "/cgi-bin/gettoken"):
            return self.gettoken(q)
        if route == ("POST", "/cgi-bin/kf/sync_msg"):
            return self.sync_msg(q, data)
        if route == ("POST", "/cgi-bin/kf/send_msg"):
            return self.send_msg(q, data)
        if route == ("POST", "/customer"):
            return self.customer_writes(data)
        if route == ("GET", "/sent"):
            return _answer({"items": self.received_by(q.get("touser", ""))})
        return _answer({"errcode": 404, "errmsg": "not found"}, 404)

    def gettoken(self, q: dict[str, str]) -> tuple[int, dict[str, Any]]:
        if q.get("corpid") != self.corp_id:
            return _answer({"errcode": 40013, "errmsg": "invalid corpid"})
        if q.get("corpsecret") != self.secret:
            return _answer({"errcode": 40001, "errmsg": "invalid credential"})
        token = "LOCAL_" + secrets.token_urlsafe(24)
        with self._lock:
            self.access_tokens[token] = time.time() + TOKEN_SECONDS
        return _answer({"errcode": 0, "errmsg": "ok", "access_token": token, "expires_in": TOKEN_SECONDS})

    def _authorized(self, q: dict[str, str]) -> bool:
        with self._lock:
            return self.access_tokens.get(q.get("access_token", ""), 0) > time.time()

    def sync_msg(self, q: dict[str, str], body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if not self._authorized(q):
            return _answer({"errcode": 40014, "errmsg": "invalid access_token"})
        token = body.get("token")
        if token is not None:
            with self._lock:
                valid = self.msg_tokens.get(str(token), 0) > time.time()
            if not valid:
                return _answer({"errcode": 95007, "errmsg": "invalid msg token"})
        limit, position = body.get("limit", 1000), _position(str(body.get("cursor") or ""))
        if not isinstance(limit, int) or not 1 <= limit <= 1000 or position is None:
            return _answer({"errcode": 40058, "errmsg": "invalid parameter"})
        with self._lock:
            log = self.logs.get(str(body.get("open_kfid") or ""), [])
            page = log[position : position + limit]
            end = position + len(page)
            has_more = int(end < len(log))
        return _answer(
            {
                "errcode": 0,
                "errmsg": "ok",
                "next_cursor": _cursor(end),
                "has_more": has_more,
                "msg_list": page,
            }
        )

    def send_msg(self, q: dict[str, str], body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if not self._authorized(q):
            return _answer({"errcode": 40014, "errmsg": "invalid access_token"})
        text = body.get("text") if isinstance(body.get("text"), dict) else None
        if not body.get("touser") or not body.get("open_kfid") or body.get("msgtype") != "text" or not text:
            return _answer({"errcode": 40058, "errmsg": "invalid parameter"})
        with self._lock:
            msgid = f"LOCALMSG{len(self.sent) + 1:06d}"
            self.sent.append({**body, "msgid": msgid, "send_time": int(time.time())})
        return _answer({"errcode": 0, "errmsg": "ok", "msgid": msgid})

    def received_by(self, touser: str) -> list[dict[str, Any]]:
        with self._lock:
            return [m for m in self.sent if m.get("touser") == touser]

    # ---- WeCom's side: a customer writes, WeCom calls back -------------------------------------
    def customer_writes(self, data: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        user, text = data.get("external_userid"), data.get("text")
        if not isinstance(user, str) or not user or not isinstance(text, str) or not text:
            return _answer({"errcode": 40058, "errmsg": "external_userid and text are required"}, 400)
        open_kfid = str(data.get("open_kfid") or DEFAULT_OPEN_KFID)
        msgid = "LOCAL" + uuid.uuid4().hex[:20]
        token = "ENC" + secrets.token_urlsafe(24)
        entry = {
            "msgid": msgid,
            "open_kfid": open_kfid,
            "external_userid": user,
            "send_time": int(time.time()),
            "origin": 3,  # a customer's message
            "msgtype": "text",
            "text": {"content": text},
        }
        with self._lock:
            self.logs.setdefault(open_kfid, []).append(entry)
            self.msg_tokens[token] = time.time() + MSG_TOKEN_SECONDS
        out: dict[str, Any] = {"msgid": msgid, "token": token, "open_kfid": open_kfid}
        if data.get("callback", True) is not False:
            out["callback"] = self.call_back(token, open_kfid)
        return _answer(out)

    def callback_request(self, token: str, open_kfid: str) -> tuple[dict[str, str], str]:
        """The query and body of WeCom's ``kf_msg_or_event`` callback, encrypted by wechatpy."""
        import xmltodict
        from wechatpy.crypto import WeChatCrypto

        timestamp, nonce = str(int(time.time())), secrets.token_hex(8)
        inner = (
            f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName>"
            f"<CreateTime>{timestamp}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
            f"<Event><![CDATA[kf_msg_or_event]]></Event><Token><![CDATA[{token}]]></Token>"
            f"<OpenKfId><![CDATA[{open_kfid}]]></OpenKfId></xml>"
        )
        sealed = xmltodict.parse(
            WeChatCrypto(self.token, self.aes_key, self.corp_id).encrypt_message(inner, nonce, timestamp)
        )["xml"]
        body = (
            f"<xml><ToUserName><![CDATA[{self.corp_id}]]></ToUserName>"
            f"<Encrypt><![CDATA[{sealed['Encrypt']}]]></Encrypt><AgentID><![CDATA[1000002]]></AgentID></xml>"
        )
        query = {
            "msg_signature": sealed["MsgSignature"],
            "timestamp": sealed["TimeStamp"],
            "nonce": sealed["Nonce"],
        }
        return query, body

    def call_back(self, token: str, open_kfid: str) -> dict[str, Any]:
        import requests

        query, body = self.callback_request(token, open_kfid)
        resp = requests.post(
            self.callback_url,
            params=query,
            data=body.encode(),
            headers={"Content-Type": "text/xml"},
            timeout=30,
        )
        return {"status": resp.status_code, "body": resp.text[:200]}


_STAND_IN: KfStandIn | None = None
_CREATE = threading.Lock()


def stand_in() -> KfStandIn:
    """The stack's stand-in, made on first use from the stack's WeCom credentials and public URL."""
    global _STAND_IN
    with _CREATE:
        if _STAND_IN is None:
            import os

            from infra.local.provision import channel_credentials

            creds = channel_credentials()["wecom"]["default"]
            public = (os.environ.get("OMNIFLOW_PUBLIC_URL") or "http://127.0.0.1:8000").rstrip("/")
            _STAND_IN = KfStandIn(
                corp_id=creds["corp_id"],
                secret=creds["secret"],
                token=creds["token"],
                aes_key=creds["aes_key"],
                callback_url=f"{public}/webhooks/wecom",
            )
        return _STAND_IN


def answer(method: str, path: str, query: str, body: bytes) -> tuple[int, dict[str, Any]]:
    """What the local gateway serves at ``/demo/wecom/<path>``."""
    return stand_in().handle(method, path[len(PREFIX) :] or "/", query, body)
