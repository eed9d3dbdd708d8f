"""Article suggestions as a website visitor types (the chat widget, before anyone answers).

``GET /api/bot/suggest?site=<site>&q=<text>`` with the visitor's token
(``Authorization: Bearer <token from POST /webhooks/web[/<site>]/sessions>``): public, but only for
a visitor of that site, and rate-limited per visitor by a token bucket in the ``state`` table
(``BURST`` requests at once, then ``RATE`` a second — typing with a short debounce stays well
inside). CORS follows the site's ``allowed_origins``, as the widget's other calls do.

``GET /api/bot/suggest?site=<site>&article=<article_id>`` (same token, same bucket): the published
article a visitor clicked, as plain text for the widget (counted as a view). Only articles allowed
on the web channel; anything else is 404.
"""

from __future__ import annotations

import re
import time
from collections.abc import Mapping
from typing import Any

from pynamodb.exceptions import DoesNotExist, PutError

from chalicelib.bot import knowledge
from chalicelib.bot.format import plain
from chalicelib.bot.models import RateBucket
from chalicelib.channels import base as channel_base
from chalicelib.channels.credentials import account_credentials
from chalicelib.channels.web import read_token
from chalicelib.errors import DomainError, Invalid, NotFound, TooManyRequests, Unauthorized

BURST = 10
RATE = 2.0  # tokens a second
MIN_QUERY, MAX_QUERY = 2, 200
LIMIT = 5
ARTICLE_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
BUCKET_TTL = 3600


class RateLimited(TooManyRequests):
    def __init__(self, retry_after: float) -> None:
        super().__init__(
            "too many suggestion requests: slow down", details={"retry_after": round(retry_after, 1)}
        )
        self.retry_after = retry_after


def take(
    scope: str, who: str, *, burst: int | None = None, rate: float | None = None, now: float | None = None
) -> None:
    """Take one token from ``who``'s bucket in ``scope`` (one GetItem and one conditional PutItem;
    a lost race is retried once). Raises ``RateLimited`` when the bucket is empty."""
    burst = BURST if burst is None else burst
    rate = RATE if rate is None else rate
    key = f"ratelimit#{scope}#{who}"
    for _ in range(2):
        at = time.time() if now is None else now
        try:
            bucket = RateBucket.get(key, consistent_read=True)
            tokens = min(float(burst), float(bucket.tokens) + (at - float(bucket.refilled_at)) * rate)
            condition: Any = RateBucket.refilled_at == bucket.refilled_at
        except DoesNotExist:
            tokens, condition = float(burst), RateBucket.key.does_not_exist()
        if tokens < 1.0:
            raise RateLimited((1.0 - tokens) / rate)
        try:
            RateBucket(key, tokens=tokens - 1.0, refilled_at=at, expires_at=int(at) + BUCKET_TTL).save(
                condition=condition
            )
            return
        except PutError as exc:
            if getattr(exc, "cause_response_code", None) != "ConditionalCheckFailedException":
                raise
    raise RateLimited(1.0 / rate)


def cors_headers(site: str, origin: str | None) -> dict[str, Any]:
    """CORS for the widget's origin when the site allows it (``allowed_origins`` credential)."""
    if not origin:
        return {}
    try:
        creds = account_credentials("web", site)
    except Exception:  # noqa: BLE001 — an unknown site simply gets no CORS headers
        return {}
    allowed = [o.strip() for o in creds.get("allowed_origins", "").split(",") if o.strip()]
    if "*" not in allowed and origin not in allowed:
        return {}
    return {
        "Access-Control-Allow-Origin": origin,
        "Access-Control-Allow-Headers": "authorization, content-type",
        "Access-Control-Allow-Methods": "GET, OPTIONS",
        "Access-Control-Max-Age": "600",
        "Vary": "Origin",
    }


def visitor(site: str, authorization: str | None) -> str:
    """The visitor id the bearer token vouches for on ``site``. Raises ``Unauthorized``."""
    if not authorization or not authorization.lower().startswith("bearer "):
        raise Unauthorized("missing visitor token")
    try:
        creds = account_credentials("web", site)
        claims = read_token(authorization[7:].strip(), creds["visitor_secret"], site)
    except (channel_base.WebhookError, KeyError) as exc:
        raise Unauthorized("bad visitor token") from exc
    return str(claims["v"])


def suggest(site: str | None, query: str | None, headers: Mapping[str, str]) -> dict[str, Any]:
    """Up to ``LIMIT`` published articles for what the visitor has typed so far."""
    site = (site or "default").strip()
    if not site or len(site) > 64:
        raise Invalid("site must be 1..64 characters")
    lower = {k.lower(): v for k, v in headers.items()}
    who = visitor(site, lower.get("authorization"))
    text = " ".join((query or "").split())
    if not MIN_QUERY <= len(text) <= MAX_QUERY:
        raise Invalid(f"q must be {MIN_QUERY}..{MAX_QUERY} characters")
    take("suggest", f"{site}#{who}")
    found = knowledge.search(text, language=None, limit=LIMIT, channel="web", record=False)  # still typing
    return {
        "query": text,
        "suggestions": [
            {"article_id": h.article_id, "title": h.title, "snippet": h.snippet, "language": h.language}
            for h in found.results[:LIMIT]
        ],
        "answer": {"article_id": found.answer, "confidence": found.confidence} if found.answer else None,
    }


def read_article(site: str | None, article_id: str, headers: Mapping[str, str]) -> dict[str, Any]:
    """The published article ``article_id`` as plain text, if it may be shown on the web."""
    site = (site or "default").strip()
    if not site or len(site) > 64:
        raise Invalid("site must be 1..64 characters")
    if not ARTICLE_ID.match(article_id):
        raise Invalid("article must be 1..64 letters, digits, '_' or '-'")
    lower = {k.lower(): v for k, v in headers.items()}
    who = visitor(site, lower.get("authorization"))
    take("suggest", f"{site}#{who}")
    found = knowledge.article(article_id)
    if found is None or (found.channels and "web" not in found.channels):
        raise NotFound("no such article")
    knowledge.record(article_id, "views")
    return {
        "article": {
            "article_id": found.article_id,
            "title": found.title,
            "text": plain(found.body),
            "language": found.language,
        }
    }


def answer(
    site: str | None, query: str | None, headers: Mapping[str, str], article_id: str | None = None
) -> tuple[int, dict[str, Any], dict[str, Any]]:
    """The HTTP answer — status, body, headers — with the site's CORS headers on errors too (a
    browser hides an answer without them from the widget, which then cannot back off on a 429)."""
    lower = {k.lower(): v for k, v in headers.items()}
    cors = cors_headers((site or "default").strip()[:64], lower.get("origin"))
    try:
        found = (
            read_article(site, article_id, lower) if article_id is not None else suggest(site, query, lower)
        )
        return 200, found, cors | {"Cache-Control": "no-store"}
    except DomainError as exc:
        extra = {"Retry-After": str(max(1, round(exc.retry_after)))} if isinstance(exc, RateLimited) else {}
        return exc.status, {"error": exc.code, "message": exc.message, **exc.details}, cors | extra
