"""WeCom (微信客服) end to end on the local stack, through its kf API stand-in: a customer's message
announced by a callback that wechatpy's work crypto signs and encrypts, pulled by the webhook with
``gettoken`` + ``sync_msg`` from the stand-in, routed to an agent's queue; the agent's reply sent
with ``send_msg`` to the stand-in, which the customer then "receives"."""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
import requests
import xmltodict
from wechatpy.crypto import WeChatCrypto

from infra.local import simulate
from tests.e2e.conftest import Api, LocalStack

pytestmark = pytest.mark.e2e

DEADLINE = 60.0


def poll(what: str, probe: Any, timeout: float = DEADLINE) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.25)


def wecom_callback(token: str, open_kfid: str) -> tuple[dict[str, str], bytes]:
    """What WeCom's servers POST to the callback URL: ``kf_msg_or_event``, encrypted for the corp."""
    creds = simulate.credentials("wecom")
    timestamp, nonce = str(int(time.time())), uuid.uuid4().hex[:10]
    inner = (
        f"<xml><ToUserName><![CDATA[{creds['corp_id']}]]></ToUserName><CreateTime>{timestamp}</CreateTime>"
        "<MsgType><![CDATA[event]]></MsgType><Event><![CDATA[kf_msg_or_event]]></Event>"
        f"<Token><![CDATA[{token}]]></Token><OpenKfId><![CDATA[{open_kfid}]]></OpenKfId></xml>"
    )
    crypto = WeChatCrypto(creds["token"], creds["aes_key"], creds["corp_id"])
    sealed = xmltodict.parse(crypto.encrypt_message(inner, nonce, timestamp))["xml"]
    body = (
        f"<xml><ToUserName><![CDATA[{creds['corp_id']}]]></ToUserName>"
        f"<Encrypt><![CDATA[{sealed['Encrypt']}]]></Encrypt><AgentID><![CDATA[1000002]]></AgentID></xml>"
    )
    query = {
        "msg_signature": sealed["MsgSignature"],
        "timestamp": sealed["TimeStamp"],
        "nonce": sealed["Nonce"],
    }
    return query, body.encode()


def test_a_wecom_customer_reaches_an_agent_and_the_reply_reaches_the_customer(
    local_stack: LocalStack, supervisor: Api
) -> None:
    user = f"wmE2E{uuid.uuid4().hex[:20]}"
    text = f"你好，我的订单还没发货 {uuid.uuid4().hex[:6]}"
    # the customer writes in WeChat: WeCom keeps the message and hands us a sync_msg token
    wrote = requests.post(
        f"{local_stack.url}/demo/wecom/customer",
        json={"external_userid": user, "text": text, "callback": False},
        timeout=30,
    )
    assert wrote.status_code == 200, wrote.text
    token, open_kfid = wrote.json()["token"], wrote.json()["open_kfid"]

    query, body = wecom_callback(token, open_kfid)
    answer = requests.post(
        f"{local_stack.url}/webhooks/wecom",
        params=query,
        data=body,
        headers={"Content-Type": "text/xml"},
        timeout=30,
    )
    assert (answer.status_code, answer.text) == (200, "success")

    def queued() -> dict[str, Any] | None:
        resp = supervisor.get("/conversations", params={"view": "all"})
        assert resp.status_code == 200, resp.text
        return next((c for c in resp.json()["items"] if c.get("preview") == text), None)

    conversation = poll("the WeCom message in the inbox", queued)
    assert conversation["channels"] == ["wecom"]
    cid = conversation["conversation_id"]

    reply = f"您好，马上为您催发货 {uuid.uuid4().hex[:6]}"
    sent = supervisor.post(f"/conversations/{cid}/reply", {"text": reply})
    assert sent.status_code == 202, sent.text

    def received() -> list[dict[str, Any]]:
        got = requests.get(f"{local_stack.url}/demo/wecom/sent", params={"touser": user}, timeout=30).json()
        return [m for m in got["items"] if m["text"]["content"] == reply]

    delivered = poll("the reply at the customer's WeChat", received)[0]
    assert delivered["open_kfid"] == open_kfid and delivered["msgtype"] == "text"

    def status() -> str | None:
        messages = supervisor.get(f"/conversations/{cid}").json()["messages"]
        mine = [m for m in messages if m.get("text") == reply]
        return mine[0]["status"] if mine and mine[0]["status"] in ("sent_local", "failed") else None

    assert poll("the reply's status", status) == "sent_local"


def test_the_simulator_plays_a_wecom_customer(local_stack: LocalStack, supervisor: Api) -> None:
    text = f"App 打不开 {uuid.uuid4().hex[:6]}"
    target = simulate.Target(local_stack.url, local_stack.url)
    resp = simulate.wecom_customer_request(target, f"wmSim{uuid.uuid4().hex[:16]}", text).send()
    assert resp.status_code == 200 and resp.json()["callback"] == {"status": 200, "body": "success"}, (
        resp.text
    )

    def arrived() -> bool:
        items = supervisor.get("/conversations", params={"view": "all"}).json()["items"]
        return any(c.get("preview") == text for c in items)

    poll("the simulated WeCom message in the inbox", arrived)


def test_the_kf_stand_in_refuses_a_wrong_secret_and_unknown_tokens(local_stack: LocalStack) -> None:
    creds = simulate.credentials("wecom")
    base = f"{local_stack.url}/demo/wecom/cgi-bin"
    wrong = requests.get(
        f"{base}/gettoken", params={"corpid": creds["corp_id"], "corpsecret": "nope"}, timeout=30
    )
    assert wrong.json()["errcode"] == 40001
    right = requests.get(
        f"{base}/gettoken", params={"corpid": creds["corp_id"], "corpsecret": creds["secret"]}, timeout=30
    ).json()
    stale = requests.post(
        f"{base}/kf/sync_msg",
        params={"access_token": right["access_token"]},
        json={"token": "ENCforged", "cursor": "", "limit": 10, "open_kfid": "wkX"},
        timeout=30,
    )
    assert stale.json()["errcode"] == 95007
    unauthorized = requests.post(
        f"{base}/kf/send_msg", params={"access_token": "forged"}, json={"touser": "x"}, timeout=30
    )
    assert unauthorized.json()["errcode"] == 40014
