"""Playing the stories: customers' lines through the router, agents' work through the agent API.

- A customer's line is the ``InboundMessage`` their channel's webhook would have queued, handed to
  the router's own per-record function (``chalicelib.router.service.store``): identity resolution,
  conversation, routing, queueing, SLA clock and feed event, exactly as in production;
- an agent's work (claim, reply, note, tags, snooze, close, tickets, sub-tickets, status changes,
  public comments, presence) goes through the agent API as HTTP requests to the local API Gateway
  (``infra.local.server.Gateway``, in-process), signed in with the agent's Cognito token;
- replies, ticket notices and CSAT surveys go out through the outbound queue, drained at the end
  (the sender records them "sent (local)"), so every message has production's shape and status.

History is written "in the past" with ``DemoClock``; everything is relative to the moment seeding
starts. Seeding the same stack twice is a no-op (the first story's first line is already stored).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import quote

from infra.local.demo.clock import DemoClock
from infra.local.demo.people import BY_KEY, Person, inbound
from infra.local.demo.stories import STORIES, Story, TicketSpec
from infra.local.demo.team import USERS, demo_password

log = logging.getLogger("infra.local.demo")

#: who works a conversation routed to each group (``team.USERS``' skills)
GROUP_AGENT: dict[str, str] = {
    "presales": "agent1",
    "vip": "agent1",
    "aftersales": "agent2",
    "logistics": "agent2",
    "complaints": "agent2",
    "technical": "agent3",
}
ONLINE_AGENTS = ("agent1", "agent2", "agent3")


class DemoError(RuntimeError):
    """A demo step the API refused: the demo data no longer fits the product; fix the demo."""


@dataclass
class AgentSession:
    """One signed-in agent calling the agent API through the local API Gateway."""

    demo: Demo
    username: str
    token: str

    def call(self, method: str, path: str, body: Any = None) -> Any:
        status, data = self.demo.http(method, f"/api{path}", body, token=self.token)
        if not 200 <= status < 300:
            raise DemoError(f"{self.username}: {method} {path} answered {status}: {data}")
        if method != "GET":
            self.demo.send_queued()
        return data


class Demo:
    """What a demo part gets: the clock, the API as any demo login, the router, the queues."""

    def __init__(
        self, env: Mapping[str, str], gateway: Any, runner: Any, clock: DemoClock | None = None
    ) -> None:
        self.env = env
        self.gateway = gateway
        self.runner = runner
        self.clock = clock or DemoClock()
        self._sessions: dict[str, AgentSession] = {}
        self._lines: dict[str, int] = {}
        self._outbound: Any = None  # the sender's queue consumer
        self.conversations: dict[str, list[str]] = {}  # person key → their conversation ids, in order
        self.tickets: dict[str, str] = {}  # conversation id → ticket id
        self.versions: dict[str, int] = {}  # ticket id → the version last seen (for PATCH)

    # ---- HTTP through the local API Gateway -----------------------------------------------------
    def http(self, method: str, path: str, body: Any = None, *, token: str | None = None) -> tuple[int, Any]:
        from infra.local.server import HttpRequest

        headers = [("Host", "127.0.0.1"), ("Accept", "application/json")]
        raw = b""
        if body is not None:
            raw = json.dumps(body).encode()
            headers.append(("Content-Type", "application/json"))
        if token:
            headers.append(("Authorization", f"Bearer {token}"))
        path, _, query = path.partition("?")
        resp = self.gateway.handle(HttpRequest(method, path, query, headers, raw))
        try:
            data = json.loads(resp.body or b"null")
        except ValueError:
            data = resp.body[:200]
        return resp.status, data

    def agent(self, username: str) -> AgentSession:
        if username not in self._sessions:
            status, data = self.http(
                "POST", "/api/auth/login", {"username": username, "password": demo_password()}
            )
            if status != 200:
                raise DemoError(f"demo login {username} failed: {status} {data}")
            self._sessions[username] = AgentSession(self, username, data["id_token"])
        return self._sessions[username]

    # ---- customers --------------------------------------------------------------------------------
    def customer_says(self, person: Person, text: str, at: datetime, channel: str | None = None) -> Any:
        """One line from ``person``, stored by the router as of ``at``; the router's ``Stored``."""
        from chalicelib.router import service as router

        n = self._lines[person.key] = self._lines.get(person.key, 0) + 1
        with self.clock.at(at):
            stored = router.store(inbound(person, text, at, n, channel))
            self.send_queued()  # e.g. the thanks for a CSAT answer
            return stored

    def send_queued(self) -> None:
        """Run the sender on what the last step queued, at the demo clock's time: a reply is sent
        when it was written (a WhatsApp reply two days later would be outside its 24 h window)."""
        if self.runner is None:
            return
        if self._outbound is None:
            self._outbound = next(c for c in self.runner.consumers if c.queue_name.endswith("-outbound.fifo"))
        while self.runner.poll_once(self._outbound).received:
            pass

    def settle(self, timeout: float = 60.0) -> None:
        """Run the queue consumers until the queues are empty (replies recorded, events handled)."""
        if self.runner is not None:
            self.runner.drain(timeout)


