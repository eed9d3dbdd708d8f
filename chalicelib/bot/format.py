"""How a bot reply looks on each channel (pure).

Articles are Markdown. The web widget and the company's app get it as written, with quick
replies as buttons (stored on the message, served in the visitor's thread); WeChat and WeCom get
text with ``<a href>`` links (the only markup their text messages take) and numbered options;
SMS gets plain text, short enough for a few segments, with numbered options; every other channel
plain text with numbered options.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

BUTTON_CHANNELS = frozenset({"web", "app"})
LINK_CHANNELS = frozenset({"wechat", "wecom"})
SMS_LIMIT_CJK = 200  # three UCS-2 segments of 67 characters
SMS_LIMIT = 450  # three GSM-7 segments of 153
MAX_TEXT = 2000
MAX_OPTION = 60

_IMAGE = re.compile(r"!\[([^\]]*)\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
_EMPHASIS = re.compile(r"(\*\*|__|\*|_|~~|`)(?=\S)(.+?)(?<=\S)\1")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s*(.+?)\s*#*\s*$", re.MULTILINE)
_BULLET = re.compile(r"^\s{0,3}[-*+]\s+", re.MULTILINE)
_QUOTE = re.compile(r"^\s{0,3}>\s?", re.MULTILINE)
_FENCE = re.compile(r"^```.*$", re.MULTILINE)
_HTML = re.compile(r"<[^>]+>")
_BLANKS = re.compile(r"\n{3,}")
_CJK = re.compile(r"[\u3400-\u9fff]")


@dataclass(frozen=True)
class Reply:
    """What the bot says: ``body`` (Markdown), then ``options`` the customer may pick from, then
    ``footer`` (a question such as "did this solve it?")."""

    body: str
    options: tuple[str, ...] = ()
    footer: str | None = None
    option_hint: str | None = None  # "reply with a number" (numbered channels only)
    markdown: bool = True  # False: ``body`` is plain text already (a ticket list's "#10001" is no heading)


@dataclass(frozen=True)
class Rendered:
    text: str
    quick_replies: tuple[dict[str, str], ...] = field(default=())


def plain(markdown: str, *, links: str = "text") -> str:
    """Markdown as plain text; ``links``: "text" → ``title (url)``, "html" → ``<a href>``."""
    out = _FENCE.sub("", markdown)
    out = _HTML.sub("", out)
    out = _IMAGE.sub(lambda m: m.group(1), out)
    if links == "html":
        out = _LINK.sub(lambda m: f'<a href="{m.group(2)}">{m.group(1)}</a>', out)
    else:
        out = _LINK.sub(
            lambda m: m.group(1) if m.group(1) == m.group(2) else f"{m.group(1)} ({m.group(2)})", out
        )
    out = _HEADING.sub(lambda m: f"【{m.group(1)}】" if _CJK.search(m.group(1)) else m.group(1), out)
    out = _EMPHASIS.sub(lambda m: m.group(2), out)
    out = _BULLET.sub("• ", out)
    out = _QUOTE.sub("", out)
    out = "\n".join(line.rstrip() for line in out.splitlines())
    return _BLANKS.sub("\n\n", out).strip()


def shorten(text: str, limit: int) -> str:
    """At most ``limit`` characters, cut after a sentence or line when one ends late enough."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    stops = [cut.rfind(s) for s in ("\n", "。", "！", "？", ". ", "! ", "? ", "；")]
    best = max(stops)
    if best >= limit // 2:
        cut = cut[: best + 1]
    return cut.rstrip() + "…"


def _option(title: str) -> str:
    title = " ".join(title.split())
    return title if len(title) <= MAX_OPTION else title[: MAX_OPTION - 1] + "…"


def render(reply: Reply, channel: str) -> Rendered:
    """The reply as ``channel`` shows it."""
    options = tuple(_option(o) for o in reply.options)
    if channel in BUTTON_CHANNELS:
        parts = [reply.body.strip()]
        if reply.footer:
            parts.append(reply.footer)
        buttons = tuple({"title": o, "payload": str(i)} for i, o in enumerate(options, 1))
        return Rendered(shorten("\n\n".join(p for p in parts if p), MAX_TEXT * 2), buttons)
    links = "html" if channel in LINK_CHANNELS else "text"
    body = plain(reply.body, links=links) if reply.markdown else reply.body.strip()
    numbered = "\n".join(f"{i}. {o}" for i, o in enumerate(options, 1))
    tail = "\n".join(p for p in (numbered, reply.option_hint if options else None, reply.footer) if p)
    if channel == "sms":
        limit = SMS_LIMIT_CJK if _CJK.search(body + tail) else SMS_LIMIT
        room = max(limit - len(tail) - 2, limit // 3) if tail else limit
        body = shorten(body, room) if body else body
    else:
        body = shorten(body, MAX_TEXT)
    return Rendered("\n\n".join(p for p in (body, tail) if p))
