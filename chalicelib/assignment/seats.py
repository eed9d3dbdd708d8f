"""Agents' side of assignment: their profile as assignment reads it, capacity reserved one slot at a
time (``reserve``: online and below capacity, in the same UpdateItem), and their seats (one per
group, rewritten after every change with the new spare capacity, guarded by the agent's ``rev``).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pynamodb.exceptions import DoesNotExist, TransactWriteError, UpdateError
from pynamodb.expressions.update import Action

from chalicelib import db
from chalicelib.agents import ranking
from chalicelib.agents.models import ONLINE, Agent
from chalicelib.assignment.models import STATS, QueueItem, seat_item
from chalicelib.db import as_dict
from chalicelib.errors import NotFound
from chalicelib.messages import iso, utcnow


def condition_failed(exc: Exception) -> bool:
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


def now_iso() -> str:
    return iso(utcnow())


def get_agent(agent_id: str, *, consistent: bool = False) -> Agent:
    try:
        return Agent.get(agent_id, consistent_read=consistent)
    except DoesNotExist as exc:
        raise NotFound(f"agent {agent_id}") from exc


def kinds_of(agent: Agent) -> list[str]:
    """The channel types the agent takes work of (capacity > 0)."""
    capacity = as_dict(agent.capacity)
    return [k for k in ranking.CHANNEL_TYPES if int(capacity.get(k, 0)) > 0]


def seat_write(agent: Agent, group_id: str, kind: str) -> tuple[QueueItem, list[Action], Any]:
    """One seat's conditional update from the agent's current state: (item, actions, condition)."""
    available = agent.presence == ONLINE
    slots = ranking.spare(as_dict(agent.capacity), as_dict(agent.load), kind)
    key = ranking.queue_key(group_id, kind)
    proficiency = int(as_dict(agent.proficiency).get(group_id, 3))
    actions: list[Action] = [
        QueueItem.agent_id.set(agent.agent_id),
        QueueItem.proficiency.set(proficiency),
        QueueItem.rev.set(int(agent.rev)),
    ]
    if available and slots > 0:
        rank = ranking.avail_rank(slots, agent.last_assigned_at, proficiency, agent.agent_id)
        actions += [QueueItem.avail_key.set(key), QueueItem.avail_rank.set(rank)]
    else:
        actions += [QueueItem.avail_key.remove(), QueueItem.avail_rank.remove()]
    condition = QueueItem.rev.does_not_exist() | (QueueItem.rev <= int(agent.rev))
    return QueueItem(key, seat_item(agent.agent_id)), actions, condition


def _seat(agent: Agent, group_id: str, kind: str) -> None:
    """Write one seat from the agent's current state; a seat already reflecting a newer state wins."""
    seat, actions, condition = seat_write(agent, group_id, kind)
    try:
        seat.update(actions=actions, condition=condition)
    except UpdateError as exc:
        if not condition_failed(exc):
            raise


def reseat(agent: Agent, kinds: Iterable[str] | None = None) -> None:
    """Bring the agent's seats in line with ``agent`` (the state a conditional write returned).
    Several seats go in one TransactWriteItems (one request, not one per group); if a seat already
    reflects a newer state the transaction is refused and each seat is written alone, so the others
    still move and the newer one wins."""
    seats = [
        (group_id, kind)
        for group_id in sorted(agent.groups or ())
        for kind in (kinds if kinds is not None else ranking.CHANNEL_TYPES)
    ]
    if len(seats) > 1:
        try:
            with db.transact_write() as tx:
                for group_id, kind in seats:
                    seat, actions, condition = seat_write(agent, group_id, kind)
                    tx.update(seat, actions=actions, condition=condition)
            return
        except TransactWriteError as exc:  # a newer seat, or a concurrent transaction: one by one
            if getattr(exc, "cause_response_code", None) != "TransactionCanceledException":
                raise
    for group_id, kind in seats:
        _seat(agent, group_id, kind)


def unseat(agent_id: str, group_id: str) -> None:
    for kind in ranking.CHANNEL_TYPES:
        QueueItem(ranking.queue_key(group_id, kind), seat_item(agent_id)).delete()


def count_online(group_id: str, kinds: Iterable[str], delta: int) -> None:
    for kind in kinds:
        QueueItem(ranking.queue_key(group_id, kind), STATS).update(actions=[QueueItem.online.add(delta)])


def count_online_changes(before: Agent, after: Agent) -> None:
    """An online agent's (group, kind) pairs changed: move the queues' online counters."""
    old = {(g, k) for g in before.groups or () for k in kinds_of(before)}
    new = {(g, k) for g in after.groups or () for k in kinds_of(after)}
    for group_id, kind in new - old:
        count_online(group_id, [kind], +1)
    for group_id, kind in old - new:
        if group_id in (after.groups or ()):
            count_online(group_id, [kind], -1)


def reserve(agent_id: str, kind: str, *, enforce_capacity: bool) -> Agent | None:
    """Take one slot of the agent's capacity for ``kind``. With ``enforce_capacity`` only if the
    agent is online with a free slot (else None); without (an agent taking work themselves, a
    supervisor's direct assignment) the load may exceed the capacity."""
    agent = Agent(agent_id)
    condition = Agent.agent_id.exists()
    if enforce_capacity:
        condition &= (Agent.presence == ONLINE) & (Agent.load[kind] < Agent.capacity[kind])
    try:
        agent.update(
            actions=[
                Agent.load[kind].set((Agent.load[kind] | 0) + 1),
                Agent.last_assigned_at.set(now_iso()),
                Agent.rev.add(1),
            ],
            condition=condition,
        )
    except UpdateError as exc:
        if condition_failed(exc):
            return None
        raise
    return agent
