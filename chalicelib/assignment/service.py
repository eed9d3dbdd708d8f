"""Who works on what: presence, capacity, seats, queues and assignment.

The moves, each settled by conditional writes so that concurrency never gives a conversation two
owners nor an agent more than their capacity:

- **reserve** one slot of an agent's capacity: ``load[kind] < capacity[kind]`` and online, in the
  same UpdateItem that takes it;
- **give** a conversation to that agent: only if it is still open and unowned — if another
  assignment won, the slot is released again;
- **seat**: after every change, the agent's seats (one per group they belong to) are rewritten with
  the agent's new spare capacity, guarded by the agent's ``rev`` so a late write never overwrites a
  newer state.

Cost of one assignment, whatever the number of agents or waiting conversations: one Query on
``by_availability`` (a few seats), one conditional UpdateItem on the agent, one on the
conversation, one on the queue counters, and one seat write per group of the chosen agent. Filling
an agent's freed slot: one Query (``Limit 1``) per group of theirs on ``by_queue``.

Files: ``seats`` (an agent's capacity and seats), ``queues`` (positions, counters, the overview),
this one (the moves of conversations, presence and configuration, the console's events).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pynamodb.exceptions import DoesNotExist, UpdateError
from pynamodb.expressions.update import Action

from chalicelib import events
from chalicelib.agents import ranking
from chalicelib.agents.models import AWAY, OFFLINE, ONLINE, PRESENCES, Agent
from chalicelib.assignment.models import STATS, QueueItem
from chalicelib.assignment.queues import overview, position, queue_stats, seconds_between
from chalicelib.assignment.seats import (
    condition_failed,
    count_online,
    count_online_changes,
    get_agent,
    kinds_of,
    now_iso,
    reseat,
    reserve,
    unseat,
)
from chalicelib.conversations import service as conversations
from chalicelib.conversations.inbound import Companion
from chalicelib.conversations.models import CLOSED, OPEN, Conversation
from chalicelib.db import as_dict
from chalicelib.errors import Invalid, NotFound
from chalicelib.identity.models import Customer
from chalicelib.observability import logger

CANDIDATES = 5  # seats read per try: enough to step over a few stale ones
TRIES = 3


class NotAllowed(conversations.NotAllowed):
    """A conditional write refused the move (closed, owned by someone else, offline …)."""


# ---- agents: configuration, presence, freed slots (capacity and seats: seats.py) ------------------


def configure(
    agent_id: str,
    *,
    groups: Iterable[str] | None = None,
    capacity: dict[str, int] | None = None,
    proficiency: dict[str, int] | None = None,
) -> Agent:
    """Set an agent's skill groups, capacity per channel type and proficiency per group (admin)."""
    before = get_agent(agent_id, consistent=True)
    actions: list[Action] = [Agent.rev.add(1)]
    if groups is not None:
        actions.append(Agent.groups.set(set(groups)) if groups else Agent.groups.remove())
    if capacity is not None:
        for kind, value in capacity.items():
            if kind not in ranking.CHANNEL_TYPES or not 0 <= int(value) <= ranking.MAX_CAPACITY:
                raise Invalid(f"capacity: {kind}={value} (types {ranking.CHANNEL_TYPES}, 0..50)")
        actions.append(Agent.capacity.set({k: int(capacity.get(k, 0)) for k in ranking.CHANNEL_TYPES}))
    if before.load is None:  # conditions compare load[kind] with capacity[kind]: both must exist
        actions.append(Agent.load.set(dict.fromkeys(ranking.CHANNEL_TYPES, 0)))
    if proficiency is not None:
        if any(not 1 <= int(v) <= 5 for v in proficiency.values()):
            raise Invalid("proficiency is 1..5 per group")
        actions.append(Agent.proficiency.set({g: int(v) for g, v in proficiency.items()}))
    agent = Agent(agent_id)
    agent.update(actions=actions, condition=Agent.agent_id.exists())
    was_online = before.presence == ONLINE
    for group_id in set(before.groups or ()) - set(agent.groups or ()):
        unseat(agent_id, group_id)
        if was_online:
            count_online(group_id, kinds_of(before), -1)
    if was_online:
        count_online_changes(before, agent)
    reseat(agent)
    if was_online:
        pull(agent_id)
    return agent


