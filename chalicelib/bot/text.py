"""Reading what a customer wrote to the bot, and what the bot says back (pure).

The bot's words are fixed templates in ``zh-CN`` and ``en`` — it never composes an answer of its
own: everything factual comes from an article, the orders connector, a calendar or a ticket.
Recognisers are deliberately simple and conservative (a handoff word, a yes/no, a number, an order
number); what they miss falls through to search, and search's own silence to a human.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date, datetime, timedelta
from typing import Any

Language = str  # "zh-CN" | "zh-TW" | "en" (the KB's codes)
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


def fold(text: str) -> str:
    """NFKC (full-width → ASCII), case-folded, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text or "").casefold().split())


def language_of(text: str | None, default: Language = "en") -> Language:
    """``zh-CN`` when the text has Chinese characters, else ``default``."""
    return "zh-CN" if text and _CJK.search(text) else default


def _lang(language: Language | None) -> str:
    return "zh" if (language or "").startswith("zh") else "en"


def _pattern(words: tuple[str, ...]) -> re.Pattern[str]:
    """Latin words match whole words; CJK words as substrings (Chinese does not separate words)."""
    parts = [re.escape(w) if _CJK.search(w) else rf"\b{re.escape(w)}\b" for w in words]
    return re.compile("|".join(parts))


# ---- what the customer means ---------------------------------------------------------------------
HANDOFF_WORDS = (
    "人工",
    "转人工",
    "人工客服",
    "真人",
    "找客服",
    "客服电话",
    "活人",
    "人工服務",
    "真人客服",
    "agent",
    "human",
    "real person",
    "representative",
    "operator",
    "talk to someone",
    "live chat",
    "speak to someone",
    "customer service",
)
CANCEL_WORDS = (
    "取消",
    "算了",
    "不用了",
    "退出",
    "不查了",
    "不要了",
    "不需要",
    "没事了",
    "沒事了",
    "cancel",
    "stop",
    "never mind",
    "nevermind",
    "forget it",
    "quit",
    "exit",
)
# A small lexicon until the assist capability's sentiment model lands: clear anger or abuse only,
# so an ordinary complaint about a product ("质量不好") is answered, not escalated.
NEGATIVE_WORDS = (
    "垃圾",
    "气死",
    "太差",
    "骗子",
    "骗人",
    "什么破",
    "破机器人",
    "投诉你们",
    "要投诉",
    "滚",
    "坑人",
    "无语",
    "差评",
    "恶心",
    "太烂",
    "烂透",
    "废物",
    "有病",
    "智障",
    "听不懂人话",
    "答非所问",
    "useless",
    "terrible",
    "worst",
    "ridiculous",
    "scam",
    "angry",
    "furious",
    "stupid bot",
    "wtf",
    "rubbish",
    "pathetic",
    "not helpful at all",
    "waste of time",
    "awful",
)
YES_WORDS = (
    "是",
    "是的",
    "对",
    "对的",
    "好的",
    "解决了",
    "已解决",
    "可以了",
    "有用",
    "有帮助",
    "明白了",
    "谢谢",
    "感谢",
    "好了",
    "ok",
    "okay",
    "yes",
    "yep",
    "yeah",
    "y",
    "solved",
    "thanks",
    "thank you",
    "great",
    "perfect",
    "helpful",
    "got it",
    "that helps",
    "resolved",
)
NO_WORDS = (
    "不是",
    "没有",
    "没用",
    "沒用",
    "不行",
    "没解决",
    "沒解決",
    "未解决",
    "不对",
    "不對",
    "没帮助",
    "還是不行",
    "还是不行",
    "no",
    "nope",
    "not really",
    "didn't help",
    "did not help",
    "not solved",
    "doesn't help",
    "wrong",
    "not helpful",
    "n",
)

_HANDOFF = _pattern(HANDOFF_WORDS)
_CANCEL = _pattern(CANCEL_WORDS)
_NEGATIVE = _pattern(NEGATIVE_WORDS)
_PUNCT = re.compile(r"[\s,.!?;:~，。！？；：、…\-]+")


def wants_human(text: str) -> bool:
    return bool(_HANDOFF.search(fold(text)))


def wants_cancel(text: str) -> bool:
    """A cancel word in a short message (a long one that mentions "cancel" is a question)."""
    folded = fold(text)
    return len(folded) <= 20 and bool(_CANCEL.search(folded))


def is_negative(text: str) -> bool:
    return bool(_NEGATIVE.search(fold(text)))


