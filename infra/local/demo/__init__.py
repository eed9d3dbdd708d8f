"""The demo: what ``make dev`` shows a newcomer. One package owns it; each capability adds a part.

``seed(env, gateway=…, runner=…, level=…, online=…)`` runs the parts in order:

============  ======  ============================================================================
part          level   what it writes
============  ======  ============================================================================
team          team    logins, skill groups, agents, canned replies, calendars (the shop's desk is
                      open 24×7, the wholesale desk keeps business hours), routing rules, the
                      orders connector (``team.py``)
stories       full    ~40 named customers on 13 channels in Chinese and English: conversations
                      waiting in queues, assigned, snoozed, closed with history; tickets in every
                      status, sub-tickets, CSAT answers, one SLA about to breach; Chen Jing on three
                      channels with a parcel in transit (``people.py``, ``stories.py``, ``world.py``)
presence      full    the demo agents online (unless ``online=False``: ``make dev DEMO_ONLINE=0``)
history       full    30 days of analytics facts before today, for the dashboards (``history.py``:
                      published like production's, counted by the analytics queue's consumer)
============  ======  ============================================================================

``level="team"`` (``make dev DEMO=team``, and the e2e tests' shared stack) seeds only the team;
``"none"`` nothing. Times are relative to the moment seeding starts (``DemoClock``), texts and ids
are fixed, so two seedings differ only in their timestamps and generated ids.

A later capability (KB articles, bot conversations, 30 days of analytics …) adds its data with a
part of its own, written through its services or the API like the others::

    from infra.local.demo import Demo, part

    @part("articles", level="full")
    def seed_articles(demo: Demo) -> None:
        admin = demo.agent("admin")
        with demo.clock.at(demo.clock.ago(60 * 24)):
            admin.call("POST", "/kb/articles", {...})

and imports that module from ``PART_MODULES`` below. A part must be safe to run twice.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from infra.local.demo.clock import DemoClock
from infra.local.demo.team import (
    CANNED_REPLIES,
    DEMO_CALENDAR,
    ROUTING_RULES,
    SKILL_GROUPS,
    TEAM_LEADS,
    USERS,
    DemoUser,
    demo_password,
    seed_canned_replies,
    seed_orders_connector,
    seed_routing,
)
from infra.local.demo.world import Demo, DemoError

Level = Literal["none", "team", "full"]
LEVELS: tuple[Level, ...] = ("none", "team", "full")
log = logging.getLogger("infra.local.demo")


@dataclass(frozen=True)
class Part:
    name: str
    level: Level
    run: Callable[[Demo], None]


PARTS: list[Part] = []
#: modules whose import registers more parts (a capability's demo data lives next to the demo's)
PART_MODULES: tuple[str, ...] = ("infra.local.demo.history",)


def part(name: str, *, level: Level = "full") -> Callable[[Callable[[Demo], None]], Callable[[Demo], None]]:
    """Register ``fn(demo)`` as a demo part, run after the parts registered before it."""

    def register(fn: Callable[[Demo], None]) -> Callable[[Demo], None]:
        if any(p.name == name for p in PARTS):
            raise ValueError(f"demo part {name!r} registered twice")
        PARTS.append(Part(name, level, fn))
        return fn

    return register


def _online(value: str | None) -> bool:
    return (value or "1").strip().lower() not in ("0", "false", "no", "off")


@part("team", level="team")
def _team(demo: Demo) -> None:
    from infra.local.demo import team

    team.seed(dict(demo.env))


@part("stories")
def _stories(demo: Demo) -> None:
    from infra.local.demo.world import seed_conversations

    seed_conversations(demo)


@part("presence")
def _presence(demo: Demo) -> None:
    from infra.local.demo.world import seed_presence

    seed_presence(demo, _online(demo.env.get("OMNIFLOW_DEMO_ONLINE")))


def seed(
    env: Mapping[str, str],
    *,
    gateway: Any = None,
    runner: Any = None,
    level: Level = "full",
    online: bool | None = None,
    settle: bool = False,
) -> Demo:
    """Seed the demo up to ``level``. Needs the OMNIFLOW_* environment in ``os.environ`` and, above
    ``team``, the local API Gateway and SQS runner of the stack (not yet serving). What the stories
    queued (replies, ticket notices, surveys, SLA events) is processed by the stack's pollers once
    it serves — within seconds — or here first with ``settle``."""
    import importlib

    if level not in LEVELS:
        raise ValueError(f"demo level must be one of {LEVELS}")
    for module in PART_MODULES:
        importlib.import_module(module)
    env = dict(env)
    if online is not None:
        env["OMNIFLOW_DEMO_ONLINE"] = "1" if online else "0"
    demo = Demo(env, gateway, runner, DemoClock())
    wanted = LEVELS.index(level)
    for p in PARTS:
        if LEVELS.index(p.level) > wanted:
            continue
        if p.level != "team" and gateway is None:
            raise DemoError(f"demo part {p.name!r} needs the local stack's gateway")
        started = time.monotonic()
        p.run(demo)
        log.info("demo part %s seeded in %.1fs", p.name, time.monotonic() - started)
    if settle:
        demo.settle()
    return demo


__all__ = [
    "CANNED_REPLIES",
    "DEMO_CALENDAR",
    "LEVELS",
    "PARTS",
    "ROUTING_RULES",
    "SKILL_GROUPS",
    "TEAM_LEADS",
    "USERS",
    "Demo",
    "DemoClock",
    "DemoError",
    "DemoUser",
    "Level",
    "Part",
    "demo_password",
    "part",
    "seed",
    "seed_canned_replies",
    "seed_orders_connector",
    "seed_routing",
]