def already_seeded() -> bool:
    from chalicelib.conversations import service as conversations

    first = STORIES[0]
    probe = inbound(BY_KEY[first.who], first.turns[0].text, datetime.now(), 1, first.turns[0].channel)
    return conversations.stored_where(probe) is not None


def play(demo: Demo, story: Story) -> str:
    """Play one story; the conversation's id. The ticket (if any) is created at its time between
    the turns; its later life (sub-tickets done, status, the customer's CSAT answer) and the end
    state (snoozed, closed) follow the last turn."""
    person = BY_KEY[story.who]
    clock = demo.clock
    conversation_id: str | None = None
    agent: AgentSession | None = None
    ticket_id: str | None = None
    spec = story.ticket
    for turn in story.turns:
        if spec is not None and ticket_id is None and conversation_id and turn.minutes_ago < spec.minutes_ago:
            agent = agent or _owner(demo, conversation_id, clock.ago(spec.minutes_ago))
            ticket_id = _create_ticket(demo, agent, conversation_id, spec)
        at = clock.ago(turn.minutes_ago)
        if turn.who == "customer":
            stored = demo.customer_says(person, turn.text, at, turn.channel)
            if stored is not None:
                conversation_id = stored.conversation.conversation_id
            continue
        if conversation_id is None:
            raise DemoError(f"{story.who}: an agent speaks before the customer")
        if agent is None:
            # an agent's reply to a waiting conversation makes them its owner (as in the console);
            # anything else (a note) needs the conversation claimed first
            agent = (
                _agent_for(demo, conversation_id)
                if turn.who == "agent"
                else _owner(demo, conversation_id, at)
            )
        with clock.at(at):
            kind = "reply" if turn.who == "agent" else "notes"
            agent.call("POST", f"/conversations/{conversation_id}/{kind}", {"text": turn.text})
    if conversation_id is None:
        raise DemoError(f"{story.who}: a story without a customer line")
    demo.conversations.setdefault(story.who, []).append(conversation_id)
    # after the last turn, one step at a time, never in the future
    steps = iter(max(story.turns[-1].minutes_ago - 1 - 0.5 * i, 0.05) for i in range(100))
    if story.tags:
        who = agent or demo.agent("supervisor")
        with clock.at(clock.ago(next(steps))):
            who.call("PUT", f"/conversations/{conversation_id}/tags", {"add": list(story.tags), "remove": []})
    if spec is not None:
        if ticket_id is None:
            agent = agent or _owner(demo, conversation_id, clock.ago(next(steps)))
            ticket_id = _create_ticket(demo, agent, conversation_id, spec)
        assert agent is not None
        _ticket_life(demo, agent, person, ticket_id, spec, steps)
    if story.state == "snoozed" and agent is not None:
        with clock.at(clock.ago(next(steps))):
            until = clock.now + timedelta(minutes=story.snooze_minutes)
            agent.call("POST", f"/conversations/{conversation_id}/snooze", {"until": until.isoformat()})
    if story.state == "closed":
        at = clock.ago(next(steps))
        closer = agent or _owner(demo, conversation_id, at)
        with clock.at(at):
            closer.call("POST", f"/conversations/{conversation_id}/close")
    return conversation_id


def _agent_for(demo: Demo, conversation_id: str) -> AgentSession:
    """The agent who works the conversation's group."""
    from chalicelib.conversations import service as conversations

    group = conversations.get(conversation_id).group_id or "presales"
    return demo.agent(GROUP_AGENT.get(group, "supervisor"))