def yes_no(text: str) -> bool | None:
    """True for a short "yes / solved / thanks", False for "no / didn't help", else None."""
    folded = _PUNCT.sub(" ", fold(text)).strip()
    if not folded or len(folded) > 24:
        return None
    if folded in NO_WORDS or any(w in folded for w in NO_WORDS if _CJK.search(w)):
        return False
    if folded in YES_WORDS or any(folded.startswith(w) for w in YES_WORDS if _CJK.search(w)):
        return True
    return None


_CHOICE = re.compile(r"^\s*(?:#|no\.?\s*|第)?\s*([1-9])\s*(?:个|個|号|號|\.|、)?\s*$", re.IGNORECASE)


def choice(text: str, options: int) -> int | None:
    """The 1-based option a customer picked by number ("2", "２", "第2个"), if in range."""
    m = _CHOICE.match(unicodedata.normalize("NFKC", text or ""))
    if not m:
        return None
    picked = int(m.group(1))
    return picked if 1 <= picked <= options else None


# Order numbers: letters-and-digits codes with at least 4 digits (SO-2, 20240501123, DD2024-55).
_ORDER = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{0,4}-?\d{1,}[A-Za-z0-9-]*)(?![A-Za-z0-9])")


def order_number_in(text: str) -> str | None:
    """An order number the customer typed, if one stands out: a token with digits, either with a
    letter prefix (``SO-2``, ``DD20240501``) or at least 6 digits long (``202405011234``)."""
    normalized = unicodedata.normalize("NFKC", text or "")
    for m in _ORDER.finditer(normalized):
        token = m.group(1).strip("-")
        digits = sum(c.isdigit() for c in token)
        has_prefix = token[:1].isalpha()
        if (has_prefix and digits >= 1 and len(token) >= 3) or digits >= 6:
            return token.upper()
    return None


_DAYS_AGO = re.compile(r"(\d{1,3})\s*(?:天|days?)\s*(?:前|ago)?", re.IGNORECASE)
_WEEKS_AGO = re.compile(r"(\d{1,2})\s*(?:周|週|个星期|個星期|星期|weeks?)\s*(?:前|ago)?", re.IGNORECASE)
_MONTHS_AGO = re.compile(r"(\d{1,2})\s*(?:个月|個月|months?)\s*(?:前|ago)?", re.IGNORECASE)
_ISO_DAY = re.compile(r"(20\d\d)[-/.年](\d{1,2})[-/.月](\d{1,2})")
_MONTH_DAY = re.compile(r"(\d{1,2})\s*月\s*(\d{1,2})\s*[日号號]")
_RELATIVE = {
    "今天": 0,
    "today": 0,
    "昨天": 1,
    "yesterday": 1,
    "前天": 2,
    "上周": 7,
    "上週": 7,
    "last week": 7,
    "上个月": 30,
    "上個月": 30,
    "last month": 30,
    "前几天": 3,
    "前幾天": 3,
    "a few days ago": 3,
    "这周": 3,
    "這週": 3,
    "this week": 3,
}
_CN_DIGITS = str.maketrans(
    {
        "一": "1",
        "两": "2",
        "兩": "2",
        "二": "2",
        "三": "3",
        "四": "4",
        "五": "5",
        "六": "6",
        "七": "7",
        "八": "8",
        "九": "9",
        "十": "10",
    }
)


def purchase_date(text: str, today: date) -> date | None:
    """When something was bought, from "3天前", "上周", "5月2日", "2025-05-02", "two weeks ago"…"""
    folded = fold(text).translate(_CN_DIGITS).replace("two", "2").replace("three", "3")
    if m := _ISO_DAY.search(folded):
        try:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            return None
    if m := _MONTH_DAY.search(folded):
        try:
            day = date(today.year, int(m.group(1)), int(m.group(2)))
        except ValueError:
            return None
        return day if day <= today else day.replace(year=today.year - 1)
    for pattern, unit in ((_DAYS_AGO, 1), (_WEEKS_AGO, 7), (_MONTHS_AGO, 30)):
        if m := pattern.search(folded):
            return today - timedelta(days=int(m.group(1)) * unit)
    for phrase, days in _RELATIVE.items():
        if phrase in folded:
            return today - timedelta(days=days)
    return None


