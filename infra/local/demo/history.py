"""30 days of history for the dashboards (``history`` part, ``DEMO=full``): so that a newcomer's
first ``make dev`` shows trends, per-channel and per-agent figures, percentiles and SLA attainment.

The history is the analytics' own facts (``events.Activity``: a conversation opened, the bot's
part on the web and the app, an assignment with its wait, a reply with its first-response seconds
and SLA flag, transfers, a close with its resolution and handle seconds, a CSAT answer), the
same shapes the capabilities publish, counted by the analytics' bulk entry
(``chalicelib.analytics.backfill``: the aggregator's own rules per fact, merged per bucket, one
write per bucket item instead of one transaction per fact — 4,500 transactions would take minutes
on moto). No bucket is written by hand here, and no conversation: a drill-down finds the stories'
real conversations only.

The days are the 30 UTC days before the demo's "today" (the stories fill today), dated relative to
``DemoClock.now``; the numbers come from a fixed seed, so two seedings on the same day publish the
same facts (same event ids: counted once). Shape of the traffic (a small cosmetics shop):

- ~26 conversations on a weekday, ~15 on a weekend day, growing a little over the month;
- Shanghai hours: quiet at night, busy 10–12 h, 14–17 h and an evening peak 20–22 h;
- channels as the demo's customers use them (WeChat and the web widget first, e-mail, the app …),
  skill groups by what customers ask, each group's demo agent answering;
- first replies in about a minute on chat (p90 a few minutes, slower in the evening peak), hours on
  e-mail; 1–3 more exchanges; most conversations closed the same hour (chat) or day (e-mail).
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta

from chalicelib.events import Activity
from infra.local.demo.world import GROUP_AGENT

DAYS = 30
SEED = 16
SHANGHAI = timedelta(hours=8)
WEEKDAY, WEEKEND = 26, 15
#: share of traffic per Shanghai hour 0..23
HOURS = (1, 0.5, 0.3, 0.2, 0.2, 0.3, 0.8, 2, 4, 6, 8, 8, 6, 6, 7, 7, 6, 5, 5, 6, 8, 8, 6, 3)
CHANNELS = {
    "wechat": 30, "web": 20, "app": 12, "email": 10, "sms": 7, "douyin": 6, "whatsapp": 4,
    "line": 3, "weibo": 2, "telegram": 2, "messenger": 2, "instagram": 1, "wecom": 1,
}  # fmt: skip
GROUPS = {"presales": 30, "aftersales": 28, "logistics": 22, "complaints": 7, "technical": 8, "vip": 5}
PRIORITIES = {"normal": 80, "high": 14, "urgent": 4, "low": 2}
SLOW = frozenset({"email"})  # answered in hours, not minutes
#: the first-response target the demo's SLA policies set (seconds): chat 5 min, e-mail 4 h
TARGET = {"chat": 300, "email": 4 * 3600}


def _pick(rng: random.Random, weights: Mapping[str, float]) -> str:
    return rng.choices(list(weights), weights=list(weights.values()))[0]


def _lognormal(rng: random.Random, median: float, spread: float) -> int:
    return max(1, round(median * math.exp(rng.gauss(0, spread))))


def parse_at(at: str) -> datetime:
    return datetime.fromisoformat(at.replace("Z", "+00:00"))


def _iso(t: datetime) -> str:
    return t.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _start(rng: random.Random, day: datetime) -> datetime:
    """A time in ``day`` (UTC midnight) drawn from the Shanghai hour profile."""
    local_hour = rng.choices(range(24), weights=HOURS)[0]
    utc_hour = (local_hour - 8) % 24
    return day + timedelta(hours=utc_hour, seconds=rng.randrange(3600))


BOT_CHANNELS = frozenset({"web", "app"})  # the widget and the app put the bot in front
CSAT = (1, 2, 3, 4, 5)
CSAT_WEIGHTS = (3, 4, 9, 30, 54)  # a mean of about 4.3


def _bot(rng: random.Random, cid: str, opened: datetime, base: dict[str, str]) -> tuple[list[Activity], bool]:
    """The bot's part: started, then resolved (the customer needs no one), handed off or abandoned;
    True if a person takes over afterwards."""
    out = [Activity(f"{cid}#bot", "bot_started", _iso(opened), base)]
    ended = opened + timedelta(seconds=_lognormal(rng, 90, 0.6))
    outcome = rng.choices(("bot_resolved", "bot_handed_off", "bot_abandoned"), weights=(38, 52, 10))[0]
    out.append(Activity(f"{cid}#{outcome}", outcome, _iso(ended), base))
    return out, outcome == "bot_handed_off"


def conversation(rng: random.Random, cid: str, opened: datetime, end: datetime) -> list[Activity]:
    """The facts of one conversation opened at ``opened``, none at or after ``end``."""
    channel, group, priority = _pick(rng, CHANNELS), _pick(rng, GROUPS), _pick(rng, PRIORITIES)
    agent = GROUP_AGENT[group]
    base = {"channel": channel, "group": group, "priority": priority}
    served = {**base, "agent": agent}
    slow = channel in SLOW
    evening = (opened + SHANGHAI).hour in (20, 21, 22)
    out = [
        Activity(f"{cid}#open", "conversation_opened", _iso(opened), base),
        Activity(f"{cid}#in#1", "message_in", _iso(opened), base),
    ]
    queued = opened
    if channel in BOT_CHANNELS and rng.random() < 0.6:
        facts, to_person = _bot(rng, cid, opened, base)
        out += facts
        if not to_person:
            return out
        queued = parse_at(facts[-1].at)
    if rng.random() < 0.04:  # left before anyone answered
        return out
    wait = _lognormal(rng, 2400, 0.9) if slow else _lognormal(rng, 110 if evening else 50, 0.8)
    assigned = queued + timedelta(seconds=min(wait, _lognormal(rng, 25, 0.8)))
    t = queued + timedelta(seconds=wait)
    if t >= end:
        return out
    out.append(
        Activity(
            f"{cid}#assigned",
            "conversation_assigned",
            _iso(assigned),
            served,
            {"wait": round((assigned - queued).total_seconds())},
        )
    )
    first = round((t - opened).total_seconds())
    target = TARGET["email" if slow else "chat"]
    out.append(
        Activity(
            f"{cid}#out#1",
            "message_out",
            _iso(t),
            served,
            {"first_response": first},
            {"sla_met": first <= target},
        )
    )
    if rng.random() < 0.06:
        out.append(
            Activity(f"{cid}#transfer", "conversation_transferred", _iso(t + timedelta(seconds=30)), served)
        )
    seq = 1
    for _ in range(rng.choices((0, 1, 2, 3), weights=(35, 35, 20, 10))[0]):
        seq += 1
        t += timedelta(seconds=_lognormal(rng, 3 * 3600 if slow else 90, 0.7))
        if t >= end:
            return out
        out.append(Activity(f"{cid}#in#{seq}", "message_in", _iso(t), served))
        t += timedelta(seconds=_lognormal(rng, 1800 if slow else 40, 0.7))
        if t >= end:
            return out
        out.append(Activity(f"{cid}#out#{seq}", "message_out", _iso(t), served))
    if rng.random() < 0.9:
        t += timedelta(seconds=_lognormal(rng, 4 * 3600 if slow else 600, 0.8))
        if t < end:
            seconds = {
                "resolution": round((t - opened).total_seconds()),
                "handle": round((t - assigned).total_seconds()),
            }
            out.append(Activity(f"{cid}#close", "conversation_closed", _iso(t), served, seconds))
            answered = t + timedelta(seconds=_lognormal(rng, 600, 1.0))
            if rng.random() < 0.35 and answered < end:
                score = rng.choices(CSAT, weights=CSAT_WEIGHTS)[0]
                out.append(
                    Activity(f"{cid}#csat", "csat_answered", _iso(answered), served, values={"csat": score})
                )
    return out


def facts(now: datetime, days: int = DAYS, seed: int = SEED) -> Iterator[Activity]:
    """The history's facts, day by day (oldest first), for the ``days`` UTC days before ``now``'s."""
    today = now.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    for back in range(days, 0, -1):
        day = today - timedelta(days=back)
        rng = random.Random(f"{seed}:{day.date().isoformat()}")
        mean = (WEEKEND if day.weekday() >= 5 else WEEKDAY) * (1 + 0.006 * (days - back))
        n = max(0, round(rng.gauss(mean, math.sqrt(mean))))
        starts = sorted(_start(rng, day) for _ in range(n))
        for i, opened in enumerate(starts):
            yield from conversation(rng, f"demo#{day.date().isoformat()}#{i:03d}", opened, today)


def seed(now: datetime) -> int:
    """Count the history's facts through the analytics' bulk entry (``backfill``), once per day of
    seeding; returns the bucket writes made."""
    from chalicelib.analytics import backfill

    return backfill.backfill(f"demo-history-{now.astimezone(UTC).date().isoformat()}", facts(now))


def _register() -> None:
    from infra.local.demo import Demo, part

    @part("history")
    def seed_history(demo: Demo) -> None:
        """30 days of analytics facts before the demo's today, counted in bulk."""
        import logging

        logging.getLogger("infra.local.demo").info("demo history: %d bucket writes", seed(demo.clock.now))


_register()
