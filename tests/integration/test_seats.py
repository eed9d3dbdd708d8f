"""An agent's seats (one per skill group and channel type) are rewritten in one TransactWriteItems;
a seat that already reflects a newer state refuses the transaction, and then each seat is written
alone: the others still move, the newer one wins."""

from __future__ import annotations

from chalicelib.agents import ranking
from chalicelib.agents import service as agents
from chalicelib.agents.models import ONLINE, Agent
from chalicelib.assignment import seats
from chalicelib.assignment import service as assignment
from chalicelib.assignment.models import QueueItem, seat_item
from tests.support.ddbcount import DynamoCounter


def _seat(group: str, agent_id: str = "a1") -> QueueItem:
    return QueueItem.get(ranking.queue_key(group, "chat"), seat_item(agent_id), consistent_read=True)


def _agent_at_rev(rev: int) -> Agent:
    agent = assignment.get_agent("a1", consistent=True)
    agent.presence, agent.rev = ONLINE, rev
    return agent


def test_all_seats_of_an_agent_move_in_one_request(aws):
    agents.put_agent(
        "a1", "A1", "agent", ["presales", "aftersales"], capacity={"chat": 2, "email": 0, "voice": 0}
    )
    agent = _agent_at_rev(5)
    counter = DynamoCounter()
    counter.install()
    try:
        with counter.window() as tally:
            assignment.reseat(agent, ["chat"])
    finally:
        counter.uninstall()
    assert tally.requests == {"TransactWriteItems": 1} and tally.distinct == 2
    assert [(_seat(g).rev, _seat(g).avail_key) for g in ("aftersales", "presales")] == [
        (5, "aftersales#chat"),
        (5, "presales#chat"),
    ]


def test_a_newer_seat_keeps_its_state_and_the_others_still_move(aws):
    agents.put_agent(
        "a1", "A1", "agent", ["presales", "aftersales"], capacity={"chat": 2, "email": 0, "voice": 0}
    )
    assignment.reseat(_agent_at_rev(1), ["chat"])
    newer = _agent_at_rev(9)
    newer.presence = "offline"
    seats._seat(newer, "presales", "chat")  # a later change already reached this seat

    assignment.reseat(_agent_at_rev(7), ["chat"])

    assert (_seat("presales").rev, _seat("presales").avail_key) == (9, None)
    assert (_seat("aftersales").rev, _seat("aftersales").avail_key) == (7, "aftersales#chat")