# ---- what the bot says ---------------------------------------------------------------------------
TEMPLATES: dict[str, dict[str, str]] = {
    "solved?": {
        "zh": "这个回答解决您的问题了吗？（回复“是”或“否”）",
        "en": "Did this solve it? (reply yes or no)",
    },
    "did_you_mean": {"zh": "猜您想问：", "en": "Did you mean:"},
    "pick_number": {
        "zh": "回复数字选择，或回复“人工”转人工客服。",
        "en": 'Reply with a number, or "agent" for a person.',
    },
    "nothing": {
        "zh": "抱歉，我暂时没有找到这个问题的答案。回复“人工”为您转接人工客服，或换个说法再问我。",
        "en": "Sorry, I couldn't find an answer to that. "
        'Reply "agent" to talk to a person, or ask me another way.',
    },
    "glad": {
        "zh": "很高兴帮到您！还有其他问题随时问我。",
        "en": "Glad that helped! Ask me anything else any time.",
    },
    "sorry_more": {
        "zh": "抱歉没能解决。您可以换个说法再问，或回复“人工”转人工客服。",
        "en": 'Sorry that didn\'t help. Ask another way, or reply "agent" to talk to a person.',
    },
    "handoff": {
        "zh": "正在为您转接人工客服，您刚才的问题已经转给客服，无需重复描述，请稍候。",
        "en": "Connecting you to an agent. They can see what you asked, so there's no need to repeat it.",
    },
    "handoff_closed": {
        "zh": "正在为您转接人工客服，您的问题已经转给客服，无需重复描述。现在是非服务时间，"
        "客服上班后会第一时间回复您（{next_open}）。",
        "en": "Connecting you to an agent; they can see what you asked. We're closed right now: "
        "an agent will reply when we open ({next_open}).",
    },
    "cancelled": {
        "zh": "好的，已取消。还有什么可以帮您？",
        "en": "OK, cancelled. What else can I help with?",
    },
    "timed_out": {
        "zh": "（上一个查询已超时，已重新开始。）",
        "en": "(Your previous request timed out; starting over.)",
    },
    "flow_failed": {
        "zh": "抱歉，我还是没能识别。正在为您转接人工客服。",
        "en": "Sorry, I still couldn't make that out. Connecting you to an agent.",
    },
    "no_orders": {
        "zh": "没有查到订单 {number}，请核对订单号后再发一次，或回复“人工”。",
        "en": 'I couldn\'t find order {number}. Please check the number and send it again, or reply "agent".',
    },
    "orders_unavailable": {
        "zh": "订单系统暂时无法查询，正在为您转接人工客服。",
        "en": "The order system can't be reached right now; connecting you to an agent.",
    },
    "order_status": {"zh": "订单 {number}：{status}{tracking}", "en": "Order {number}: {status}{tracking}"},
    "tracking": {
        "zh": "（{carrier} {tracking_number}{tracking_status}）",
        "en": " ({carrier} {tracking_number}{tracking_status})",
    },
    "open_now": {
        "zh": "我们现在正在服务中。今天的服务时间：{hours}。",
        "en": "We're open now. Today's hours: {hours}.",
    },
    "closed_now": {
        "zh": "现在是非服务时间。下次服务时间：{next_open}。",
        "en": "We're closed right now. We open again {next_open}.",
    },
    "no_calendar": {
        "zh": "抱歉，暂时无法查询服务时间，回复“人工”转人工客服。",
        "en": 'Sorry, I can\'t look up our hours right now. Reply "agent" for a person.',
    },
    "purchase_was": {
        "zh": "（您购买“{item}”约在 {days} 天前。）",
        "en": '(You bought "{item}" about {days} days ago.)',
    },
    "no_article": {
        "zh": "抱歉，暂时没有找到相关政策说明，正在为您转接人工客服。",
        "en": "Sorry, I can't find that policy right now; connecting you to an agent.",
    },
}


def say(kind: str, language: Language | None, **values: Any) -> str:
    """The bot's fixed text ``kind`` in the customer's language (Chinese for zh-*, else English)."""
    return TEMPLATES[kind][_lang(language)].format(**values)


def localized(texts: dict[str, str], language: Language | None) -> str:
    """A flow's prompt ``{"zh": …, "en": …}`` in the customer's language (any one as a fallback)."""
    key = _lang(language)
    return texts.get(key) or texts.get("en") or next(iter(texts.values()), "")


def when(at: datetime, language: Language | None, zone: Any = None) -> str:
    """A moment as a customer reads it, in the calendar's zone: "周一 09:00" / "Mon 09:00"."""
    local = at.astimezone(zone) if zone is not None else at
    if _lang(language) == "zh":
        return f"{local.month}月{local.day}日 周{'一二三四五六日'[local.weekday()]} {local:%H:%M}"
    return f"{local:%a %d %b %H:%M}"
