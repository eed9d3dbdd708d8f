# ruff: noqa: E501 — a data table: one line per turn reads better than wrapped sentences
"""What the demo's customers said, and what became of it: one ``Story`` per conversation.

A story is a list of turns at times relative to the demo's "now" (minutes ago) and the state the
conversation is left in: ``queued`` (waiting for an agent), ``assigned`` (an agent owns it),
``snoozed`` (owned, hidden until later) or ``closed`` (history). A ticket may come out of it, in any
of the ticket statuses, with sub-tickets or a CSAT answer. Texts are written the way customers write:
colloquial, with typos, mixed Chinese and English.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

State = Literal["queued", "assigned", "snoozed", "closed"]
TicketStatus = Literal["new", "open", "pending_customer", "on_hold", "solved", "closed"]


@dataclass(frozen=True)
class Turn:
    who: Literal["customer", "agent", "note"]
    text: str
    minutes_ago: float
    channel: str | None = None  # the customer's channel for this line (default: theirs)


@dataclass(frozen=True)
class TicketSpec:
    status: TicketStatus
    subject: str | None = None
    priority: str | None = None
    category: str | None = None
    subtickets: tuple[tuple[str, str], ...] = ()  # (group, subject)
    subtickets_done: int = 0  # how many of them are solved
    csat: int | None = None  # the customer's 1–5 answer to the survey (solved/closed tickets)
    public_reply: str | None = None  # a public comment to the customer (counts as the first response)
    minutes_ago: float = 0  # when the ticket was created; the status change follows soon after


@dataclass(frozen=True)
class Story:
    who: str  # people.PEOPLE key
    state: State
    turns: tuple[Turn, ...]
    ticket: TicketSpec | None = None
    tags: tuple[str, ...] = ()
    snooze_minutes: int = 120  # snoozed: for how long from now


def c(text: str, minutes_ago: float, channel: str | None = None) -> Turn:
    return Turn("customer", text, minutes_ago, channel)


def a(text: str, minutes_ago: float) -> Turn:
    return Turn("agent", text, minutes_ago)


def n(text: str, minutes_ago: float) -> Turn:
    return Turn("note", text, minutes_ago)


DAY = 24 * 60

# fmt: off
STORIES: tuple[Story, ...] = (
    # ---- Chen Jing, on three channels: SMS last week, the app two days ago (a ticket with two
    # sub-tickets), e-mail today about the parcel that is still on its way ----
    Story("chen-jing", "closed", (
        c("你好 我上周买的精华液可以开发票吗", 6 * DAY + 50),
        a("您好陈女士，可以的，电子发票会在订单完成后24小时内发到您的邮箱。", 6 * DAY + 44),
        c("好的谢谢", 6 * DAY + 40),
    )),
    Story("chen-jing", "closed", (
        c("面霜收到了但是瓶子漏了，盒子里全是，要退货", 2 * DAY + 300, "app"),
        a("非常抱歉！已为您登记退货，并通知仓库补发一瓶新的。", 2 * DAY + 290),
        c("补发的什么时候能到？", 2 * DAY + 280, "app"),
        a("补发单已经建好，物流同事会跟进，有进展第一时间通知您。", 2 * DAY + 270),
    ), ticket=TicketSpec("open", "面霜漏液：退货并补发 Leaking cream: return and replacement", "high", "return",
                         subtickets=(("logistics", "补发新面霜 Ship the replacement"),
                                     ("aftersales", "退款/退货入库 Receive the return")),
                         subtickets_done=1, minutes_ago=2 * DAY + 275)),
    Story("chen-jing", "assigned", (
        c("Hi, order SO20240088 still not arrived, tracking says in transit for 2 days 物流一直没更新", 35, "email"),
        a("您好陈女士，已经帮您联系顺丰催件，预计明天送达。", 20),
        c("ok thx, 明天我不在家可以放驿站吗", 12, "email"),
    ), tags=("vip-watch",)),

    # ---- waiting in the queues ----
    Story("wang-fang", "queued", (c("在吗？我的快递三天了还没到，单号查不到", 14),)),
    Story("zhang-wei", "queued", (c("你们这个APP登录不上去，一直提示验证码错误", 9),)),
    Story("emma-wilson", "queued", (
        c("Hi there! Does the radiance serum work for sensitive skin?", 11),
        c("Also is there any discount this week?", 10),
    )),
    Story("huang-min", "queued", (c("直播间说买二送一，我下单怎么没送？？", 6),)),
    Story("liam-johnson", "queued", (c("My package says delivered but there's nothing at my door. Parcel tracking is useless", 4),)),
    Story("zhou-jie", "queued", (c("差评！客服态度太差了，我要投诉", 3),), tags=("complaint",)),
    Story("mia-chen", "queued", (c("hi do u ship to Singapore? and how long 大概几天", 2),)),
    Story("gao-yan", "queued", (c("请问面膜有没有优惠活动，想买两盒", 1.5),)),
    Story("ryan-ho", "queued", (c("App keeps crashing when I open my orders page on iPhone 15", 0.8),)),

    # ---- owned by an agent, in progress ----
    Story("li-na", "assigned", (
        c("我想退款，买错色号了", 48),
        a("您好，收到，请问商品是否已拆封？", 44),
        c("没拆，还是原包装", 40),
    )),
    Story("yang-xue", "assigned", (
        c("你好，防晒乳和精华可以一起用吗？先涂哪个", 30),
        a("您好！建议先精华后防晒，间隔一两分钟让精华吸收。", 25),
        c("好的，那防晒需要卸妆吗", 18),
    )),
    Story("james-miller", "assigned", (
        c("Hello,\nI was charged twice for order SO71209934. Please refund the duplicate payment.\nThanks, James", 95),
        a("Hi James, sorry about that. I can see two payments and have asked finance to refund one.", 80),
    ), ticket=TicketSpec("pending_customer", "Duplicate charge on SO71209934", "high", "billing",
                         public_reply="Could you send us the last 4 digits of the card so finance can match it?",
                         minutes_ago=78)),
    Story("sophia-lee", "assigned", (
        c("Is the hydrating cream ok during pregnancy?", 55),
        a("Hi Sophia, it's fragrance free and has no retinoids; we still suggest asking your doctor.", 50),
    )),
    Story("zhao-lei", "assigned", (
        c("设备绑定失败，错误码 E1024，试了好几次了", 70),
        a("您好，请先把APP升级到最新版本再试一次。", 62),
        c("升级了还是不行", 58),
        n("E1024 是固件问题，转技术同事看下 @agent3", 57),
    ), ticket=TicketSpec("on_hold", "APP 绑定失败 E1024 Device pairing fails", "normal", "device_fault",
                         minutes_ago=56)),
    Story("oliver-brown", "assigned", (
        c("hey, can I change the delivery address for my order? moving next week", 40),
        a("Sure Oliver, send me the new address and I'll update it before it ships.", 33),
    )),
    Story("lin-xiaomei", "assigned", (
        c("請問你們有寄到台灣嗎？運費多少", 26),
        a("您好，可以寄到台湾，满 299 包邮，一般 5-7 天到。", 21),
    )),
    Story("ava-garcia", "assigned", (
        c("I want to return the toner, it gave me a rash :(", 240),
        a("I'm so sorry Ava. I'm raising this with our product safety team right away.", 233),
        c("ok pls hurry, still red today", 45),
    # created 228 minutes ago under the default policy (first response within 240 minutes) and not
    # yet answered on the ticket: its SLA breaches in about 12 minutes ("at risk")
    ), ticket=TicketSpec("new", "Return: toner caused a rash", "high", "return", minutes_ago=228)),
    Story("isabella-wong", "assigned", (
        c("Hi, my sheet masks arrived but one pack is torn open", 22),
        a("Sorry Isabella! Could you send a photo? We'll send a new pack.", 15),
    )),
    Story("xu-qiang", "assigned", (
        c("您好，\n公司采购50套礼盒，能开增值税专票吗？有没有批发价？\n徐强", 120),
        a("徐先生您好，可以开专票，50套以上有批发价，我发报价单给您。", 100),
    ), ticket=TicketSpec("open", "企业采购 50 套礼盒报价 Wholesale quote", "normal", "presales", minutes_ago=98)),

    # ---- snoozed until later (waiting on someone) ----
    Story("sun-li", "snoozed", (
        c("我的订单能不能加急？周六要送人", 90),
        a("您好，已帮您申请加急，仓库下午回复，我再通知您。", 85),
    ), snooze_minutes=180),
    Story("noah-davis", "snoozed", (
        c("Warranty question: my LED mask stopped charging after 3 months", 150),
        a("Hi Noah, I've asked our repair partner; I'll get back to you tomorrow morning.", 140),
    ), ticket=TicketSpec("on_hold", "LED mask not charging (warranty)", "normal", "warranty", minutes_ago=138),
        snooze_minutes=16 * 60),
    Story("he-peng", "snoozed", (
        c("发票抬头写错了，能重开吗", 60),
        a("可以的，财务重开需要半天，开好我发您。", 55),
    ), snooze_minutes=240),

    # ---- history: closed conversations, some with tickets and the customer's CSAT ----
    Story("liu-yang", "closed", (
        c("你好，快递显示签收了但我没收到", 3 * DAY + 120),
        a("您好，已联系快递员，包裹放在了小区快递柜，取件码已短信发您。", 3 * DAY + 100),
        c("找到了，谢谢！", 3 * DAY + 60),
    ), ticket=TicketSpec("closed", "签收未收到 Delivered but not received", None, "delivery",
                         csat=5, minutes_ago=3 * DAY + 98)),
    Story("wu-ting", "closed", (
        c("退款什么时候到账啊 已经一周了", 4 * DAY + 200),
        a("您好，退款已于昨天原路退回，银行处理需 1-3 个工作日。", 4 * DAY + 180),
    ), ticket=TicketSpec("solved", "退款未到账 Refund not received", None, "refund", csat=4,
                         minutes_ago=4 * DAY + 175)),
    Story("ma-chao", "closed", (
        c("直播间的赠品什么时候发", 5 * DAY + 30),
        a("赠品和正品一起发出，请留意物流。", 5 * DAY + 20),
    )),
    Story("zhu-hui", "closed", (
        c("APP 里积分不见了", 2 * DAY + 500),
        a("您好，积分系统升级，已为您补回 320 积分。", 2 * DAY + 470),
        c("看到了 谢谢", 2 * DAY + 460),
    ), ticket=TicketSpec("closed", "积分丢失 Loyalty points missing", None, "account", csat=3,
                         minutes_ago=2 * DAY + 468)),
    Story("hu-jun", "closed", (
        c("你们家面霜是不是假货 味道跟以前不一样", 6 * DAY + 100),
        a("您好，我们是品牌直营，配方今年升级去掉了香精，所以味道不同。", 6 * DAY + 80),
    )),
    Story("guo-jing", "closed", (
        c("想问一下会员日是哪天", 1 * DAY + 200),
        a("每月 18 号是会员日，全场 8.8 折。", 1 * DAY + 190),
    )),
    Story("luo-bin", "closed", (
        c("您好，订单 SO55201877 的收货地址写错了，能改吗？", 3 * DAY + 400),
        a("罗先生您好，已为您修改地址，今天发出。", 3 * DAY + 380),
    ), ticket=TicketSpec("solved", "修改收货地址 Change the address", None, "delivery", minutes_ago=3 * DAY + 378)),
    Story("chen-hao", "closed", (
        c("在么 serum 有小样吗", 4 * DAY + 90),
        a("有的，下单满 199 送 5ml 小样。", 4 * DAY + 80),
    )),
    Story("lucas-martin", "closed", (
        c("Hello, do you deliver to France and do I pay customs?", 5 * DAY + 300),
        a("Hi Lucas, yes, we ship to France; duties are included at checkout.", 5 * DAY + 250),
        c("Perfect, thank you!", 5 * DAY + 240),
    )),
    Story("charlotte-tan", "closed", (
        c("Received the wrong shade of sunscreen, I ordered the tinted one", 2 * DAY + 700),
        a("Sorry Charlotte! The tinted one is on its way; keep the other one.", 2 * DAY + 650),
    ), ticket=TicketSpec("closed", "Wrong item: untinted sunscreen sent", None, "wrong_item", csat=5,
                         minutes_ago=2 * DAY + 640)),
    Story("ethan-kim", "closed", (
        c("How do I delete my account in the app?", 1 * DAY + 900),
        a("Hi Ethan, Settings → Account → Delete account; it takes effect in 7 days.", 1 * DAY + 880),
    )),
    Story("amelia-zhang", "closed", (
        c("Hi 我想问下 gift card 能和优惠券一起用吗", 3 * DAY + 30),
        a("可以一起使用的哦～", 3 * DAY + 25),
    )),
    Story("henry-ng", "closed", (
        c("Do you have a store in Hong Kong?", 6 * DAY + 60),
        a("Not yet Henry, but we ship to Hong Kong in 2-3 days.", 6 * DAY + 50),
    )),
    Story("grace-liu", "closed", (
        c("the serum bottle dropper is broken", 1 * DAY + 300),
        a("So sorry Grace, a new dropper is in the post today.", 1 * DAY + 280),
    ), ticket=TicketSpec("solved", "Broken dropper on serum", None, "defect", minutes_ago=1 * DAY + 275)),
    Story("daniel-smith", "closed", (
        c("Is there a student discount?", 2 * DAY + 60),
        a("Hi Daniel, yes: 15% with a student email, code STUDENT15.", 2 * DAY + 45),
    )),
    Story("chloe-lam", "closed", (
        c("hi can i pay with alipay hk", 4 * DAY + 10),
        a("Yes, AlipayHK is supported at checkout.", 4 * DAY + 5),
    )),
    Story("zoe-clark", "closed", (
        c("Hello,\nMy order arrived damaged. The box was crushed and the cream leaked.\nZoe", 5 * DAY + 600),
        a("Hi Zoe, I'm sorry. A replacement has been sent and you don't need to return anything.", 5 * DAY + 560),
    ), ticket=TicketSpec("closed", "Damaged in transit: cream leaked", None, "delivery", csat=2,
                         minutes_ago=5 * DAY + 555)),
)
# fmt: on
