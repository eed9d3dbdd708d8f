"""Pure ticket rules: status transitions, a parent's progress, custom fields per category, the
texts the customer sees (per language), and reading customer messages (a status question, a CSAT
answer, a ticket number in an e-mail subject). No I/O here; unit-tested in tests/unit/test_tickets_rules.py.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from chalicelib.errors import Invalid
from chalicelib.tickets.models import ACTIVE, STATUSES

DONE = ("solved", "closed")

# status -> the statuses it may move to. "closed" is final: a closed ticket's follow-up is a new
# ticket; a solved one may be reopened (the customer says it is not fixed).
TRANSITIONS: dict[str, frozenset[str]] = {
    "new": frozenset({"open", "pending_customer", "on_hold", "solved", "closed"}),
    "open": frozenset({"pending_customer", "on_hold", "solved", "closed"}),
    "pending_customer": frozenset({"open", "on_hold", "solved", "closed"}),
    "on_hold": frozenset({"open", "pending_customer", "solved", "closed"}),
    "solved": frozenset({"open", "closed"}),
    "closed": frozenset(),
}


class InvalidTransition(Invalid):
    """The status cannot move there (→ 400)."""


def check_transition(current: str, target: str) -> None:
    """Raise InvalidTransition unless ``current`` → ``target`` is allowed (same status is a no-op
    the caller filters out before)."""
    if target not in STATUSES:
        raise InvalidTransition(f"unknown status {target!r}")
    if target not in TRANSITIONS.get(current, frozenset()):
        allowed = ", ".join(sorted(TRANSITIONS.get(current, frozenset()))) or "none (closed is final)"
        raise InvalidTransition(f"a {current} ticket cannot become {target} (allowed: {allowed})")


def is_done(status: str | None) -> bool:
    return status in DONE


def done_delta(before: str, after: str) -> int:
    """How a status change moves the parent's ``children_done``: +1 when a sub-ticket becomes done,
    -1 when a done one is reopened, 0 otherwise (solved → closed stays done)."""
    return int(is_done(after)) - int(is_done(before))


def progress(total: int | None, done: int | None) -> dict[str, Any]:
    """A parent's progress as shown to agents: ``{"total", "done", "percent", "complete"}``."""
    t, d = int(total or 0), int(done or 0)
    return {
        "total": t,
        "done": d,
        "percent": round(100 * d / t) if t else 0,
        "complete": t > 0 and d >= t,
    }


def parent_should_solve(parent_status: str, total: int, done: int) -> bool:
    """The parent is solved automatically when all its sub-tickets are done and it is still active."""
    return parent_status in ACTIVE and total > 0 and done >= total


# ---- custom fields per category --------------------------------------------------------------------
# category -> field -> type. A category not listed takes any short scalar fields.
CATEGORY_FIELDS: dict[str, dict[str, type]] = {
    "refund": {"amount": float, "currency": str, "reason": str},
    "exchange": {"item": str, "reason": str},
    "repair": {"warranty": bool, "item": str},
    "delivery": {"carrier": str, "tracking_number": str},
    "device_fault": {"fault_code": str, "firmware": str, "severity": str},
}
MAX_CUSTOM_FIELDS = 20
MAX_CUSTOM_VALUE = 500


def validate_custom_fields(category: str | None, fields: Mapping[str, Any]) -> dict[str, Any]:
    """Check custom fields against the category's schema; ``None`` values (removals) pass.
    Returns the fields with numbers normalized; raises ValueError."""
    if len(fields) > MAX_CUSTOM_FIELDS:
        raise Invalid(f"at most {MAX_CUSTOM_FIELDS} custom fields")
    schema = CATEGORY_FIELDS.get(category or "")
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_]{0,39}", name):
            raise Invalid(f"custom field name {name!r} is not [A-Za-z][A-Za-z0-9_]*")
        if value is None:
            out[name] = None
            continue
        if schema is not None:
            if name not in schema:
                raise Invalid(f"category {category} has no field {name!r} (has: {', '.join(schema)})")
            kind = schema[name]
            if kind is float and isinstance(value, (int, float)) and not isinstance(value, bool):
                value = float(value)
            elif not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
                raise Invalid(f"custom field {name} must be a {kind.__name__}")
        elif not isinstance(value, (str, int, float, bool)):
            raise Invalid(f"custom field {name} must be a string, number or boolean")
        if isinstance(value, str) and len(value) > MAX_CUSTOM_VALUE:
            raise Invalid(f"custom field {name} is longer than {MAX_CUSTOM_VALUE} characters")
        out[name] = value
    return out


# ---- what the customer sees -------------------------------------------------------------------------
LANGUAGES = ("zh-CN", "en")
_CJK = re.compile(r"[\u3400-\u9fff]")

