"""What one assignment costs, at 10 and at 1,000 agents and with 10 or 1,000 conversations waiting.

Counted at the botocore level on the real code path: DynamoDB items read (a Query's
``ScannedCount``, a GetItem's item, a BatchGetItem's items) and requests, for

- ``assign``: a new conversation offered to a group whose N agents are all online with spare
  capacity (the router's path for a new conversation);
- ``pull``: an agent's slot frees up while Q conversations wait in the group's queue (closing a
  conversation, coming online).

Target: the same figures at 10 and at 1,000 (cost independent of the number of agents and of the
queue's length).
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from tests.bench.report import Summary, heading, table

SIZES = (10, 1000)


class ReadCounter:
    def __init__(self) -> None:
        self.items = 0
        self.requests: Counter[str] = Counter()
        self.active = False

    def observe(self, operation: str, response: dict[str, Any]) -> None:
        if not self.active:
            return
        self.requests[operation] += 1
        if operation in ("Query", "Scan"):
            self.items += int(response.get("ScannedCount", response.get("Count", 0)))
        elif operation == "GetItem":
            self.items += 1 if response.get("Item") else 0
        elif operation == "BatchGetItem":
            self.items += sum(len(v) for v in response.get("Responses", {}).values())


@contextmanager
def counting() -> Iterator[ReadCounter]:
    import botocore.client

    counter = ReadCounter()
    base: Any = botocore.client.BaseClient
    original = base._make_api_call

    def counted(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
        response = original(client, operation_name, api_params)
        if client.meta.service_model.service_name == "dynamodb":
            counter.observe(operation_name, response)
        return response

    base._make_api_call = counted
    try:
        yield counter
    finally:
        base._make_api_call = original


def _agents(group: str, n: int, capacity: int) -> list[str]:
    from chalicelib.agents.models import Agent
    from chalicelib.assignment import service as assignment
    from chalicelib.messages import iso, utcnow

    names = [f"{group}-agent-{i:04d}" for i in range(n)]
    with Agent.batch_write() as batch:
        for i, name in enumerate(names):
            batch.save(
                Agent(
                    name,
                    display_name=name,
                    role="agent",
                    groups={group},
                    presence="online",
                    capacity={"chat": capacity, "email": 0, "voice": 0},
                    load={"chat": 0, "email": 0, "voice": 0},
                    last_assigned_at=iso(utcnow()) + f"{i:04d}",
                    created_at=iso(utcnow()),
                )
            )
    for name in names:
        assignment.reseat(Agent.get(name), ["chat"])
    return names


def _waiting(group: str, n: int) -> None:
    from chalicelib.agents import ranking
    from chalicelib.conversations.models import Conversation
    from chalicelib.messages import iso, utcnow

    with Conversation.batch_write() as batch:
        for i in range(n):
            at = iso(utcnow())
            batch.save(
                Conversation(
                    f"cnv_bench_{uuid.uuid4().hex[:12]}",
                    customer_id=f"cus_bench_{i}",
                    status="open",
                    group_id=group,
                    channel_type="chat",
                    queue_key=ranking.queue_key(group, "chat"),
                    queue_rank=ranking.queue_rank("normal", False, at),
                    queued_at=at,
                    created_at=at,
                    last_message_at=at,
                )
            )


def _new_conversation(group: str) -> Any:
    from chalicelib.conversations import service as conversations
    from chalicelib.identity import service as identity
    from tests.support.factories import inbound

    msg = inbound(user=f"+1555{uuid.uuid4().int % 10**7:07d}", text="bench")
    customer = identity.resolve(msg).customer
    return conversations.record_inbound(customer, msg, group, mailbox=False).conversation


def _measure(action: Callable[[], Any]) -> tuple[int, int, str]:
    with counting() as counter:
        counter.active = True
        action()
    detail = ", ".join(f"{op} x{n}" for op, n in sorted(counter.requests.items()))
    return counter.items, sum(counter.requests.values()), detail


def run(summary: Summary) -> dict[str, Any]:
    from chalicelib.agents.models import Agent
    from chalicelib.assignment import service as assignment
    from chalicelib.conversations import service as conversations
    from chalicelib.conversations.models import Conversation

    print(heading("4. Assignment cost: DynamoDB items read per assignment"))
    rows: list[list[Any]] = []
    figures: dict[str, Any] = {}
    for n in SIZES:
        group = f"bench{n}"
        _agents(group, n, capacity=5)
        samples = []
        for _ in range(3):
            conversation = _new_conversation(group)
            samples.append(_measure(lambda c=conversation: assignment.assign(c)))
        items, requests, detail = samples[-1]
        figures[f"assign_{n}_agents"] = {"items_read": items, "requests": requests, "detail": detail}
        rows.append([f"assign: new conversation, {n} agents online", items, requests, detail])

    for q in SIZES:
        group = f"benchq{q}"
        (agent_id,) = _agents(group, 1, capacity=1)
        _waiting(group, q)
        assignment.pull(agent_id)  # takes the first one: full now
        samples = []
        for _ in range(3):
            owned = next(iter(Conversation.by_owner.query(agent_id)))
            closed = conversations.close(owned.conversation_id, agent_id)
            samples.append(_measure(lambda c=closed: assignment.closed(c)))
        items, requests, detail = samples[-1]
        assert int(Agent.get(agent_id).load["chat"]) == 1
        figures[f"pull_{q}_waiting"] = {"items_read": items, "requests": requests, "detail": detail}
        rows.append([f"pull: slot frees, {q} conversations waiting", items, requests, detail])

    print(table(["what", "items read", "requests", "DynamoDB requests"], rows, right=(1, 2)))
    same_assign = figures["assign_10_agents"]["items_read"] == figures["assign_1000_agents"]["items_read"]
    same_pull = figures["pull_10_waiting"]["items_read"] == figures["pull_1000_waiting"]["items_read"]
    summary.add(
        "assignment cost vs agents",
        same_assign,
        f"{figures['assign_10_agents']['items_read']} items read at 10 agents, "
        f"{figures['assign_1000_agents']['items_read']} at 1,000 (target: the same)",
    )
    summary.add(
        "assignment cost vs queue length",
        same_pull,
        f"{figures['pull_10_waiting']['items_read']} items read with 10 waiting, "
        f"{figures['pull_1000_waiting']['items_read']} with 1,000 (target: the same)",
    )
    return figures
