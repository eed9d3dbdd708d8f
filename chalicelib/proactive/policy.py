"""Whether, when and where a notice may go: pure decisions over what the service read.

A notice respects, in this order: the customer's daily cap (suppressed), quiet hours in the
customer's time zone (held until they end), and per channel — preferred, then most recent, then
the others the customer is known on — the channel's opt-out (STOP / 退订 / TD), whether it takes
written messages, and its reply window (WeChat 48 h, WhatsApp 24 h): outside it only an approved
template may go, else the next channel is tried. What cannot go anywhere is suppressed with every
channel's reason."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from chalicelib.language import fold
from chalicelib.proactive.rules import Limits, QuietHours, Rule

OPT_OUT = frozenset(
    {"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "退订", "td", "t", "取消订阅"}
)
OPT_IN = frozenset({"start", "unstop", "subscribe", "订阅", "恢复订阅"})


def keyword(text: str | None) -> str | None:
    """``"stop"`` / ``"start"`` when a message is an opt-out or opt-in keyword and nothing else
    (case, width, traditional characters and surrounding punctuation folded); else None."""
    if not text or len(text) > 24:
        return None
    word = "".join(ch for ch in fold(text) if ch.isalnum())
    if word in OPT_OUT:
        return "stop"
    if word in OPT_IN:
        return "start"
    return None


@dataclass(frozen=True)
class Candidate:
    """One channel the customer could be reached on, as the service found it."""

    channel: str
    reachable: bool = True  # the customer has an identity (and account) there
    can_send: bool = True  # the channel takes written messages (not voice)
    opted_out: bool = False
    window_seconds: int | None = None  # the channel's reply window; None: none
    last_inbound_at: datetime | None = None  # the customer's last message there
    templates: frozenset[str] = field(default_factory=frozenset)  # approved on the account


@dataclass(frozen=True)
class Decision:
    action: Literal["send", "hold", "suppress"]
    channel: str | None = None
    template: str | None = None  # send this approved template (outside the reply window)
    due_at: datetime | None = None  # hold: when quiet hours end
    reason: str | None = None


def quiet_until(now: datetime, quiet: QuietHours | None, zone: str | None = None) -> datetime | None:
    """When quiet hours end, if ``now`` falls inside them in ``zone`` (the customer's, else the
    rule set's); None outside. Handles windows across midnight and DST through ``zoneinfo``."""
    if quiet is None or quiet.start == quiet.end:
        return None
    tz = ZoneInfo(zone or quiet.timezone)
    local = now.astimezone(tz)
    t = local.time().replace(tzinfo=None)
    if quiet.start < quiet.end:  # e.g. 12:00–14:00
        inside = quiet.start <= t < quiet.end
        end_day = local.date()
    else:  # e.g. 21:00–08:00
        inside = t >= quiet.start or t < quiet.end
        end_day = local.date() + timedelta(days=1) if t >= quiet.start else local.date()
    if not inside:
        return None
    end = datetime.combine(end_day, quiet.end, tzinfo=tz)
    return end.astimezone(now.tzinfo)


def local_day(now: datetime, limits: Limits, zone: str | None = None) -> str:
    """The customer's local date (the daily cap counts per local day)."""
    tz = ZoneInfo(zone or (limits.quiet_hours.timezone if limits.quiet_hours else "UTC"))
    return now.astimezone(tz).date().isoformat()


def decide(
    rule: Rule,
    candidates: Sequence[Candidate],
    now: datetime,
    limits: Limits,
    *,
    sent_today: int,
    zone: str | None = None,
) -> Decision:
    if sent_today >= limits.daily_cap:
        return Decision("suppress", reason=f"daily_cap: {sent_today} notices today (cap {limits.daily_cap})")
    until = quiet_until(now, limits.quiet_hours, zone)
    if until is not None:
        return Decision("hold", due_at=until, reason="quiet_hours")
    reasons: list[str] = []
    for c in candidates:
        if not c.can_send:
            reasons.append(f"{c.channel}: takes no written messages")
        elif not c.reachable:
            reasons.append(f"{c.channel}: no address")
        elif c.opted_out:
            reasons.append(f"{c.channel}: opted_out")
        elif c.window_seconds is not None and (
            c.last_inbound_at is None or now - c.last_inbound_at > timedelta(seconds=c.window_seconds)
        ):
            name = rule.channel_templates.get(c.channel)
            if name and name in c.templates:
                return Decision("send", channel=c.channel, template=name)
            hours = c.window_seconds // 3600
            reasons.append(
                f"{c.channel}: outside_window ({hours} h since the customer's last message)"
                + ("" if name else ", no template in the rule")
            )
        else:
            return Decision("send", channel=c.channel)
    return Decision(
        "suppress", reason="; ".join(reasons) or "no_channel: the customer has no reachable channel"
    )
