"""Pure decisions of assignment: channel types, queue keys, the order in a queue, the order of
available agents, the estimated wait. No AWS here; unit-tested in tests/unit/test_assignment.py.

It sits in ``agents``, the lowest package that needs it: agents' capacity, conversations' queue
keys and assignment's choices all speak this vocabulary."""

from __future__ import annotations

from dataclasses import dataclass

CHAT, EMAIL, VOICE = "chat", "email", "voice"
CHANNEL_TYPES = (CHAT, EMAIL, VOICE)
DEFAULT_CAPACITY = {CHAT: 5, EMAIL: 10, VOICE: 1}
MAX_CAPACITY = 50

PRIORITIES = ("urgent", "high", "normal", "low")
_PRIORITY_RANK = {"urgent": 0, "high": 2, "normal": 3, "low": 4}
VIP_RANK = 1  # a VIP customer's conversation goes before everything but urgent work

DEFAULT_HANDLE_SECONDS = 300  # until a queue has handled conversations of its own to average


def channel_type(channel: str | None) -> str:
    """Whose capacity a conversation on ``channel`` takes: e-mail and calls are their own kinds of
    work; every messaging channel is chat."""
    if channel == "email":
        return EMAIL
    if channel == "voice":
        return VOICE
    return CHAT


def queue_key(group_id: str, kind: str) -> str:
    return f"{group_id}#{kind}"


def split_queue_key(key: str) -> tuple[str, str]:
    group_id, _, kind = key.rpartition("#")
    return group_id, kind


def queue_rank(priority: str, vip: bool, queued_at: str, *, first_in_line: bool = False) -> str:
    """Sort key of a waiting conversation (ascending = served first): urgent, then VIP, then high,
    normal, low; within a level, conversations handed back (their agent went offline) first, then
    first come, first served."""
    level = min(_PRIORITY_RANK.get(priority, _PRIORITY_RANK["normal"]), VIP_RANK if vip else 9)
    return f"{level}#{0 if first_in_line else 1}#{queued_at}"


def spare(capacity: dict[str, int] | None, load: dict[str, int] | None, kind: str) -> int:
    cap = int((capacity or {}).get(kind, 0))
    return max(0, cap - int((load or {}).get(kind, 0)))


def avail_rank(spare_slots: int, last_assigned_at: str | None, proficiency: int, agent_id: str) -> str:
    """Sort key of an available agent's seat (ascending = chosen first): the most spare capacity,
    then the longest idle (oldest last assignment; never assigned = idle longest), then the higher
    proficiency in the group."""
    return (
        f"{MAX_CAPACITY - min(spare_slots, MAX_CAPACITY):02d}#{last_assigned_at or '0000'}"
        f"#{9 - max(0, min(proficiency, 9))}#{agent_id}"
    )


@dataclass(frozen=True)
class QueueEstimate:
    position: int  # 1 = next to be served
    estimated_wait_seconds: int


def estimate(ahead: int, online_agents: int, handled: int, handle_seconds: int) -> QueueEstimate:
    """Position and a rough wait: the conversations ahead, served in parallel by the online agents,
    each taking the queue's average handling time."""
    average = handle_seconds / handled if handled > 0 else DEFAULT_HANDLE_SECONDS
    servers = max(1, online_agents)
    rounds = (ahead // servers) + 1 if online_agents > 0 else ahead + 1
    return QueueEstimate(position=ahead + 1, estimated_wait_seconds=int(rounds * average))