def set_presence(agent_id: str, presence: str) -> Agent:
    """Online, away or offline. Coming online fills the agent's spare capacity from their queues;
    going offline hands their open conversations back to the queue, first in line."""
    if presence not in PRESENCES:
        raise Invalid(f"presence must be one of {PRESENCES}")
    before = get_agent(agent_id, consistent=True)
    agent = Agent(agent_id)
    agent.update(
        actions=[Agent.presence.set(presence), Agent.presence_at.set(now_iso()), Agent.rev.add(1)],
        condition=Agent.agent_id.exists(),
    )
    if (before.presence == ONLINE) != (presence == ONLINE):
        for group_id in sorted(agent.groups or ()):
            count_online(group_id, kinds_of(agent), +1 if presence == ONLINE else -1)
    reseat(agent)
    _publish("presence.changed", agents=[agent_id], groups=agent.groups or (), data={"presence": presence})
    if presence == ONLINE:
        pull(agent_id)
    elif presence == OFFLINE:
        for conversation in list(Conversation.by_owner.query(agent_id)):
            try:
                unassign(conversation.conversation_id, agent_id, reason="agent went offline")
            except NotAllowed:
                continue  # closed or moved meanwhile
    return get_agent(agent_id, consistent=True)


def release(agent_id: str, kind: str, *, refill: bool = True) -> None:
    """Give back one slot (the agent closed, transferred or lost a conversation); then fill it from
    the agent's queues."""
    agent = Agent(agent_id)
    try:
        agent.update(
            actions=[Agent.load[kind].set(Agent.load[kind] - 1), Agent.rev.add(1)],
            condition=Agent.load[kind] > 0,
        )
    except UpdateError as exc:
        if not condition_failed(exc):
            raise
        return
    reseat(agent, [kind])
    if refill and agent.presence == ONLINE:
        pull(agent_id)


# ---- conversations: queue, give, take back ---------------------------------------------------------


def left_queue(conversation: Conversation) -> None:
    """Count a conversation out of the queue a write just took it from (``dequeue_actions``)."""
    if conversation.dequeued_from:
        QueueItem(conversation.dequeued_from, STATS).update(actions=[QueueItem.waiting.add(-1)])


def entered_queue(conversation: Conversation) -> None:
    if conversation.queue_key:
        QueueItem(conversation.queue_key, STATS).update(actions=[QueueItem.waiting.add(1)])


def entered_queue_write(conversation: Conversation) -> list[Companion]:
    """``entered_queue`` as a write for the transaction that stores the conversation's first
    message (none when it is not queued)."""
    if not conversation.queue_key:
        return []
    return [(QueueItem(conversation.queue_key, STATS), [QueueItem.waiting.add(1)])]


def _give(conversation_id: str, agent_id: str, *, expected_queue: str | None) -> Conversation | None:
    """Make ``agent_id`` the owner if the conversation is open, unowned (and still in
    ``expected_queue`` when given). None if another move won."""
    conversation = Conversation(conversation_id)
    now = now_iso()
    condition = (Conversation.status == OPEN) & Conversation.assignee_id.does_not_exist()
    if expected_queue is not None:
        condition &= Conversation.queue_key == expected_queue
    try:
        conversation.update(
            actions=[
                Conversation.assignee_id.set(agent_id),
                Conversation.owner_key.set(agent_id),
                Conversation.assigned_at.set(now),
                *conversations.dequeue_actions(),
            ],
            condition=condition,
        )
    except UpdateError as exc:
        if condition_failed(exc):
            return None
        raise
    left_queue(conversation)
    return conversation