TEMPLATES: dict[str, dict[str, str]] = {
    "created": {
        "zh-CN": "您的工单 #{number}（{subject}）已创建，我们会尽快处理。",
        "en": "We have opened ticket #{number} ({subject}) for you and will keep you posted.",
    },
    "status.open": {
        "zh-CN": "您的工单 #{number}（{subject}）正在处理中。",
        "en": "Your ticket #{number} ({subject}) is being worked on.",
    },
    "status.pending_customer": {
        "zh-CN": "您的工单 #{number}（{subject}）需要您补充信息，请直接回复本消息。",
        "en": "Your ticket #{number} ({subject}) needs more information from you: please reply here.",
    },
    "status.on_hold": {
        "zh-CN": "您的工单 #{number}（{subject}）正在等待相关部门处理，我们会继续跟进。",
        "en": "Your ticket #{number} ({subject}) is waiting on another team; we are following it up.",
    },
    "status.solved": {
        "zh-CN": "您的工单 #{number}（{subject}）已处理完成。",
        "en": "Your ticket #{number} ({subject}) has been solved.",
    },
    "status.closed": {
        "zh-CN": "您的工单 #{number}（{subject}）已关闭。",
        "en": "Your ticket #{number} ({subject}) is closed.",
    },
    "reply": {
        "zh-CN": "【工单 #{number}】{text}",
        "en": "[Ticket #{number}] {text}",
    },
    "csat": {
        "zh-CN": "请为本次服务打分：回复 1-5（5 = 非常满意）。",
        "en": "How did we do? Reply 1-5 (5 = very satisfied).",
    },
    "csat.thanks": {
        "zh-CN": "感谢您的评价！",
        "en": "Thank you for your feedback!",
    },
    "status.list": {
        "zh-CN": "您的工单进度：\n{lines}",
        "en": "Your tickets:\n{lines}",
    },
    "status.line": {
        "zh-CN": "#{number}（{subject}）：{status}",
        "en": "#{number} ({subject}): {status}",
    },
    "status.none": {
        "zh-CN": "您目前没有处理中的工单。如需帮助，请直接留言，客服会尽快回复。",
        "en": "You have no open tickets. Tell us what you need and an agent will get back to you.",
    },
}

STATUS_NAMES: dict[str, dict[str, str]] = {
    "zh-CN": {
        "new": "已受理",
        "open": "处理中",
        "pending_customer": "等待您的回复",
        "on_hold": "等待相关部门",
        "solved": "已处理完成",
        "closed": "已关闭",
    },
    "en": {
        "new": "received",
        "open": "in progress",
        "pending_customer": "waiting for your reply",
        "on_hold": "waiting on another team",
        "solved": "solved",
        "closed": "closed",
    },
}


def language_of(text: str | None, default: str = "en") -> str:
    """zh-CN when the text has Chinese characters, else ``default``."""
    return "zh-CN" if text and _CJK.search(text) else default


def short(text: str | None, limit: int = 30) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def render(kind: str, language: str | None, **values: Any) -> str:
    """The customer-facing text ``kind`` in ``language`` (English when unknown). ``subject`` is
    shortened; a missing value raises KeyError (a bug, not a customer's problem)."""
    lang = language if language in LANGUAGES else "en"
    if "subject" in values:
        values["subject"] = short(str(values["subject"]))
    return TEMPLATES[kind][lang].format(**values)


def status_text(status: str, language: str | None) -> str:
    lang = language if language in LANGUAGES else "en"
    return STATUS_NAMES[lang].get(status, status)


def status_summary(tickets: list[Mapping[str, Any]], language: str | None) -> str:
    """The answer to "what's the status of my ticket": one line per ticket (number, subject, status)."""
    if not tickets:
        return render("status.none", language)
    lines = "\n".join(
        render(
            "status.line",
            language,
            number=t["number"],
            subject=t["subject"],
            status=status_text(str(t["status"]), language),
        )
        for t in tickets
    )
    return render("status.list", language, lines=lines)


# ---- reading customer messages ----------------------------------------------------------------------
_STATUS_QUESTION = re.compile(
    r"工单|进度|订单状态|订单到哪|物流|查单|我的订单|"
    r"\bticket\b.*\b(status|update|progress)\b|\b(status|update|progress)\b.*\bticket\b|"
    r"where\s+is\s+my\s+(order|parcel|package|ticket)|\border\s+status\b|\btrack(ing)?\s+my\s+order\b",
    re.IGNORECASE,
)


def is_status_question(text: str | None) -> bool:
    """A keyword flow (zh + en) for "what's the status of my ticket/order". Short messages only: a
    long message that mentions an order is a new question for an agent, not a status check."""
    if not text:
        return False
    text = text.strip()
    return len(text) <= 80 and bool(_STATUS_QUESTION.search(text))


_FULLWIDTH = str.maketrans("１２３４５", "12345")
_CSAT = re.compile(r"^\s*([1-5])\s*(?:分|星|stars?|/\s*5)?\s*[.!。！]?\s*$", re.IGNORECASE)


def parse_csat(text: str | None) -> int | None:
    """A 1–5 answer to the survey ("4", "５", "5分", "3 stars", "4/5"), else None."""
    if not text:
        return None
    m = _CSAT.match(text.translate(_FULLWIDTH))
    return int(m.group(1)) if m else None


_NUMBER_IN_SUBJECT = re.compile(r"\[#(\d{1,12})\]")


def ticket_number_in(subject: str | None) -> int | None:
    """The ticket number an e-mail subject carries as ``[#10042]``, if any."""
    m = _NUMBER_IN_SUBJECT.search(subject or "")
    return int(m.group(1)) if m else None


def default_subject(preview: str | None, fallback: str = "Customer request") -> str:
    """A ticket's subject from a conversation's preview: its first line, at most 80 characters."""
    first = (preview or "").strip().splitlines()[0] if (preview or "").strip() else ""
    return short(first, 80) or fallback


def diff(current: Mapping[str, Any], wanted: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``{field: {"from", "to"}}`` for each wanted value that differs from the current one (sets and
    lists compared as sorted lists)."""

    def norm(v: Any) -> Any:
        return sorted(v) if isinstance(v, (set, frozenset, list, tuple)) else v

    return {
        k: {"from": norm(current.get(k)), "to": norm(v)}
        for k, v in wanted.items()
        if norm(current.get(k)) != norm(v)
    }
