"""Where a new conversation goes: the admins' routing rules first (in order), then intent detection
for what no rule decides; VIP customers and complaints are marked so they are served first."""

from __future__ import annotations

import threading

from cachetools import TTLCache, cached

from chalicelib.conversations.service import Placement
from chalicelib.db import as_dict
from chalicelib.identity.models import Customer
from chalicelib.messages import InboundMessage, utcnow
from chalicelib.routing.rules import RuleSet

DEFAULT_GROUP = "presales"
# intent label → skill group; when a deployment lacks the group, the next one that exists
INTENT_GROUPS: dict[str, tuple[str, ...]] = {
    "presales": ("presales",),
    "aftersales": ("aftersales",),
    "technical": ("technical", "aftersales"),
    "logistics": ("logistics", "aftersales"),
    "complaint": ("complaints", "aftersales"),
    "other": (DEFAULT_GROUP,),
}
INTENT_PRIORITY = {"complaint": "high"}
GROUPS_TTL = 30.0
_GROUPS: TTLCache[str, frozenset[str]] = TTLCache(maxsize=1, ttl=GROUPS_TTL)
_LOCK = threading.Lock()


@cached(cache=_GROUPS, lock=_LOCK, key=lambda: "groups")
def known_groups() -> frozenset[str]:
    """The skill groups that exist (one Query on the groups' index, cached for 30 s)."""
    from chalicelib.agents.service import all_groups

    return frozenset(g.group_id for g in all_groups())


def reset() -> None:
    with _LOCK:
        _GROUPS.clear()


def group_for_intent(label: str, existing: frozenset[str]) -> str:
    """The first existing group for an intent (falls back to any existing group). Pure."""
    for group_id in (*INTENT_GROUPS.get(label, ()), DEFAULT_GROUP):
        if group_id in existing:
            return group_id
    return min(existing) if existing else DEFAULT_GROUP


def customer_tier(customer: Customer) -> str | None:
    tier = as_dict(customer.attributes).get("tier")
    return str(tier).lower() if tier else None


def queue_lengths(ruleset: RuleSet) -> dict[str, int]:
    """How many conversations wait in the chat queue of each group a rule's queue condition names
    (one GetItem of the pre-aggregated counter per group; none when no rule has such a condition)."""
    from chalicelib.agents import ranking
    from chalicelib.assignment.queues import queue_stats

    groups = sorted({r.match.queue.group for r in ruleset.rules if r.enabled and r.match.queue is not None})
    return {g: queue_stats(ranking.queue_key(g, ranking.CHAT))["waiting"] for g in groups}


def place(msg: InboundMessage, customer: Customer) -> Placement:
    from chalicelib.routing import intent, rules, service

    tier = customer_tier(customer)
    tags = sorted(customer.tags or ())
    vip = tier == "vip" or "vip" in tags
    ruleset = service.ruleset()
    mood = None
    if msg.text and rules.wants_sentiment(ruleset):
        from chalicelib.assist import sentiment

        mood = sentiment.analyse(msg.text)
    context = rules.RoutingContext(
        text=msg.text or "",
        channel=msg.channel,
        account=msg.account,
        tier=tier,
        tags=tags,
        at=utcnow(),
        waiting=queue_lengths(ruleset),
        sentiment=mood.label if mood else None,
        risk=mood.risk if mood else None,
    )
    decision = rules.decide(ruleset, context, service.calendars())
    reason: list[tuple[str, str]] = []
    if decision.matched:
        reason.append(("rules", ",".join(decision.matched)))
    existing = known_groups()
    group = decision.group if decision.group in existing else None
    priority = decision.priority
    if group is None:
        found = intent.detector().detect(msg.text or "")
        group = group_for_intent(found.label, existing)
        reason.append(("intent", f"{found.label} {found.confidence:.2f} ({found.backend})"))
        priority = priority or INTENT_PRIORITY.get(found.label)
    return Placement(
        group_id=group,
        priority=priority or "normal",
        vip=vip,
        bot_first=decision.bot_first,
        tags=tuple(decision.tags),
        reason=tuple(reason),
    )
