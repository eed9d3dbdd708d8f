"""Play the customer against the local stack, through each channel's real protocol.

    python -m infra.local.simulate wechat --user o_demo_1 "你好，我的订单还没到"
    python -m infra.local.simulate wechat --safe-mode --user o_demo_1 "..."
    python -m infra.local.simulate sms --from +8613800138000 "hi"
    python -m infra.local.simulate email --from alice@example.com --subject "Order 123" "text"
    python -m infra.local.simulate web --name Alice --email alice@example.com "hello"

Requests are built and signed by the platforms' own client libraries where one exists (wechatpy's
``WeChatCrypto`` and ``WeChatSigner``, twilio's ``RequestValidator``) and otherwise exactly as the
platform does it (SES's "Received" notification in an SNS v2 envelope, signed with the local
stack's certificate). Credentials are the stack's own (``provision.channel_credentials()``:
defaults, overridable by ``OMNIFLOW_<CHANNEL>_<FIELD>``). The e2e tests use these builders too.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import random
import sys
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import urlencode

DEFAULT_WECHAT_TO = "gh_0demo0omniflow"


@dataclass(frozen=True)
class PreparedRequest:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes = b""

    def send(self, timeout: float = 30.0) -> Any:
        import requests

        return requests.request(self.method, self.url, headers=self.headers, data=self.body, timeout=timeout)


@dataclass(frozen=True)
class Target:
    """Where requests go (``base_url``) and the public URL the platform would have called
    (``public_url``; Twilio signs it, so it must equal the stack's ``OMNIFLOW_PUBLIC_URL``)."""

    base_url: str
    public_url: str


def default_target(url: str | None = None, public_url: str | None = None) -> Target:
    """``--url``, else ``OMNIFLOW_LOCAL_URL``, else the running stack, else ``http://127.0.0.1:$PORT``."""
    from infra.local.stack import DEFAULT_PORT, HOST, read_stack_info

    base = url or os.environ.get("OMNIFLOW_LOCAL_URL")
    info = read_stack_info() if not base else None
    if info:
        base = info["url"]
        public_url = public_url or info.get("public_url")
    base = (base or f"http://{HOST}:{os.environ.get('PORT') or DEFAULT_PORT}").rstrip("/")
    return Target(base, (public_url or base).rstrip("/"))


def credentials(channel: str) -> dict[str, str]:
    from infra.local.provision import channel_credentials

    return channel_credentials()[channel]["default"]


# --------------------------------------------------------------------------------------------
# WeChat Official Account
# --------------------------------------------------------------------------------------------
def _account_path(account: str) -> str:
    """Webhook URLs name the channel account after the channel, except the default one."""
    return "" if account == "default" else f"/{account}"


def _cdata(text: str) -> str:
    return "<![CDATA[" + text.replace("]]>", "]]]]><![CDATA[>") + "]]>"


def wechat_text_xml(
    user: str, text: str, *, to_user: str = DEFAULT_WECHAT_TO, msg_id: str | None = None
) -> str:
    """A text message as WeChat's servers post it."""
    return (
        "<xml>"
        f"<ToUserName>{_cdata(to_user)}</ToUserName>"
        f"<FromUserName>{_cdata(user)}</FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime>"
        "<MsgType><![CDATA[text]]></MsgType>"
        f"<Content>{_cdata(text)}</Content>"
        f"<MsgId>{msg_id or random.randrange(10**18, 10**19)}</MsgId>"
        "</xml>"
    )


def wechat_request(
    target: Target,
    creds: Mapping[str, str],
    *,
    user: str,
    text: str,
    safe_mode: bool = False,
    to_user: str = DEFAULT_WECHAT_TO,
    msg_id: str | None = None,
    xml: str | None = None,
    account: str = "default",
) -> PreparedRequest:
    """POST /webhooks/wechat[/<account>] as WeChat sends it: signed query, plaintext or AES ("safe
    mode") body."""
    from wechatpy.crypto import WeChatCrypto
    from wechatpy.utils import WeChatSigner

    timestamp, nonce = str(int(time.time())), uuid.uuid4().hex[:10]
    signer = WeChatSigner()
    signer.add_data(creds["token"], timestamp, nonce)
    query = {"signature": signer.signature, "timestamp": timestamp, "nonce": nonce, "openid": user}
    body = xml or wechat_text_xml(user, text, to_user=to_user, msg_id=msg_id)
    if safe_mode:
        crypto = WeChatCrypto(creds["token"], creds["aes_key"], creds["app_id"])
        sealed = crypto.encrypt_message(body, nonce, timestamp)
        encrypted = sealed.split("<Encrypt><![CDATA[", 1)[1].split("]]>", 1)[0]
        msg_signature = sealed.split("<MsgSignature><![CDATA[", 1)[1].split("]]>", 1)[0]
        query.update(encrypt_type="aes", msg_signature=msg_signature)
        body = f"<xml><ToUserName>{_cdata(to_user)}</ToUserName><Encrypt>{_cdata(encrypted)}</Encrypt></xml>"
    return PreparedRequest(
        "POST",
        f"{target.base_url}/webhooks/wechat{_account_path(account)}?{urlencode(query)}",
        {"Content-Type": "text/xml", "User-Agent": "Mozilla/4.0"},
        body.encode("utf-8"),
    )


# --------------------------------------------------------------------------------------------
# SMS (Twilio)
# --------------------------------------------------------------------------------------------
def sms_request(
    target: Target,
    creds: Mapping[str, str],
    *,
    sender: str,
    text: str,
    message_sid: str | None = None,
    account: str = "default",
) -> PreparedRequest:
    """Twilio's incoming-message webhook: a form post signed over the public URL and the params."""
    from twilio.request_validator import RequestValidator

    sid = message_sid or "SM" + uuid.uuid4().hex
    params = {
        "ToCountry": "US",
        "SmsMessageSid": sid,
        "NumMedia": "0",
        "SmsSid": sid,
        "SmsStatus": "received",
        "Body": text,
        "To": creds["from_number"],
        "NumSegments": "1",
        "MessageSid": sid,
        "AccountSid": creds["account_sid"],
        "From": sender,
        "ApiVersion": "2010-04-01",
    }
    path = f"/webhooks/sms{_account_path(account)}"
    signature = RequestValidator(creds["auth_token"]).compute_signature(f"{target.public_url}{path}", params)
    return PreparedRequest(
        "POST",
        f"{target.base_url}{path}",
        {
            "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8",
            "X-Twilio-Signature": signature,
            "User-Agent": "TwilioProxy/1.1",
            "I-Twilio-Idempotency-Token": str(uuid.uuid4()),
        },
        urlencode(params).encode(),
    )


# --------------------------------------------------------------------------------------------
# Email (SES receipt → SNS)
# --------------------------------------------------------------------------------------------
def mime_message(
    sender: str, to: str, subject: str, text: str, *, in_reply_to: str | None = None
) -> EmailMessage:
    mail = EmailMessage()
    mail["From"] = sender
    mail["To"] = to
    mail["Subject"] = subject
    mail["Date"] = formatdate(localtime=False, usegmt=True)
    mail["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or "example.com")
    if in_reply_to:
        mail["In-Reply-To"] = in_reply_to
        mail["References"] = in_reply_to
    mail.set_content(text)
    return mail


def ses_received_notification(mail: EmailMessage, topic_arn: str) -> dict[str, Any]:
    """What SES publishes for a receipt rule with an SNS action (content inline, UTF-8)."""
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    source = str(mail["From"])
    recipients = [str(mail["To"])]
    pass_ = {"status": "PASS"}
    return {
        "notificationType": "Received",
        "mail": {
            "timestamp": now,
            "source": source,
            "messageId": uuid.uuid4().hex,
            "destination": recipients,
            "headersTruncated": False,
            "headers": [{"name": k, "value": str(v)} for k, v in mail.items()],
            "commonHeaders": {
                "returnPath": source,
                "from": [source],
                "date": str(mail["Date"]),
                "to": recipients,
                "messageId": str(mail["Message-ID"]),
                "subject": str(mail["Subject"]),
            },
        },
        "receipt": {
            "timestamp": now,
            "processingTimeMillis": 42,
            "recipients": recipients,
            "spamVerdict": pass_,
            "virusVerdict": pass_,
            "spfVerdict": pass_,
            "dkimVerdict": pass_,
            "dmarcVerdict": pass_,
            "action": {"type": "SNS", "topicArn": topic_arn, "encoding": "UTF8"},
        },
        "content": mail.as_string(),
    }


def sns_notification(
    message: str, topic_arn: str, signing: Mapping[str, str], *, subject: str | None
) -> dict[str, str]:
    """An SNS HTTPS delivery, SignatureVersion 2 (SHA256withRSA over the canonical fields)."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding, rsa

    envelope = {
        "Type": "Notification",
        "MessageId": str(uuid.uuid4()),
        "TopicArn": topic_arn,
        "Message": message,
        "Timestamp": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
        "SignatureVersion": "2",
        "SigningCertURL": signing["cert_url"],
        "UnsubscribeURL": f"https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={topic_arn}:local",
    }
    if subject is not None:
        envelope["Subject"] = subject
    signed = ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type")
    canonical = "".join(f"{k}\n{envelope[k]}\n" for k in signed if k in envelope).encode()
    key = serialization.load_pem_private_key(signing["key_pem"].encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    envelope["Signature"] = base64.b64encode(
        key.sign(canonical, padding.PKCS1v15(), hashes.SHA256())
    ).decode()
    return envelope


def email_request(
    target: Target,
    creds: Mapping[str, str],
    signing: Mapping[str, str],
    *,
    sender: str,
    subject: str,
    text: str,
    in_reply_to: str | None = None,
) -> PreparedRequest:
    """POST /webhooks/email as SNS delivers an SES "Received" notification."""
    mail = mime_message(sender, creds["from_address"], subject, text, in_reply_to=in_reply_to)
    notification = ses_received_notification(mail, creds["topic_arn"])
    envelope = sns_notification(
        json.dumps(notification), creds["topic_arn"], signing, subject="Amazon SES Email Receipt Notification"
    )
    return PreparedRequest(
        "POST",
        f"{target.base_url}/webhooks/email",
        {
            "Content-Type": "text/plain; charset=UTF-8",
            "x-amz-sns-message-type": envelope["Type"],
            "x-amz-sns-message-id": envelope["MessageId"],
            "x-amz-sns-topic-arn": envelope["TopicArn"],
            "x-amz-sns-subscription-arn": f"{envelope['TopicArn']}:local",
            "User-Agent": "Amazon Simple Notification Service Agent",
        },
        json.dumps(envelope).encode(),
    )


def local_sns_signing() -> dict[str, str]:
    """The local stack's SNS certificate and key (created by the stack, or now)."""
    from infra.local.stack import sns_signing_identity

    return sns_signing_identity()


# --------------------------------------------------------------------------------------------
# Website chat
# --------------------------------------------------------------------------------------------
def web_session_request(
    target: Target,
    *,
    name: str | None = None,
    email: str | None = None,
    phone: str | None = None,
    token: str | None = None,
) -> PreparedRequest:
    body = {k: v for k, v in {"name": name, "email": email, "phone": phone}.items() if v}
    headers = {"Content-Type": "application/json", "Origin": target.base_url}
    if token:
        headers["Authorization"] = f"Bearer {token}"  # resume the same visitor
    return PreparedRequest(
        "POST", f"{target.base_url}/webhooks/web/sessions", headers, json.dumps(body).encode()
    )


def web_message_request(target: Target, token: str, text: str) -> PreparedRequest:
    return PreparedRequest(
        "POST",
        f"{target.base_url}/webhooks/web/messages",
        {"Content-Type": "application/json", "Authorization": f"Bearer {token}", "Origin": target.base_url},
        json.dumps({"text": text}, ensure_ascii=False).encode("utf-8"),
    )


def web_thread_request(target: Target, token: str, after: str | None = None) -> PreparedRequest:
    query = f"?{urlencode({'after': after})}" if after else ""
    return PreparedRequest(
        "GET", f"{target.base_url}/webhooks/web/messages{query}", {"Authorization": f"Bearer {token}"}
    )


def _visitor_tokens() -> tuple[dict[str, str], Any]:
    from infra.local.stack import local_dir, write_json

    path = local_dir() / "web-visitors.json"
    try:
        tokens: dict[str, str] = json.loads(path.read_text())
    except (OSError, ValueError):
        tokens = {}
    return tokens, lambda: write_json(path, tokens, mode=0o600)


# --------------------------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------------------------
def _show(label: str, resp: Any) -> bool:
    print(f"{label}: HTTP {resp.status_code}")
    text = resp.text
    try:
        text = json.dumps(resp.json(), ensure_ascii=False, indent=2)
    except ValueError:
        pass
    if text:
        print(text)
    return bool(200 <= resp.status_code < 300)


def _web(args: argparse.Namespace, target: Target) -> bool:
    tokens, save = _visitor_tokens()
    who = args.email or args.phone or args.name or "anonymous"
    token = None if args.new_visitor else tokens.get(who)
    session = web_session_request(
        target, name=args.name, email=args.email, phone=args.phone, token=token
    ).send()
    if not _show("session", session):
        return False
    token = session.json()["token"]
    tokens[who] = token
    save()
    since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    ok = _show("message", web_message_request(target, token, args.text).send())
    deadline = time.monotonic() + args.wait
    seen: set[str] = set()
    while ok and time.monotonic() < deadline:  # show the agent's replies as they arrive
        thread = web_thread_request(target, token, since).send()
        for m in thread.json().get("messages", []) if thread.ok else []:
            key = json.dumps(m, sort_keys=True)
            if m.get("direction") == "out" and key not in seen:
                seen.add(key)
                print(f"reply: {m.get('text')}")
        time.sleep(1.0)
    return ok


def wecom_customer_request(
    target: Target, user: str, text: str, open_kfid: str | None = None
) -> PreparedRequest:
    """The customer writes in WeChat to the stack's WeCom kf stand-in, which makes WeCom's encrypted
    callback to ``/webhooks/wecom`` (``infra/local/wecom_kf.py``); the webhook then pulls with
    ``sync_msg`` as it does from WeCom."""
    body = {"external_userid": user, "text": text, **({"open_kfid": open_kfid} if open_kfid else {})}
    return PreparedRequest(
        "POST",
        f"{target.base_url}/demo/wecom/customer",
        {"Content-Type": "application/json"},
        json.dumps(body, ensure_ascii=False).encode(),
    )


def _wecom(args: argparse.Namespace, target: Target) -> bool:
    import requests

    resp = wecom_customer_request(target, args.user, args.text, args.open_kfid).send()
    data = resp.json() if resp.ok else {}
    callback = data.get("callback") or {}
    answer = f"{callback.get('status')} {callback.get('body')!r}"
    print(f"wecom: kf stand-in {resp.status_code}; WeCom's callback → {answer}")
    ok = resp.ok and callback.get("status") == 200
    deadline, seen = time.monotonic() + args.wait, 0
    while ok and time.monotonic() < deadline:
        got = requests.get(
            f"{target.base_url}/demo/wecom/sent", params={"touser": args.user}, timeout=30
        ).json()
        for item in got["items"][seen:]:
            print(f"agent: {item['text']['content']}")
        seen = len(got["items"])
        time.sleep(1.0)
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.local.simulate", description="Play the customer.")
    parser.add_argument("--url", help="where the stack listens (default: the running stack)")
    parser.add_argument("--public-url", help="the public URL platforms sign (default: --url)")
    sub = parser.add_subparsers(dest="channel", required=True)

    p = sub.add_parser("wechat", help="a WeChat Official Account text message")
    p.add_argument("--user", default="o_demo_1", help="the customer's openid")
    p.add_argument("--safe-mode", action="store_true", help="AES-encrypt the message (encrypt_type=aes)")
    p.add_argument("--msg-id", help="WeChat MsgId (repeat one to see deduplication)")
    p.add_argument("--account", default="default", help='the channel account ("bot": the bot answers)')
    p.add_argument("text")

    p = sub.add_parser("sms", help="an SMS through Twilio")
    p.add_argument("--from", dest="sender", default="+8613800138000")
    p.add_argument("--sid", help="MessageSid (repeat one to see deduplication)")
    p.add_argument("--account", default="default", help='the channel account ("bot": the bot answers)')
    p.add_argument("text")

    p = sub.add_parser("email", help="an email received by SES and delivered through SNS")
    p.add_argument("--from", dest="sender", default="alice@example.com")
    p.add_argument("--subject", default="Hello")
    p.add_argument("--in-reply-to", help="Message-ID this mail answers (threads it)")
    p.add_argument("text")

    p = sub.add_parser("wecom", help="a WeChat user writing to a WeCom kf account (微信客服)")
    p.add_argument("--user", default="wmDemoCustomer0000000000000001", help="the customer's external_userid")
    p.add_argument("--kf", dest="open_kfid", help="the kf account's open_kfid (default: the demo shop's)")
    p.add_argument("--wait", type=float, default=0.0, help="seconds to wait for and print agent replies")
    p.add_argument("text")

    p = sub.add_parser("web", help="a website chat visitor")
    p.add_argument("--name")
    p.add_argument("--email")
    p.add_argument("--phone")
    p.add_argument(
        "--new-visitor", action="store_true", help="do not resume the last session of this visitor"
    )
    p.add_argument("--wait", type=float, default=0.0, help="seconds to wait for and print agent replies")
    p.add_argument("text")

    args = parser.parse_args(argv)
    target = default_target(args.url, args.public_url)
    if args.channel == "wechat":
        req = wechat_request(
            target,
            credentials("wechat"),
            user=args.user,
            text=args.text,
            safe_mode=args.safe_mode,
            msg_id=args.msg_id,
            account=args.account,
        )
        ok = _show("wechat", req.send())
    elif args.channel == "sms":
        req = sms_request(
            target,
            credentials("sms"),
            sender=args.sender,
            text=args.text,
            message_sid=args.sid,
            account=args.account,
        )
        ok = _show("sms", req.send())
    elif args.channel == "email":
        req = email_request(
            target,
            credentials("email"),
            local_sns_signing(),
            sender=args.sender,
            subject=args.subject,
            text=args.text,
            in_reply_to=args.in_reply_to,
        )
        ok = _show("email", req.send())
    elif args.channel == "wecom":
        ok = _wecom(args, target)
    else:
        ok = _web(args, target)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
