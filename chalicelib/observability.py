"""powertools Logger, Metrics and Tracer shared by every Lambda.

The service name comes from POWERTOOLS_SERVICE_NAME (set per function in infra), so logs and
metrics of each webhook Lambda, the router and the API are told apart without code changes.
Message text, phone numbers and e-mail addresses are never logged: log ids, not content. As a
safety net under that rule, every line goes through one masking step (``PiiMaskingFormatter``):
message bodies, names and credentials are blanked by their key wherever they sit in the line, and
phones, e-mails, ID-card numbers, bank cards and street addresses are masked wherever they appear
in any string (the message, an ``extra`` value, a logged event, an exception's text).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter
from aws_lambda_powertools.logging.types import LogRecord

BLANK = "***"

# Keys whose values are customer content or secrets whatever they hold: blanked whole, at any depth
# (a logged event's "body", a Twilio form's "Body", an e-mail's "subject", a header's "authorization").
SECRET_KEYS = frozenset(
    {
        "body",
        "text",
        "content",
        "caption",
        "preview",
        "transcript",
        "subject",
        "snippet",
        "html",
        "message_text",
        "comment",
        "note",
        "name",
        "display_name",
        "nickname",
        "first_name",
        "last_name",
        "full_name",
        "address",
        "authorization",
        "cookie",
        "x-api-key",
        "password",
        "token",
        "access_token",
        "secret",
    }
)
# The formatter's own keys: never content, left as they are.
_OWN_KEYS = frozenset(
    {"level", "location", "timestamp", "service", "xray_trace_id", "sampling_rate", "cold_start"}
)

# ASCII word characters only: Python's \w also matches CJK, and 手机13800138000 is a phone.
_NOT_ALNUM_BEFORE = r"(?<![A-Za-z0-9_@.+])"
_NOT_ALNUM_AFTER = r"(?![A-Za-z0-9_@])"
EMAIL = re.compile(
    r"(?<![A-Za-z0-9._%+-])([A-Za-z0-9._%+-])[A-Za-z0-9._%+-]*@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)"
)
# Mainland China resident ID: 17 digits and a digit or X (18), or the old 15 digits.
ID_CARD = re.compile(_NOT_ALNUM_BEFORE + r"(\d{6})(?:\d{8}(\d{3}[\dXx])|\d{6}(\d{3}))" + _NOT_ALNUM_AFTER)
# Bank cards: 15-19 digits, optionally in groups split by spaces or dashes, passing the Luhn check.
BANK_CARD = re.compile(_NOT_ALNUM_BEFORE + r"\d(?:[ -]?\d){14,18}" + _NOT_ALNUM_AFTER)
PHONE = re.compile(
    _NOT_ALNUM_BEFORE
    + r"(?:"
    + r"\+\d[\d ().-]{5,18}\d"  # international, E.164 or spaced: +14155550123, +86 138 0013 8000
    + r"|(?:(?:0086|86)[ -]?)?1[3-9]\d(?:[ -]?\d{4}){2}"  # mainland mobile: 13800138000, 138-0013-8000
    + r"|\(?\d{3}\)?[ .-]\d{3}[ .-]\d{4}"  # North American: (415) 555-0123, 415-555-0123
    + r"|0\d{2,3}-\d{7,8}"  # mainland landline: 010-12345678
    + r")"
    + _NOT_ALNUM_AFTER
)
_CJK = r"[\u4e00-\u9fff]"
ADDRESS = re.compile(
    # 北京市朝阳区建国路88号SOHO现代城5号楼 / 上海浦东新区张江路 100 弄 3 号
    _CJK
    + r"[\u4e00-\u9fff\w]{0,30}?(?:路|街|巷|弄|大道|胡同|道)\s*\d+\s*(?:号|弄|號)[\u4e00-\u9fff\w#-]{0,20}"
    # 221B Baker Street, 1600 Amphitheatre Pkwy Apt 2
    + r"|\b\d{1,6}[A-Za-z]?\s+(?:[A-Z][A-Za-z'-]*\.?\s+){1,4}"
    r"(?:Street|St|Avenue|Ave|Road|Rd|Boulevard|Blvd|Lane|Ln|Drive|Dr|Way|Court|Ct|Place|Pl|Pkwy|Parkway)\b\.?"
    r"(?:,?\s*(?:Apt|Suite|Unit|#)\s*\w+)?"
)


def _luhn(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def mask_phone(phone: str) -> str:
    """138****1234: the first three and last four digits of a phone, the rest masked."""
    digits = re.sub(r"\D", "", phone)
    if len(digits) < 7:
        return BLANK
    return f"{'+' if phone.strip().startswith('+') else ''}{digits[:3]}****{digits[-4:]}"


def mask_email(email: str) -> str:
    """a***@example.com: the first character and the domain."""
    local, at, domain = email.partition("@")
    return f"{local[:1]}***@{domain}" if at and local else BLANK


def _card(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group(0))
    return f"****{digits[-4:]}" if _luhn(digits) else match.group(0)


def mask_text(text: str) -> str:
    """Every phone, e-mail, ID-card number, bank card and street address in ``text``, masked."""
    text = EMAIL.sub(lambda m: f"{m.group(1)}***@{m.group(2)}", text)
    text = ID_CARD.sub(lambda m: f"{m.group(1)}********{(m.group(2) or m.group(3))[-2:]}", text)
    text = BANK_CARD.sub(_card, text)
    text = PHONE.sub(lambda m: mask_phone(m.group(0)), text)
    return ADDRESS.sub("[address]", text)


def mask(value: Any, key: str | None = None) -> Any:
    """``value`` with customer content blanked by key and PII masked in every string, at any depth."""
    if key is not None and key.lower() in SECRET_KEYS and value not in (None, "", [], {}):
        return BLANK
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: mask(v, str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [mask(v) for v in value]
    if isinstance(value, bool | int | float) or value is None:
        return value
    return mask_text(str(value))  # whatever json_default would have turned into text


class PiiMaskingFormatter(LambdaPowertoolsFormatter):
    """powertools' JSON formatter with every line masked just before it is written."""

    def serialize(self, log: LogRecord) -> str:
        masked = {
            k: (v if k in _OWN_KEYS else mask(v, None if k == "message" else k)) for k, v in log.items()
        }
        return super().serialize(masked)


logger = Logger(service="omniflow", logger_formatter=PiiMaskingFormatter(utc=True))
metrics = Metrics(namespace="Omniflow", service="omniflow")
# Patch only botocore: auto-patching every library imports requests & co. on the webhook's cold
# start, undoing their lazy imports (~100 ms).
tracer = Tracer(service="omniflow", patch_modules=["botocore"])


def invocation(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Run one invocation of a handler that Chalice dispatches (API routes, queue consumers) the
    way ``logger.inject_lambda_context(clear_state=True)`` runs the webhooks' plain handlers: the
    logger forgets the previous invocation's keys (correlation id, channel …) and tags every line
    with this invocation's function and request id. For Chalice's ``@app.middleware("all")``;
    ``event`` is its Request (``lambda_context``) or event object (``context``)."""
    context = getattr(event, "lambda_context", None) or getattr(event, "context", None)
    if context is None:  # invoked without a Lambda context (a direct call): still start clean
        logger.clear_state()
        return get_response(event)
    return logger.inject_lambda_context(clear_state=True)(lambda e, _context: get_response(e))(event, context)
