"""What the queues look like: a waiting conversation's position and estimated wait, a queue's
counters, the supervisor's overview of every group.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pynamodb.exceptions import DoesNotExist

from chalicelib.agents import ranking
from chalicelib.agents.models import Agent
from chalicelib.assignment.models import STATS, QueueItem
from chalicelib.conversations.models import Conversation
from chalicelib.db import as_dict
from chalicelib.messages import iso, utcnow

POSITION_CAP = 1000


def seconds_between(start: str | None, end: str | None) -> int:
    if not start or not end:
        return 0
    return max(0, int((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds()))


def position(conversation: Conversation) -> dict[str, Any] | None:
    """Where a waiting conversation stands: its place in the queue and a rough wait. One COUNT
    Query over the (keys of the) conversations ahead of it, capped, and one GetItem of counters."""
    if not conversation.queue_key or not conversation.queue_rank:
        return None
    ahead = Conversation.by_queue.count(
        conversation.queue_key,
        Conversation.queue_rank < conversation.queue_rank,
        limit=POSITION_CAP,
    )
    stats = queue_stats(conversation.queue_key)
    estimate = ranking.estimate(ahead, stats["online"], stats["handled"], stats["handle_seconds"])
    return {"position": estimate.position, "estimated_wait_seconds": estimate.estimated_wait_seconds}


def queue_stats(key: str) -> dict[str, int]:
    try:
        item = QueueItem.get(key, STATS)
    except DoesNotExist:
        return {"waiting": 0, "online": 0, "handled": 0, "handle_seconds": 0}
    return {
        "waiting": max(0, int(item.waiting or 0)),
        "online": max(0, int(item.online or 0)),
        "handled": int(item.handled or 0),
        "handle_seconds": int(item.handle_seconds or 0),
    }


def overview(group_ids: Iterable[str]) -> list[dict[str, Any]]:
    """The supervisor's live view per group and channel type: waiting (a pre-aggregated counter),
    the oldest wait (the head of the queue's index), agents online; and each member's presence and
    load. Reads: per queue one GetItem and one ``Limit 1`` Query, per group one Query of seats and
    one BatchGetItem of agents."""
    now = utcnow()
    result = []
    for group_id in group_ids:
        queues = []
        members: set[str] = set()
        for kind in ranking.CHANNEL_TYPES:
            key = ranking.queue_key(group_id, kind)
            stats = queue_stats(key)
            head = next(iter(Conversation.by_queue.query(key, limit=1)), None)
            oldest = seconds_between(head.queued_at, iso(now)) if head and head.queued_at else 0
            queues.append({"channel_type": kind, **stats, "oldest_wait_seconds": oldest})
            members.update(
                s.agent_id for s in QueueItem.query(key, QueueItem.item.startswith("agent#")) if s.agent_id
            )
        agents = sorted(Agent.batch_get(sorted(members)), key=lambda a: a.agent_id) if members else []
        result.append(
            {
                "group_id": group_id,
                "queues": queues,
                "agents": [
                    {
                        "agent_id": a.agent_id,
                        "display_name": a.display_name,
                        "presence": a.presence,
                        "presence_at": a.presence_at,
                        "capacity": as_dict(a.capacity),
                        "load": as_dict(a.load),
                    }
                    for a in agents
                ],
            }
        )
    return result
