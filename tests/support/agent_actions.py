"""The actions agents take most, each one HTTP request through the Chalice app (middleware, auth,
routes) on moto, counted by ``tests.support.ddbcount``: DynamoDB requests beside the distinct
items they touch. Shared by ``make bench`` and tests/integration/test_reads_per_action.py.

The story: two customers write in (SMS) and wait in the presales queue; agent1 (presales and
after-sales) opens the inbox and the first conversation, claims it, replies, writes a note, opens
the customer's 360, makes a ticket of the conversation, changes the ticket, comments publicly on
it, transfers the second conversation to after-sales and closes the first. (The 360 comes after
the ticket: a customer without tickets costs one Query that finds nothing, 4 requests for 3 items.)
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from tests.support.ddbcount import DynamoCounter, DynamoTally

PASSWORD = "Bench-pass-1"
AGENT = "agent1"
ACTIONS = (
    "inbox page",
    "conversation view",
    "claim",
    "reply",
    "note",
    "ticket from conversation",
    "customer 360",
    "ticket patch",
    "public ticket comment",
    "transfer",
    "close",
)


@dataclass
class ActionCount:
    action: str
    request: str
    status: int
    tally: DynamoTally

    @property
    def at_target(self) -> bool:
        return self.tally.total <= self.tally.distinct


class Session:
    """``chalice.test.Client`` as one signed-in user."""

    def __init__(self, client: Any, token: str | None = None) -> None:
        self.client, self.token = client, token

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        headers = {"content-type": "application/json"}
        if self.token:
            headers["authorization"] = f"Bearer {self.token}"
        raw = json.dumps(body).encode() if body is not None else b""
        r = self.client.http.request(method, path, headers=headers, body=raw)
        try:
            return r.status_code, json.loads(r.body) if r.body else None
        except ValueError:
            return r.status_code, r.body


@contextmanager
def signed_in(user_pool_id: str) -> Iterator[Session]:
    """The team (agent1 in presales and after-sales, agent2 in after-sales), and agent1 signed in."""
    from chalice.test import Client

    import app as app_module
    from chalicelib.agents import service as agents
    from infra.local.provision import create_agent_login

    agents.put_group("presales", "Pre-sales")
    agents.put_group("aftersales", "After-sales")
    agents.put_agent(AGENT, "Agent One", "agent", ["presales", "aftersales"])
    agents.put_agent("agent2", "Agent Two", "agent", ["aftersales"])
    create_agent_login(AGENT, "agent", PASSWORD, user_pool_id=user_pool_id)
    with Client(app_module.app, stage_name="test") as client:
        session = Session(client)
        status, body = session.call("POST", "/auth/login", {"username": AGENT, "password": PASSWORD})
        if status != 200:
            raise RuntimeError(f"login answered {status}: {body}")
        session.token = body["id_token"]
        yield session


def _waiting_conversation(user: str, text: str) -> tuple[str, str]:
    """A customer's first message, waiting in the presales queue (as the router leaves it when no
    agent is online): (conversation id, customer id)."""
    from chalicelib.assignment import service as assignment
    from chalicelib.conversations import service as conversations
    from chalicelib.identity import service as identity
    from tests.support.factories import inbound

    msg = inbound("sms", user, text)
    stored = conversations.record_inbound(identity.resolve(msg).customer, msg, "presales", mailbox=False)
    assignment.entered_queue(stored.conversation)
    return stored.conversation.conversation_id, stored.conversation.customer_id


def measure(session: Session, counter: DynamoCounter, tag: str = "") -> list[ActionCount]:
    """Every action of the story, in order; each row is one request's figures. ``tag`` makes the
    customers new in a process that runs the story more than once."""
    c1, customer = _waiting_conversation(
        f"+1555070{tag or '0'}001", "my parcel arrived broken, can I swap it?"
    )
    c2, _ = _waiting_conversation(f"+1555070{tag or '0'}002", "do you ship to Macau?")
    rows: list[ActionCount] = []
    ticket: dict[str, Any] = {}

    def act(action: str, method: str, path: Callable[[], str], body: Callable[[], Any] | None = None) -> Any:
        p, b = path(), body() if body else None
        with counter.window() as tally:
            status, answer = session.call(method, p, b)
        route = re.sub(r"\b(cnv|cus|tkt)_\w+", "{id}", p.split("?")[0])
        rows.append(ActionCount(action, f"{method} {route}", status, tally))
        if status >= 300:
            raise RuntimeError(f"{action}: {method} {p} answered {status}: {answer}")
        return answer

    act("inbox page", "GET", lambda: "/conversations?view=queue&group=presales")
    act("conversation view", "GET", lambda: f"/conversations/{c1}")
    act("claim", "POST", lambda: f"/conversations/{c1}/claim")
    act("reply", "POST", lambda: f"/conversations/{c1}/reply", lambda: {"text": "Sorry to hear that!"})
    act(
        "note",
        "POST",
        lambda: f"/conversations/{c1}/notes",
        lambda: {"text": "customer wants a swap; check stock"},
    )
    made = act(
        "ticket from conversation",
        "POST",
        lambda: f"/conversations/{c1}/ticket",
        lambda: {"category": "exchange"},
    )
    ticket.update(made["ticket"])
    act("customer 360", "GET", lambda: f"/customers/{customer}")
    patched = act(
        "ticket patch",
        "PATCH",
        lambda: f"/tickets/{ticket['ticket_id']}",
        lambda: {"version": ticket["version"], "priority": "high"},
    )
    ticket.update(patched["ticket"])
    act(
        "public ticket comment",
        "POST",
        lambda: f"/tickets/{ticket['ticket_id']}/comments",
        lambda: {"text": "A new one is on its way.", "public": True},
    )
    act(
        "transfer",
        "POST",
        lambda: f"/conversations/{c2}/transfer",
        lambda: {"to_group": "aftersales", "note": "shipping"},
    )
    act("close", "POST", lambda: f"/conversations/{c1}/close")
    return rows