def assign(conversation: Conversation) -> str | None:
    """Give a waiting conversation to the available agent with the most spare capacity in its queue
    (ties: longest idle). None when nobody is free: it waits, and ``pull`` serves it when a slot
    frees up."""
    key = conversation.queue_key
    if not key or conversation.status != OPEN or conversation.assignee_id:
        return None
    kind = ranking.split_queue_key(key)[1]
    for _ in range(TRIES):
        seats = list(QueueItem.by_availability.query(key, limit=CANDIDATES))
        if not seats:
            return None
        for seat in seats:
            agent_id = seat.agent_id or ""
            agent = reserve(agent_id, kind, enforce_capacity=True)
            if agent is None:
                _heal(agent_id)
                continue
            given = _give(conversation.conversation_id, agent_id, expected_queue=key)
            if given is None:
                release(agent_id, kind, refill=True)  # someone else took the conversation
                return None
            reseat(agent, [kind])
            _assigned(given, agent_id, by=None, waited_since=conversation.queued_at)
            return agent_id
    return None


def offer_if_waiting(conversation_id: str) -> str | None:
    """Assign a conversation if it is open and still waiting (a redelivered first message whose
    first attempt stored it but died before assigning it). One GetItem when there is nothing to do."""
    try:
        conversation = Conversation.get(conversation_id, consistent_read=True)
    except DoesNotExist:
        return None
    if conversation.status != OPEN or conversation.assignee_id or not conversation.queue_key:
        return None
    return assign(conversation)


def _heal(agent_id: str) -> None:
    """A seat said "available" but the agent was not (a stale index entry): rewrite their seats."""
    try:
        reseat(get_agent(agent_id, consistent=True))
    except KeyError:
        logger.warning("seat of an unknown agent")


def pull(agent_id: str) -> list[str]:
    """Fill the agent's free slots from their groups' queues, most urgent head first. Returns the
    conversations assigned."""
    agent = get_agent(agent_id, consistent=True)
    taken: list[str] = []
    if agent.presence != ONLINE:
        return taken
    for kind in kinds_of(agent):
        for _ in range(ranking.spare(as_dict(agent.capacity), as_dict(agent.load), kind)):
            head = _best_head(agent.groups or (), kind)
            if head is None:
                break
            reserved = reserve(agent_id, kind, enforce_capacity=True)
            if reserved is None:
                break
            given = _give(head.conversation_id, agent_id, expected_queue=head.queue_key)
            if given is None:  # another agent took it first: give the slot back, look again
                release(agent_id, kind, refill=False)
                continue
            reseat(reserved, [kind])
            _assigned(given, agent_id, by=None, waited_since=head.queued_at)
            taken.append(given.conversation_id)
    return taken


def _best_head(groups: Iterable[str], kind: str) -> Conversation | None:
    heads = [
        head
        for group_id in sorted(groups)
        for head in Conversation.by_queue.query(ranking.queue_key(group_id, kind), limit=1)
    ]
    return min(heads, key=lambda c: c.queue_rank or "") if heads else None


def claim(conversation_id: str, agent_id: str) -> Conversation:
    """An agent takes a conversation from the queue themselves (may exceed their capacity)."""
    current = _get(conversation_id)
    if current.assignee_id == agent_id and current.status == OPEN:
        return current
    waited_since = current.queued_at
    given = _give(conversation_id, agent_id, expected_queue=None)
    if given is None:
        raise NotAllowed("conversation is closed or owned by another agent")
    agent = reserve(agent_id, given.channel_type or ranking.CHAT, enforce_capacity=False)
    if agent is not None:
        reseat(agent, [given.channel_type or ranking.CHAT])
    _assigned(given, agent_id, by=agent_id, waited_since=waited_since)
    return given


