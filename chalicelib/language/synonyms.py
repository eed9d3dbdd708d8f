"""Synonyms: words customers use for the same thing (快递 = 物流 = 包裹, 退钱 = 退款, 咋 = 怎么).

A :class:`Synonyms` table is a list of groups; the first word of a group is its canonical form.
Two ways to use it:

- ``rewrite(folded_text)``: every member replaced by its group's canonical word, before
  tokenising, on both sides (the indexed text and the query), so "咋退钱" and "怎么退款" give the
  same tokens and bigrams, and no term's document frequency is inflated.
- ``expand(tokens, synonyms)``: the tokens plus every other member of their groups (query
  expansion for callers that cannot rewrite the indexed side).

The built-in groups (:data:`DEFAULT_GROUPS`) always apply; an admin adds groups in the knowledge
base (stored versioned, ``chalicelib.kb``). Words are folded (simplified, lower case) when the
table is built, so a group may be written in traditional characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from functools import cache

from chalicelib.language.text import fold

DEFAULT_GROUPS: tuple[tuple[str, ...], ...] = (
    # colloquial and regional forms of the same word (traditional-only forms fold by themselves)
    ("怎么", "咋", "怎样", "如何", "怎么样"),
    ("什么", "啥", "甚么", "什麽"),
    ("什么时候", "啥时候", "几时"),
    ("取消订单", "撤单", "撤销订单"),
    # customer-service terms, Chinese first (the canonical form), then Taiwanese usage and English:
    # English words rewrite to the Chinese term on both sides, so keyword search also works
    # across languages (an English question meets a Chinese article through these words)
    ("快递", "物流", "包裹", "快件", "邮包", "parcel", "parcels", "package", "packages", "shipment"),
    ("退款", "退钱", "返钱", "把钱退", "refund", "refunds", "refunded", "money back", "reimburse"),
    ("退货", "退回去", "寄回", "return", "returns", "returning", "send it back", "send back"),
    ("换货", "调换", "exchange", "exchanges", "swap"),
    ("发票", "票据", "invoice", "invoices", "receipt", "receipts", "fapiao"),
    ("抬头", "company name on", "invoice title"),
    ("税号", "统一编号", "统编", "tax id", "tax number", "vat number"),
    ("保修", "保固", "质保", "warranty", "warranties", "guarantee"),
    ("维修", "修理", "送修", "repair", "repairs", "repaired", "fix", "fixed"),
    ("订单", "order", "orders"),
    ("取消", "cancel", "cancellation", "cancelled", "canceled"),
    ("发货", "出货", "ship", "ships", "shipped", "shipping", "dispatch", "dispatched"),
    ("配送", "送货", "delivery", "deliver", "delivered"),
    ("物流查询", "查物流", "tracking", "track", "trace"),
    ("运费", "邮费", "快递费", "shipping fee", "shipping cost", "postage"),
    ("地址", "收货地址", "送货地址", "收件地址", "address", "addresses"),
    ("优惠券", "优惠卷", "折扣券", "折价券", "coupon", "coupons", "voucher", "vouchers", "promo code"),
    ("折扣", "优惠", "discount", "discounts"),
    ("降价", "price drop", "price dropped", "cheaper now"),
    ("差价", "the difference", "price difference"),
    ("积分", "点数", "points", "reward points", "loyalty points"),
    ("会员", "member", "members", "membership"),
    ("付款", "支付", "付钱", "pay", "paying", "payment", "payments"),
    ("分期", "installment", "installments", "instalments"),
    ("信用卡", "credit card", "credit cards"),
    ("货到付款", "cash on delivery", "cod"),
    ("账号", "账户", "帐号", "帐户", "account", "accounts"),
    ("密码", "口令", "password", "passwords", "passcode"),
    ("登录", "登陆", "登入", "login", "log in", "sign in", "signin"),
    ("验证码", "verification code", "otp"),
    ("注销", "delete my account", "close my account", "delete account"),
    ("邮箱", "电子邮件", "email", "e-mail", "email address", "e-mail address", "mail address"),
    ("个人数据", "个人信息", "personal data", "my data"),
    ("客服", "人工", "人工客服", "customer service", "agent"),
    ("耳机", "耳麦", "earbuds", "earbud", "earphones", "headphones", "headset"),
    ("手表", "腕表", "watch", "watches", "smartwatch"),
    ("手机", "phone", "phones", "mobile"),
    ("笔记本", "笔电", "笔记本电脑", "laptop", "laptops", "notebook"),
    ("平板", "tablet", "tablets"),
    ("音箱", "喇叭", "speaker", "speakers"),
    ("电池", "battery", "batteries"),
    ("充电", "charging", "charger", "recharge"),
    ("数据线", "充电线", "cable", "cables"),
    ("蓝牙", "bluetooth"),
    ("配对", "连接", "pair", "pairing", "paired", "connect", "connecting"),
    ("固件", "韧体", "firmware"),
    ("升级", "更新", "update", "updates", "upgrade", "upgrading", "updating"),
    ("网络", "网路", "wifi", "wi-fi", "wlan"),
    ("防水", "waterproof", "water resistant", "water resistance"),
    ("游泳", "swim", "swimming"),
    ("破损", "损坏", "坏了", "坏掉", "damaged", "broken", "cracked"),
    ("少件", "少发", "漏发", "missing"),
    ("发错", "错发", "wrong item", "wrong color", "wrong size"),
    ("以旧换新", "旧机折抵", "折抵", "trade-in", "trade in", "tradein"),
    ("礼品卡", "gift card", "gift cards", "giftcard"),
    ("学生", "student", "students"),
    ("门店", "门市", "实体店", "store", "stores"),
    ("自提", "自取", "pick up", "pickup", "collect"),
    ("关税", "进口税", "customs", "duties", "import tax", "import duties"),
    ("国际", "海外", "international", "overseas", "abroad"),
    ("工作时间", "营业时间", "上班时间", "opening hours", "business hours", "service hours"),
    ("价格", "价钱", "price", "prices"),
)


class Synonyms:
    """Groups of equivalent words; built once per table version (it compiles one pattern)."""

    def __init__(self, groups: Iterable[Sequence[str]] = DEFAULT_GROUPS) -> None:
        self.groups: list[tuple[str, ...]] = []
        self.canonical: dict[str, str] = {}
        self.members: dict[str, tuple[str, ...]] = {}
        for group in groups:
            words = tuple(dict.fromkeys(w for w in (fold(g).strip() for g in group) if w))
            if len(words) < 2:
                continue
            self.groups.append(words)
            for word in words:
                # a word in two groups keeps its first one
                self.canonical.setdefault(word, words[0])
                self.members.setdefault(word, words)
        # canonical words too (replaced by themselves), so a member inside a longer word ("券" in
        # "优惠券") is not rewritten: the longest word at a position wins
        alternatives = sorted(self.canonical, key=len, reverse=True)
        parts = [
            rf"\b{re.escape(w)}\b" if w.isascii() else re.escape(w)  # English: whole words only
            for w in alternatives
        ]
        self._pattern = re.compile("|".join(parts)) if parts else None

    def rewrite(self, folded: str) -> str:
        """``folded`` (already ``fold``-ed) with every member word replaced by its canonical word."""
        if self._pattern is None:
            return folded
        return self._pattern.sub(lambda m: self.canonical[m.group()], folded)

    def __add__(self, other: Synonyms) -> Synonyms:
        return Synonyms([*self.groups, *other.groups])


def expand(tokens: Sequence[str], synonyms: Synonyms) -> list[str]:
    """``tokens`` followed by the other members of their synonym groups, each once."""
    out = list(tokens)
    seen = set(tokens)
    for token in tokens:
        for word in synonyms.members.get(token, ()):
            if word not in seen:
                seen.add(word)
                out.append(word)
    return out


@cache
def default_synonyms() -> Synonyms:
    """The built-in groups, built on first use (folding them loads OpenCC)."""
    return Synonyms(DEFAULT_GROUPS)
