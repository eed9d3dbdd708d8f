"""The demo shop page (``GET /demo/shop`` on the local stack): a company's website that embeds
the chat widget with its one line (``shop.html``). ``?lang=en`` switches the widget to English;
``?site=wholesale`` embeds the wholesale desk's widget instead, whose business hours (Shanghai)
show the after-hours message form; the shop's own desk (``default``) is open 24×7; ``?site=bot``
embeds the self-service account, where the bot answers first (its quick replies are buttons).

The page has a Content Security Policy of its own, as a careful shop would (its inline ``<style>``
allowed, scripts only from its own origin), so the widget is exercised under one."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import parse_qs

PAGE = Path(__file__).with_name("shop.html")
SITES = ("default", "wholesale", "bot")  # the demo's web accounts (team.py WEB_ACCOUNTS, BOT_ACCOUNT)
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"
)


def page(query: str = "") -> tuple[int, list[tuple[str, str]], bytes]:
    """``(status, headers, body)`` of the shop page."""
    html = PAGE.read_text(encoding="utf-8")
    q = parse_qs(query)
    lang = (q.get("lang") or [""])[0]
    if lang in ("en", "zh-CN"):
        html = html.replace('data-lang="zh-CN"', f'data-lang="{lang}"')
    site = (q.get("site") or [""])[0]
    if site in SITES:
        html = html.replace('data-site="default"', f'data-site="{site}"')
    headers = [
        ("Content-Type", "text/html; charset=utf-8"),
        ("Content-Security-Policy", CSP),
        ("X-Content-Type-Options", "nosniff"),
        ("Cache-Control", "no-cache"),
    ]
    return 200, headers, html.encode("utf-8")