def took_by_reply(conversation: Conversation, agent_id: str) -> None:
    """An agent replied to a waiting conversation, which made them its owner: count it."""
    if not conversation.dequeued_from:
        return
    left_queue(conversation)
    kind = conversation.channel_type or ranking.CHAT
    agent = reserve(agent_id, kind, enforce_capacity=False)
    if agent is not None:
        reseat(agent, [kind])
    _assigned(conversation, agent_id, by=agent_id)


def reopen(conversation_id: str, agent_id: str) -> Conversation:
    """Reopen a closed conversation, owned by the agent reopening it. The customer's
    open-conversation slot is claimed first (conditionally): if another conversation is open, the
    agent is told to continue there."""
    current = _get(conversation_id)
    if current.status != CLOSED:
        raise NotAllowed("conversation is not closed")
    customer = Customer(current.customer_id)
    try:
        customer.update(
            actions=[Customer.open_conversation_id.set(conversation_id)],
            condition=Customer.open_conversation_id.does_not_exist(),
        )
    except UpdateError as exc:
        if condition_failed(exc):
            raise NotAllowed("the customer has another open conversation; continue there") from exc
        raise
    conversation = Conversation(conversation_id)
    try:
        conversation.update(
            actions=[
                Conversation.status.set(OPEN),
                Conversation.assignee_id.set(agent_id),
                Conversation.owner_key.set(agent_id),
                Conversation.assigned_at.set(now_iso()),
                Conversation.closed_at.remove(),
                Conversation.closed_by.remove(),
            ],
            condition=Conversation.status == CLOSED,
        )
    except UpdateError as exc:
        Customer(current.customer_id).update(
            actions=[Customer.open_conversation_id.remove()],
            condition=Customer.open_conversation_id == conversation_id,
        )
        if condition_failed(exc):
            raise NotAllowed("conversation was reopened meanwhile") from exc
        raise
    kind = conversation.channel_type or ranking.CHAT
    agent = reserve(agent_id, kind, enforce_capacity=False)
    if agent is not None:
        reseat(agent, [kind])
    _assigned(conversation, agent_id, by=agent_id)
    _counted(conversation, "conversation_reopened", agent_id)
    return conversation


def _get(conversation_id: str) -> Conversation:
    try:
        return Conversation.get(conversation_id, consistent_read=True)
    except DoesNotExist as exc:
        raise NotFound(conversation_id) from exc


def _requeue_actions(
    group_id: str, kind: str, priority: str, vip: bool, since: str, *, first: bool
) -> list[Action]:
    key = ranking.queue_key(group_id, kind)
    return [
        Conversation.group_id.set(group_id),
        Conversation.queue_key.set(key),
        Conversation.queue_rank.set(ranking.queue_rank(priority, vip, since, first_in_line=first)),
        Conversation.queued_at.set(since),
        Conversation.assignee_id.remove(),
        Conversation.owner_key.remove(),
        Conversation.assigned_at.remove(),
    ]


def unassign(conversation_id: str, agent_id: str, *, reason: str) -> Conversation:
    """Hand a conversation back to its group's queue, first in line (its agent went offline)."""
    current = _get(conversation_id)
    if current.status != OPEN or current.assignee_id != agent_id:
        raise NotAllowed("conversation is closed or owned by another agent")
    kind = current.channel_type or ranking.CHAT
    conversation = Conversation(conversation_id)
    try:
        conversation.update(
            actions=_requeue_actions(
                current.group_id, kind, current.priority, bool(current.vip), now_iso(), first=True
            ),
            condition=(Conversation.status == OPEN) & (Conversation.assignee_id == agent_id),
        )
    except UpdateError as exc:
        if condition_failed(exc):
            raise NotAllowed("conversation is closed or owned by another agent") from exc
        raise
    entered_queue(conversation)
    release(agent_id, kind, refill=False)
    _publish(
        "conversation.queued",
        conversation_id,
        groups=[conversation.group_id],
        data={"reason": reason, "from_agent": agent_id},
    )
    assign(conversation)
    return conversation


