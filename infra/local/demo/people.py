"""The demo's customers: who they are and how each channel knows them.

Each person writes on one channel (``Person.channel``) with the identifiers that channel really
gives (an openid on WeChat, an E.164 number on SMS, an e-mail address, a LINE user id …), and the
hints its adapter really produces (a verified phone from Twilio and WhatsApp, a verified e-mail from
SES, a display name from Telegram, LINE, Douyin or the company's app). ``inbound`` turns one of their
lines into the ``InboundMessage`` the channel's webhook would have put on the inbound queue.

Chen Jing (陈静) is known on three channels (SMS, the app and e-mail, linked by her verified phone and
e-mail), and her phone is the one the demo order service (``orders_demo.STORIES``) has a parcel in
transit for: the customer 360 shows why one view of a customer matters.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime

from chalicelib.messages import CustomerHints, InboundMessage


@dataclass(frozen=True)
class Person:
    key: str
    name: str
    lang: str  # "zh" or "en": the language they write in
    channel: str
    user_id: str  # their id on that channel
    phone: str | None = None
    email: str | None = None
    extra: dict[str, str] = field(default_factory=dict)  # reply context the channel gives

    def hints(self, channel: str | None = None) -> CustomerHints:
        """What ``channel``'s adapter says about the sender (see each adapter's ``parse``)."""
        channel = channel or self.channel
        if channel in ("sms", "whatsapp"):
            return CustomerHints(
                display_name=self.name if channel == "whatsapp" else None,
                phone=self.phone,
                verified=("phone",),
            )
        if channel == "email":
            return CustomerHints(display_name=self.name, email=self.email, verified=("email",))
        if channel == "app":
            verified = tuple(v for v, present in (("phone", self.phone), ("email", self.email)) if present)
            return CustomerHints(
                display_name=self.name,
                phone=self.phone,
                email=self.email,
                external_id=self.user_id,
                verified=(*verified, "external_id"),  # type: ignore[arg-type]
            )
        if channel == "web":
            return CustomerHints(display_name=self.name, email=self.email)
        if channel in ("wechat", "wecom"):
            return CustomerHints()  # WeChat shares no name, phone or e-mail
        return CustomerHints(display_name=self.name)


def _id(prefix: str, key: str, length: int, alphabet: str = "0123456789abcdef") -> str:
    digest = hashlib.sha256(key.encode()).hexdigest()
    return prefix + "".join(alphabet[int(c, 16) % len(alphabet)] for c in digest[:length])


def person(key: str, name: str, lang: str, channel: str, **kw: str) -> Person:
    """A person with the identifiers their channel uses, derived from ``key`` (deterministic)."""
    phone = kw.pop("phone", None)
    email = kw.pop("email", None)
    extra: dict[str, str] = {}
    if channel == "wechat":
        user = _id("oDemo", key, 23, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")
    elif channel == "wecom":
        user = _id("wmDemo", key, 26)
        extra = {"open_kfid": "wkDemoShop0000000000000000001"}
    elif channel in ("sms", "whatsapp"):
        user = phone if channel == "sms" else (phone or "").lstrip("+")  # type: ignore[assignment]
    elif channel == "email":
        user = email  # type: ignore[assignment]
    elif channel == "web":
        user = _id("v_", key, 20)
    elif channel == "app":
        user = _id("u", key, 8, "0123456789")
    elif channel == "telegram":
        user = str(5_000_000_000 + int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 10**9)
    elif channel == "line":
        user = _id("U", key, 32)
    elif channel == "douyin":
        user = _id("_000", key, 28)
        extra = {"conversation_id": _id("dy-conv-", key, 12), "msg_id": _id("dy-msg-", key, 12)}
    elif channel == "weibo":
        user = str(6_000_000_000 + int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 10**9)
    elif channel in ("messenger", "instagram"):
        user = str(7_000_000_000_000_000 + int(hashlib.sha256(key.encode()).hexdigest()[:12], 16) % 10**15)
    else:
        raise ValueError(f"no demo identifiers for channel {channel!r}")
    return Person(key, name, lang, channel, user, phone=phone, email=email, extra=extra)


# fmt: off
PEOPLE: tuple[Person, ...] = (
    # -- the customer known on three channels (her SMS number, app account and e-mail) --
    person("chen-jing", "陈静", "zh", "sms", phone="+8613800138000", email="chen.jing@example.cn"),
    # -- Chinese-speaking customers --
    person("wang-fang", "王芳", "zh", "wechat"),
    person("li-na", "李娜", "zh", "wechat"),
    person("zhang-wei", "张伟", "zh", "wecom"),
    person("liu-yang", "刘洋", "zh", "wecom"),
    person("yang-xue", "杨雪", "zh", "web", email="yangxue88@example.cn"),
    person("zhao-lei", "赵磊", "zh", "app", phone="+8613911112222"),
    person("huang-min", "黄敏", "zh", "douyin"),
    person("zhou-jie", "周杰", "zh", "weibo"),
    person("wu-ting", "吴婷", "zh", "sms", phone="+8613722223333"),
    person("xu-qiang", "徐强", "zh", "email", email="xuqiang@example.cn"),
    person("sun-li", "孙丽", "zh", "wechat"),
    person("ma-chao", "马超", "zh", "douyin"),
    person("zhu-hui", "朱慧", "zh", "app", phone="+8615033334444"),
    person("hu-jun", "胡军", "zh", "weibo"),
    person("guo-jing", "郭静", "zh", "web", email="guojing@example.cn"),
    person("lin-xiaomei", "林小美", "zh", "line"),
    person("he-peng", "何鹏", "zh", "wecom"),
    person("gao-yan", "高燕", "zh", "sms", phone="+8618644445555"),
    person("luo-bin", "罗斌", "zh", "email", email="luobin@example.cn"),
    person("chen-hao", "陈浩", "zh", "telegram"),
    # -- English-speaking customers (and mixed zh/en) --
    person("emma-wilson", "Emma Wilson", "en", "whatsapp", phone="+447700900123"),
    person("james-miller", "James Miller", "en", "email", email="james.miller@example.com"),
    person("sophia-lee", "Sophia Lee", "en", "messenger"),
    person("oliver-brown", "Oliver Brown", "en", "telegram"),
    person("mia-chen", "Mia Chen", "en", "instagram"),
    person("liam-johnson", "Liam Johnson", "en", "web", email="liam.j@example.com"),
    person("ava-garcia", "Ava Garcia", "en", "whatsapp", phone="+14155550142"),
    person("noah-davis", "Noah Davis", "en", "sms", phone="+14155550177"),
    person("isabella-wong", "Isabella Wong", "en", "line"),
    person("lucas-martin", "Lucas Martin", "en", "email", email="lucas.martin@example.fr"),
    person("charlotte-tan", "Charlotte Tan", "en", "whatsapp", phone="+6591234567"),
    person("ethan-kim", "Ethan Kim", "en", "app", phone="+821012345678"),
    person("amelia-zhang", "Amelia Zhang", "en", "wechat"),
    person("henry-ng", "Henry Ng", "en", "messenger"),
    person("grace-liu", "Grace Liu", "en", "instagram"),
    person("daniel-smith", "Daniel Smith", "en", "web", email="dan.smith@example.com"),
    person("chloe-lam", "Chloe Lam", "en", "telegram"),
    person("ryan-ho", "Ryan Ho", "en", "wecom"),
    person("zoe-clark", "Zoe Clark", "en", "email", email="zoe.clark@example.co.uk"),
)
# fmt: on
BY_KEY = {p.key: p for p in PEOPLE}


def inbound(p: Person, text: str, at: datetime, n: int, channel: str | None = None) -> InboundMessage:
    """``p``'s ``n``-th line on ``channel`` (default: theirs) as its webhook normalizes it."""
    channel = channel or p.channel
    user = p.user_id
    account = "default"
    context = dict(p.extra) if channel == p.channel else {}
    if channel != p.channel:  # Chen Jing's other channels
        user = {"app": _id("u", p.key, 8, "0123456789"), "email": p.email or "", "sms": p.phone or ""}[
            channel
        ]
    if channel == "email":
        subject = text.split("\n", 1)[0][:60]
        context = {
            "message_id": f"<demo-{p.key}-{n}@mail.example>",
            "references": f"<demo-{p.key}-{n}@mail.example>",
            "subject": subject,
            "in_reply_to": "",
        }
    if channel == "line":
        context = {
            "reply_token": _id("rt", f"{p.key}{n}", 30),
            "reply_token_at": str(int(at.timestamp() * 1000)),
        }
    hints = p.hints(channel)
    if channel == "app" and channel != p.channel:
        hints = CustomerHints(
            display_name=p.name,
            phone=p.phone,
            email=p.email,
            external_id=user,
            verified=("phone", "email", "external_id"),
        )
    return InboundMessage(
        channel=channel,
        account=account,
        channel_user_id=user,
        hints=hints,
        text=text,
        platform_message_id=f"demo-{p.key}-{channel}-{n}",
        sent_at=at,
        received_at=at,
        reply_context=context,
    )
