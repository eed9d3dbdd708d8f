"""Surge mode: when a skill group's queue or the inbound backlog passes a threshold, the bot takes
first contact for that group's new conversations (routing's ``bot_first``), until it has been calm
long enough (hysteresis); supervisors hear of each switch (feed ``surge.on`` / ``surge.off``).

Measured once a minute (``check``, a schedule in app.py), never per message: the state is one item
in ``config`` (``surge/default``), which routing reads through a per-instance cache
(``CACHE_SECONDS``), so a message pays nothing for it. Thresholds come from the environment
(``OMNIFLOW_SURGE_*``, see ``Thresholds.from_env``); docs/operations.md explains the defaults.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from cachetools import TTLCache, cached
from pynamodb.attributes import JSONAttribute, UnicodeAttribute
from pynamodb.exceptions import DoesNotExist

from chalicelib.db import Model, meta
from chalicelib.messages import iso, utcnow

SURGE_KIND, SURGE_NAME = "surge", "default"
CACHE_SECONDS = 30.0


class SurgeItem(Model):
    Meta = meta("config")

    kind = UnicodeAttribute(hash_key=True, default=SURGE_KIND)
    name = UnicodeAttribute(range_key=True, default=SURGE_NAME)
    # {group: {"on": bool, "since": iso, "calm": n}}: calm = consecutive calm checks while on
    groups = JSONAttribute(null=True)
    checked_at = UnicodeAttribute(null=True)


@dataclass(frozen=True)
class Thresholds:
    """On when a group's chat queue holds ``on_waiting`` or more, or the inbound backlog (messages
    not yet routed) reaches ``on_backlog``; off after ``calm_checks`` checks in a row with the
    queue at ``off_waiting`` or fewer and the backlog at ``off_backlog`` or fewer."""

    on_waiting: int = 20
    off_waiting: int = 5
    on_backlog: int = 500
    off_backlog: int = 100
    calm_checks: int = 3

    @classmethod
    def from_env(cls) -> Thresholds:
        def num(name: str, default: int) -> int:
            raw = os.environ.get(f"OMNIFLOW_SURGE_{name}")
            return int(raw) if raw and raw.strip().isdigit() else default

        d = cls()
        return cls(
            on_waiting=num("ON_WAITING", d.on_waiting),
            off_waiting=num("OFF_WAITING", d.off_waiting),
            on_backlog=num("ON_BACKLOG", d.on_backlog),
            off_backlog=num("OFF_BACKLOG", d.off_backlog),
            calm_checks=max(1, num("CALM_CHECKS", d.calm_checks)),
        )


def decide(previous: Mapping[str, Any] | None, waiting: int, backlog: int, t: Thresholds) -> dict[str, Any]:
    """A group's next surge state from its previous one and this minute's figures. Pure."""
    was_on = bool(previous and previous.get("on"))
    hot = waiting >= t.on_waiting or backlog >= t.on_backlog
    calm = waiting <= t.off_waiting and backlog <= t.off_backlog
    if not was_on:
        return {"on": hot, "calm": 0}
    if hot or not calm:
        return {"on": True, "calm": 0}
    streak = int((previous or {}).get("calm", 0)) + 1
    return {"on": streak < t.calm_checks, "calm": streak if streak < t.calm_checks else 0}


def inbound_backlog() -> int:
    """Messages waiting on the inbound queue (one GetQueueAttributes): the surge before routing."""
    from chalicelib.aws import client, queue_url

    attrs = client("sqs").get_queue_attributes(
        QueueUrl=queue_url("inbound"), AttributeNames=["ApproximateNumberOfMessages"]
    )["Attributes"]
    return int(attrs.get("ApproximateNumberOfMessages", 0))


def check(group_ids: Iterable[str] | None = None, thresholds: Thresholds | None = None) -> dict[str, bool]:
    """The minute's measurement: each group's chat queue (its pre-aggregated counter) and the
    inbound backlog; switches groups on or off and alerts the supervisors. Returns who is on."""
    from chalicelib.agents import ranking
    from chalicelib.agents.service import all_groups
    from chalicelib.assignment.queues import queue_stats
    from chalicelib.feed import service as feed

    t = thresholds or Thresholds.from_env()
    groups = sorted(group_ids if group_ids is not None else {g.group_id for g in all_groups()})
    backlog = inbound_backlog()
    try:
        item = SurgeItem.get(SURGE_KIND, SURGE_NAME, consistent_read=True)
    except DoesNotExist:
        item = SurgeItem(SURGE_KIND, SURGE_NAME)
    before: dict[str, Any] = dict(item.groups or {})
    after: dict[str, Any] = {}
    now = iso(utcnow())
    for group in groups:
        waiting = queue_stats(ranking.queue_key(group, ranking.CHAT))["waiting"]
        state = decide(before.get(group), waiting, backlog, t)
        was_on = bool(before.get(group, {}).get("on"))
        state["since"] = before.get(group, {}).get("since", now) if state["on"] == was_on else now
        after[group] = state
        if state["on"] != was_on:
            feed.publish(
                "surge.on" if state["on"] else "surge.off",
                groups=[group],
                supervisors=True,
                data={"group": group, "waiting": waiting, "backlog": backlog},
            )
    item.groups, item.checked_at = after, now
    item.save()
    reset()
    return {g: bool(s["on"]) for g, s in after.items()}


_CACHE: TTLCache[str, frozenset[str]] = TTLCache(maxsize=1, ttl=CACHE_SECONDS)
_LOCK = threading.Lock()


@cached(cache=_CACHE, lock=_LOCK, key=lambda: "surging")
def surging() -> frozenset[str]:
    """The groups in surge mode (one GetItem per instance per ``CACHE_SECONDS``)."""
    try:
        item = SurgeItem.get(SURGE_KIND, SURGE_NAME)
    except DoesNotExist:
        return frozenset()
    return frozenset(g for g, s in (item.groups or {}).items() if isinstance(s, dict) and s.get("on"))


def reset() -> None:
    with _LOCK:
        _CACHE.clear()