@dataclass(frozen=True)
class Transfer:
    conversation: Conversation
    assigned_to: str | None  # None: waiting in the group's queue
    next_seq: int  # the conversation's next_seq as the transfer's own write left it (see ``also``)


def transfer(
    conversation_id: str,
    by: str,
    *,
    to_agent: str | None = None,
    to_group: str | None = None,
    may_take_over: bool,
    also: Sequence[Action] = (),
) -> Transfer:
    """Hand a conversation to another agent (who takes it even beyond capacity, unless offline) or
    to a skill group's queue (then assigned like a new one). The owner, or a supervisor, may.
    ``also``: more actions for the transfer's own conditional write (e.g. taking the place of the
    note that goes with it)."""
    if bool(to_agent) == bool(to_group):
        raise Invalid("give exactly one of to_agent and to_group")
    current = _get(conversation_id)
    if current.status != OPEN:
        raise NotAllowed("conversation is closed")
    if not may_take_over and current.assignee_id not in (None, by):
        raise NotAllowed("only its owner or a supervisor can transfer this conversation")
    previous = current.assignee_id
    kind = current.channel_type or ranking.CHAT
    owner_unchanged = (
        Conversation.assignee_id.does_not_exist()
        if previous is None
        else Conversation.assignee_id == previous
    )
    condition = (Conversation.status == OPEN) & owner_unchanged
    conversation = Conversation(conversation_id)
    if to_agent:
        target = get_agent(to_agent, consistent=True)
        if target.presence == OFFLINE:
            raise NotAllowed(f"{to_agent} is offline")
        try:
            conversation.update(
                actions=[
                    Conversation.assignee_id.set(to_agent),
                    Conversation.owner_key.set(to_agent),
                    Conversation.assigned_at.set(now_iso()),
                    *conversations.dequeue_actions(),
                    *also,
                ],
                condition=condition,
            )
        except UpdateError as exc:
            if condition_failed(exc):
                raise NotAllowed("the conversation changed hands meanwhile; reload and retry") from exc
            raise
        left_queue(conversation)
        reserved = reserve(to_agent, kind, enforce_capacity=False)
        if reserved is not None:
            reseat(reserved, [kind])
        assigned_to: str | None = to_agent
    else:
        assert to_group is not None
        try:
            conversation.update(
                actions=[
                    Conversation.dequeued_from.set(Conversation.queue_key | ""),
                    *_requeue_actions(
                        to_group, kind, current.priority, bool(current.vip), current.created_at, first=False
                    ),
                    *also,
                ],
                condition=condition,
            )
        except UpdateError as exc:
            if condition_failed(exc):
                raise NotAllowed("the conversation changed hands meanwhile; reload and retry") from exc
            raise
        left_queue(conversation)
        entered_queue(conversation)
        assigned_to = None
    next_seq = int(conversation.next_seq or 0)
    if previous and previous != assigned_to:
        release(previous, kind)
    _publish(
        "conversation.transferred",
        conversation_id,
        agents=[a for a in (previous, to_agent) if a],
        groups=[current.group_id, conversation.group_id],
        data={"by": by, "from_agent": previous or "", "to_agent": to_agent or "", "to_group": to_group or ""},
    )
    _counted(conversation, "conversation_transferred", previous)
    if to_agent:
        _announce_assigned(current, to_agent, by)
    if to_group:
        assigned_to = assign(conversation)
    return Transfer(_get(conversation_id), assigned_to, next_seq)


def closed(conversation: Conversation) -> None:
    """After a conversation closed: free its owner's slot, count it as handled, leave the queue."""
    left_queue(conversation)
    kind = conversation.channel_type or ranking.CHAT
    if conversation.assignee_id:
        seconds = seconds_between(conversation.assigned_at, conversation.closed_at)
        QueueItem(ranking.queue_key(conversation.group_id, kind), STATS).update(
            actions=[QueueItem.handled.add(1), QueueItem.handle_seconds.add(seconds)]
        )
        release(conversation.assignee_id, kind)


