"""Assignment on moto: capacity, most spare capacity first, longest idle, queues with priorities,
pulling when capacity frees, offline hand-back, transfers, reopen, and races."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.support.factories import inbound


@pytest.fixture
def desk(aws: dict[str, str]) -> Any:
    """Groups presales/aftersales; agents a1, a2, a3 in presales (chat capacity 2 each), offline."""
    from chalicelib.agents import service as agents
    from chalicelib.assignment import service as assignment

    agents.put_group("presales", "Pre-sales")
    agents.put_group("aftersales", "After-sales")
    for name in ("a1", "a2", "a3"):
        agents.put_agent(
            name, name.upper(), "agent", ["presales"], capacity={"chat": 2, "email": 0, "voice": 0}
        )
        assignment.reseat(assignment.get_agent(name, consistent=True))
    return assignment


def open_conversation(user: str, group: str = "presales", **placement: Any) -> Any:
    """A new conversation from a new customer, queued in ``group``, then offered to agents — what
    the router does for the first message."""
    from chalicelib.assignment import service as assignment
    from chalicelib.conversations import service as conversations
    from chalicelib.identity import service as identity

    msg = inbound(user=user, text=f"hi from {user}")
    customer = identity.resolve(msg).customer
    stored = conversations.record_inbound(
        customer, msg, conversations.Placement(group, **placement), mailbox=False
    )
    assignment.entered_queue(stored.conversation)
    assignment.assign(stored.conversation)
    return stored.conversation


def owner(cid: str) -> str | None:
    from chalicelib.conversations.models import Conversation

    return Conversation.get(cid, consistent_read=True).assignee_id


def load(agent_id: str) -> int:
    from chalicelib.agents.models import Agent

    return int(Agent.get(agent_id, consistent_read=True).load["chat"])


def waiting(group: str = "presales") -> list[str]:
    from chalicelib.conversations.models import Conversation

    return [c.conversation_id for c in Conversation.by_queue.query(f"{group}#chat")]


def test_nobody_online_the_conversation_waits_with_a_position(desk):
    first = open_conversation("+15550000001")
    second = open_conversation("+15550000002")
    assert owner(first.conversation_id) is None
    assert waiting() == [first.conversation_id, second.conversation_id]
    position = desk.position(desk._get(second.conversation_id))
    assert position["position"] == 2 and position["estimated_wait_seconds"] > 0
    assert desk.queue_stats("presales#chat")["waiting"] == 2


def test_an_online_agent_takes_a_new_conversation_and_capacity_is_respected(desk):
    desk.set_presence("a1", "online")
    c1, c2, c3 = (open_conversation(f"+1555000010{i}") for i in range(3))
    assert owner(c1.conversation_id) == owner(c2.conversation_id) == "a1"
    assert owner(c3.conversation_id) is None  # a1 is full (capacity 2), nobody else online
    assert load("a1") == 2
    assert waiting() == [c3.conversation_id]


def test_most_spare_capacity_first_then_longest_idle(desk):
    desk.set_presence("a1", "online")
    open_conversation("+15550000201")  # a1: load 1
    desk.set_presence("a2", "online")
    # a2 has 2 free, a1 has 1 free: a2 first
    c = open_conversation("+15550000202")
    assert owner(c.conversation_id) == "a2"
    # now both have 1 free; a1 was assigned longer ago: a1 is the longest idle
    c = open_conversation("+15550000203")
    assert owner(c.conversation_id) == "a1"


def test_a_freed_slot_pulls_the_next_waiting_conversation_urgent_and_vip_first(desk):
    from chalicelib.conversations import service as conversations

    desk.set_presence("a1", "online")
    busy = [open_conversation(f"+1555000030{i}") for i in range(2)]
    normal = open_conversation("+15550000310")
    vip = open_conversation("+15550000311", vip=True)
    urgent = open_conversation("+15550000312", priority="urgent")
    assert waiting() == [urgent.conversation_id, vip.conversation_id, normal.conversation_id]

    closed = conversations.close(busy[0].conversation_id, "a1")
    desk.closed(closed)
    assert owner(urgent.conversation_id) == "a1" and load("a1") == 2
    assert waiting() == [vip.conversation_id, normal.conversation_id]
    assert desk.queue_stats("presales#chat")["handled"] == 1


def test_coming_online_fills_capacity_from_the_queue(desk):
    queued = [open_conversation(f"+1555000040{i}") for i in range(3)]
    desk.set_presence("a2", "online")
    assert [owner(c.conversation_id) for c in queued] == ["a2", "a2", None]
    assert desk.queue_stats("presales#chat") | {"handled": 0} == {
        "waiting": 1,
        "online": 1,
        "handled": 0,
        "handle_seconds": 0,
    }


def test_going_offline_hands_conversations_back_first_in_line(desk):
    desk.set_presence("a1", "online")
    mine = [open_conversation(f"+1555000050{i}") for i in range(2)]
    later = open_conversation("+15550000510")  # waits: a1 is full
    desk.set_presence("a1", "offline")
    assert load("a1") == 0
    queue = waiting()
    assert set(queue[:2]) == {c.conversation_id for c in mine}  # ahead of the one already waiting
    assert queue[2] == later.conversation_id
    desk.set_presence("a3", "online")
    assert {owner(c.conversation_id) for c in mine} == {"a3"}


def test_transfer_to_a_group_and_to_an_agent(desk):
    desk.set_presence("a1", "online")
    c = open_conversation("+15550000601")
    assert owner(c.conversation_id) == "a1"
    with pytest.raises(desk.NotAllowed):  # not a2's to transfer
        desk.transfer(c.conversation_id, "a2", to_group="aftersales", may_take_over=False)
    moved = desk.transfer(c.conversation_id, "a1", to_group="aftersales", may_take_over=False)
    assert moved.assigned_to is None and moved.conversation.group_id == "aftersales"
    assert waiting("aftersales") == [c.conversation_id] and load("a1") == 0

    desk.set_presence("a2", "online")
    moved = desk.transfer(c.conversation_id, "supervisor", to_agent="a2", may_take_over=True)
    assert moved.assigned_to == "a2" and owner(c.conversation_id) == "a2" and load("a2") == 1
    assert waiting("aftersales") == [] and desk.queue_stats("aftersales#chat")["waiting"] == 0
    with pytest.raises(desk.NotAllowed):  # offline agents cannot be handed work
        desk.transfer(c.conversation_id, "a2", to_agent="a3", may_take_over=False)


def test_priority_change_moves_a_waiting_conversation(desk):
    first = open_conversation("+15550000701")
    second = open_conversation("+15550000702")
    desk.set_priority(second.conversation_id, "urgent")
    assert waiting() == [second.conversation_id, first.conversation_id]
    with pytest.raises(ValueError):
        desk.set_priority(first.conversation_id, "whenever")


def test_reopen_takes_the_customer_slot_or_says_where_to_continue(desk):
    from chalicelib.conversations import service as conversations

    c = open_conversation("+15550000801")
    desk.closed(conversations.close(c.conversation_id, "a1"))
    reopened = desk.reopen(c.conversation_id, "a1")
    assert reopened.status == "open" and owner(c.conversation_id) == "a1" and load("a1") == 1
    with pytest.raises(desk.NotAllowed):
        desk.reopen(c.conversation_id, "a1")


def test_parallel_assignments_never_exceed_capacity_nor_double_assign(desk):
    """20 conversations offered by 8 threads at once to 3 agents with 2 slots each (and each
    conversation offered twice): 6 are assigned, each to one agent, nobody over capacity."""
    from chalicelib.conversations.models import Conversation

    for name in ("a1", "a2", "a3"):
        desk.set_presence(name, "online")
    # open them without assigning, then race
    from chalicelib.assignment import service as assignment

    original = assignment.assign
    assignment.assign = lambda c: None  # type: ignore[assignment]
    try:
        convs = [open_conversation(f"+155500009{i:02d}") for i in range(20)]
    finally:
        assignment.assign = original  # type: ignore[assignment]
    barrier = threading.Barrier(8)

    def offer(c: Any) -> str | None:
        try:
            barrier.wait(timeout=5)
        except threading.BrokenBarrierError:
            pass
        return desk.assign(Conversation.get(c.conversation_id, consistent_read=True))

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(offer, convs + convs))
    owners = {c.conversation_id: owner(c.conversation_id) for c in convs}
    assigned = [o for o in owners.values() if o]
    assert len(assigned) == 6
    assert {a: assigned.count(a) for a in ("a1", "a2", "a3")} == {"a1": 2, "a2": 2, "a3": 2}
    assert [load(a) for a in ("a1", "a2", "a3")] == [2, 2, 2]
    assert len([r for r in results if r]) == 6  # each success is one conversation's one owner
    assert len(waiting()) == 14


def test_claim_race_one_owner(desk):
    c = open_conversation("+15550001001")
    barrier = threading.Barrier(3)

    def claim(agent: str) -> str:
        barrier.wait(timeout=5)
        try:
            desk.claim(c.conversation_id, agent)
            return agent
        except desk.NotAllowed:
            return ""

    with ThreadPoolExecutor(3) as pool:
        winners = [w for w in pool.map(claim, ["a1", "a2", "a3"]) if w]
    assert len(winners) == 1 and owner(c.conversation_id) == winners[0]
    assert sum(load(a) for a in ("a1", "a2", "a3")) == 1


def test_supervisor_overview(desk):
    desk.set_presence("a1", "online")
    for i in range(3):
        open_conversation(f"+1555000110{i}")
    view = {g["group_id"]: g for g in desk.overview(["presales"])}["presales"]
    chat = next(q for q in view["queues"] if q["channel_type"] == "chat")
    assert chat["waiting"] == 1 and chat["online"] == 1 and chat["oldest_wait_seconds"] >= 0
    loads = {a["agent_id"]: (a["presence"], a["load"]["chat"]) for a in view["agents"]}
    assert loads == {"a1": ("online", 2), "a2": ("offline", 0), "a3": ("offline", 0)}


def test_a_first_message_redelivered_after_a_crash_before_assignment_gets_assigned(desk, monkeypatch):
    from chalicelib.router import service as router

    desk.set_presence("a1", "online")
    msg = inbound(user="+15550001201", text="Is the blue one in stock?")
    real_assign = desk.assign

    def crash(conversation: Any) -> None:
        raise RuntimeError("Lambda timed out")

    monkeypatch.setattr(desk, "assign", crash)
    with pytest.raises(RuntimeError):
        router.store(msg)
    monkeypatch.setattr(desk, "assign", real_assign)
    [cid] = waiting()
    assert router.store(msg, receive_count=2) is None  # a duplicate: nothing stored twice …
    assert owner(cid) == "a1" and waiting() == []  # … but the waiting conversation is offered now