def _owner(demo: Demo, conversation_id: str, at: datetime) -> AgentSession:
    """The agent of the conversation's group, who claims it from the queue."""
    agent = _agent_for(demo, conversation_id)
    with demo.clock.at(at):
        agent.call("POST", f"/conversations/{conversation_id}/claim")
    return agent


def _create_ticket(demo: Demo, agent: AgentSession, conversation_id: str, spec: TicketSpec) -> str:
    """ "Create ticket" on the conversation (the customer is told on their channel)."""
    body: dict[str, Any] = {"notify": True}
    for name in ("subject", "priority", "category"):
        if getattr(spec, name):
            body[name] = getattr(spec, name)
    with demo.clock.at(demo.clock.ago(spec.minutes_ago)):
        ticket = agent.call("POST", f"/conversations/{conversation_id}/ticket", body)["ticket"]
    ticket_id: str = ticket["ticket_id"]
    demo.tickets[conversation_id] = ticket_id
    demo.versions[ticket_id] = int(ticket["version"])
    return ticket_id


def _set_status(agent: AgentSession, ticket_id: str, status: str) -> None:
    """Change a ticket's status as the console does, with the version last seen; on a 409 (a
    sub-ticket, a CSAT answer or the SLA clock moved it meanwhile) read it again and retry."""
    versions = agent.demo.versions
    for _ in range(5):
        if ticket_id not in versions:
            current = agent.call("GET", f"/tickets/{quote(ticket_id)}")["ticket"]
            if current["status"] == status:
                return
            versions[ticket_id] = int(current["version"])
        code, data = agent.demo.http(
            "PATCH",
            f"/api/tickets/{quote(ticket_id)}",
            {"version": versions[ticket_id], "status": status},
            token=agent.token,
        )
        if 200 <= code < 300:
            versions[ticket_id] = int(data["ticket"]["version"])
            return
        versions.pop(ticket_id, None)
        if code != 409:
            raise DemoError(f"{agent.username}: PATCH /tickets/{ticket_id} answered {code}: {data}")
    raise DemoError(f"{agent.username}: ticket {ticket_id} kept moving")


def _ticket_life(
    demo: Demo, agent: AgentSession, person: Person, ticket_id: str, spec: TicketSpec, steps: Any
) -> None:
    clock = demo.clock
    for group, subject in spec.subtickets:
        with clock.at(clock.ago(next(steps))):
            agent.call(
                "POST", f"/tickets/{quote(ticket_id)}/subtickets", {"group_id": group, "subject": subject}
            )
    if spec.subtickets_done:
        children = agent.call("GET", f"/tickets/{quote(ticket_id)}").get("subtickets") or []
        for child in children[: spec.subtickets_done]:
            with clock.at(clock.ago(next(steps))):
                _set_status(agent, child["ticket_id"], "solved")
    if spec.public_reply:
        with clock.at(clock.ago(next(steps))):
            agent.call(
                "POST", f"/tickets/{quote(ticket_id)}/comments", {"text": spec.public_reply, "public": True}
            )
    for status in {"closed": ["solved", "closed"], "new": []}.get(spec.status, [spec.status]):
        if status == "closed" and spec.csat is not None:
            # the survey went out when the ticket was solved: the customer answers it first
            demo.customer_says(person, str(spec.csat), clock.ago(next(steps)))
        with clock.at(clock.ago(next(steps))):
            _set_status(agent, ticket_id, status)
    if spec.status == "solved" and spec.csat is not None:
        demo.customer_says(person, str(spec.csat), clock.ago(next(steps)))


def seed_conversations(demo: Demo) -> None:
    """Every story, oldest first, so a customer's later conversations come after the earlier ones."""
    if already_seeded():
        log.info("demo conversations already seeded")
        return
    for story in STORIES:
        play(demo, story)


def seed_presence(demo: Demo, online: bool) -> None:
    """The demo agents come online (they take waiting conversations up to their capacity)."""
    if not online:
        return
    for username in ONLINE_AGENTS:
        demo.agent(username).call("PUT", "/me/presence", {"presence": "online"})


__all__ = ["USERS", "Demo", "DemoError", "play", "seed_conversations", "seed_presence"]