def set_priority(conversation_id: str, priority: str) -> Conversation:
    """Change a conversation's priority; a waiting one moves to its new place in the queue."""
    if priority not in ranking.PRIORITIES:
        raise Invalid(f"priority must be one of {ranking.PRIORITIES}")
    for _ in range(TRIES):
        current = _get(conversation_id)
        if current.status != OPEN:
            raise NotAllowed("conversation is closed")
        actions: list[Action] = [Conversation.priority.set(priority)]
        condition = Conversation.status == OPEN
        if current.queue_key and current.queued_at:
            first = (current.queue_rank or "").split("#")[1:2] == ["0"]
            rank = ranking.queue_rank(priority, bool(current.vip), current.queued_at, first_in_line=first)
            actions.append(Conversation.queue_rank.set(rank))
            condition &= Conversation.queue_key == current.queue_key
        else:
            condition &= Conversation.queue_key.does_not_exist()
        conversation = Conversation(conversation_id)
        try:
            conversation.update(actions=actions, condition=condition)
        except UpdateError as exc:
            if condition_failed(exc):
                continue  # queued or assigned meanwhile: look again
            raise
        _publish(
            "conversation.updated",
            conversation_id,
            agents=[conversation.assignee_id] if conversation.assignee_id else (),
            groups=[conversation.group_id],
            data={"priority": priority},
        )
        return conversation
    raise NotAllowed("the conversation keeps changing; retry")


# ---- events for the console -------------------------------------------------------------------------


def _counted(
    conversation: Conversation,
    kind: str,
    agent_id: str | None,
    seconds: dict[str, int] | None = None,
) -> None:
    """Tell the analytics (``events.Activity``; counted off this path, once per event id)."""
    from chalicelib.conversations.inbound import activity_dims
    from chalicelib.events import Activity, publish

    at = conversation.assigned_at or now_iso()
    dims = activity_dims(conversation, conversation.last_channel, agent_id)
    publish(Activity(f"{kind}#{conversation.conversation_id}#{at}", kind, at, dims, seconds or {}))


def _assigned(
    conversation: Conversation, agent_id: str, *, by: str | None, waited_since: str | None = None
) -> None:
    seconds = {"wait": seconds_between(waited_since, conversation.assigned_at)} if waited_since else {}
    _counted(conversation, "conversation_assigned", agent_id, seconds)
    _announce_assigned(conversation, agent_id, by or "routing")
    _publish(
        "conversation.assigned",
        conversation.conversation_id,
        agents=[agent_id],
        groups=[conversation.group_id],
        data={"agent_id": agent_id, "by": by or "routing"},
    )


def _announce_assigned(conversation: Conversation, agent_id: str, by: str) -> None:
    """Tell outside listeners (webhooks) who now owns the conversation."""
    events.publish(
        events.Announced(
            "conversation.assigned",
            {
                "conversation_id": conversation.conversation_id,
                "customer_id": conversation.customer_id,
                "agent_id": agent_id,
                "group_id": conversation.group_id,
                "by": by,
            },
        )
    )


def _publish(
    kind: str,
    conversation_id: str | None = None,
    *,
    agents: Iterable[str] = (),
    groups: Iterable[str] = (),
    data: dict[str, Any] | None = None,
) -> None:
    from chalicelib.feed import service as feed

    feed.publish(kind, conversation_id=conversation_id, agents=agents, groups=groups, data=data)


__all__ = [
    "AWAY",
    "OFFLINE",
    "ONLINE",
    "get_agent",
    "kinds_of",
    "overview",
    "position",
    "queue_stats",
    "reseat",
]  # re-exported for callers
