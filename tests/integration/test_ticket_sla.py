"""Tickets' SLA clocks on Step Functions (moto's executor: real Wait, DynamoDB and SQS steps).

Policy minutes are shrunk to seconds (``policies.MINUTE``) so deadlines are seconds away."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest

from chalicelib.agents import service as agents
from chalicelib.messages import iso, utcnow
from chalicelib.sla import policies
from chalicelib.sla import service as sla
from chalicelib.sla import tickets as sla_tickets
from chalicelib.sla.policies import PolicyMatch, PolicySetUpdate, SlaPolicy, SlaTargets
from chalicelib.tickets import service as tickets
from chalicelib.tickets.models import Ticket
from tests.support.queues import drain

pytestmark = pytest.mark.sfn

# moto runs Wait states on real time but may finish them up to ~3 s early; the machine does not
# look at the time itself, so an early wake only makes the test quicker.
DUE = 6  # seconds to the first-response deadline


@pytest.fixture
def desk(aws, monkeypatch):
    """Seconds for minutes; a group with a team lead; agents; a policy set."""
    monkeypatch.setattr(policies, "MINUTE", 1)
    agents.put_group("support", "Support", lead_id="lead1")
    agents.put_agent("agent1", "Agent One", "agent", ["support"])
    agents.put_agent("lead1", "Lead One", "supervisor", ["support"])
    policies.save(
        PolicySetUpdate(
            version=0,
            policies=[
                SlaPolicy(
                    policy_id="urgent",
                    name="Urgent",
                    match=PolicyMatch(priorities=["urgent"]),
                    targets=SlaTargets(first_response_minutes=DUE),
                    warning_percent=None,
                    escalation_minutes=None,
                ),
                SlaPolicy(
                    policy_id="standard",
                    name="Standard",
                    targets=SlaTargets(first_response_minutes=DUE),
                    warning_percent=50,
                    escalation_minutes=3,
                ),
            ],
        ),
        "admin",
    )
    return aws


def new_ticket(priority: str = "normal") -> Ticket:
    return tickets.create(
        subject="Parcel arrived damaged",
        actor="agent1",
        source="agent",
        priority=priority,
        assignee_id="agent1",
        group_id="support",
        notify_customer=False,
    )


def wait_for(arn: str, status: str | None = None, timeout: float = 25) -> dict[str, Any]:
    sfn = boto3.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING" if status is None else described["status"] == status:
            return described
        time.sleep(0.2)
    raise AssertionError(f"execution {arn} not {status or 'finished'} after {timeout}s")


def waiting(arn: str, timeout: float = 10) -> None:
    """Until the execution sits in its Wait (moto cannot stop an execution it has not begun)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if "WaitForStop" in states_entered(arn):
            return
        time.sleep(0.1)
    raise AssertionError(f"execution {arn} never started waiting")


def states_entered(arn: str) -> list[str]:
    events = boto3.client("stepfunctions").get_execution_history(executionArn=arn)["events"]
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def sla_events(env: dict[str, str]) -> list[dict[str, Any]]:
    return [json.loads(m["Body"]) for m in drain(env["OMNIFLOW_EVENTS_QUEUE_URL"])]


def as_batch(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "Records": [
            {"messageId": f"m{i}", "body": json.dumps(e), "eventSource": "aws:sqs", "receiptHandle": "r"}
            for i, e in enumerate(events)
        ]
    }


def test_a_breach_warns_then_escalates_once_per_level(desk):
    ticket = new_ticket()
    stored = tickets.get(ticket.ticket_id, consistent=True)
    assert (stored.sla_policy_id, stored.sla_clock, stored.due_key) == ("standard", 1, "due")
    arn = sla_tickets.execution_arn(ticket.ticket_id, 1)
    assert wait_for(arn)["status"] == "SUCCEEDED"
    assert states_entered(arn) == [
        *("WaitForStop", "ReadTicket", "Decide", "WarnThenWait"),
        *("WaitForStop", "ReadTicket", "Decide", "MarkLevelThenWait", "EscalateThenWait"),
        *("WaitForStop", "ReadTicket", "Decide", "MarkLevelLast", "EscalateLast"),
    ]
    events = sla_events(desk)
    assert [(e["type"], e["stage"], e["level"], e["target"]) for e in events] == [
        ("sla.ticket", "warning", 0, "first_response"),
        ("sla.ticket", "breach", 1, "first_response"),
        ("sla.ticket", "breach", 2, "first_response"),
    ]
    marked = tickets.get(ticket.ticket_id, consistent=True)
    assert set(marked.sla_breaches.as_dict()) == {"first_response#1", "first_response#2"}
    assert (marked.sla_state, int(marked.sla_level)) == ("breached", 2)

    # The consumer, with every event delivered twice (SQS at-least-once): each level acts once.
    assert sla.handle_batch(as_batch(events + events)) == {"batchItemFailures": []}
    after = tickets.get(ticket.ticket_id, consistent=True)
    assert (after.priority, after.assignee_id) == ("high", "lead1")  # level 1 raised, level 2 reassigned
    kinds = [e.kind for e in tickets.history(ticket.ticket_id) if e.actor == "sla"]
    assert sorted(kinds) == ["changed", "changed", "escalated", "escalated", "sla_warning"]
    changes = [e.changes.as_dict() for e in tickets.history(ticket.ticket_id) if e.kind == "changed"]
    assert changes == [
        {"priority": {"from": "normal", "to": "high"}},
        {"assignee_id": {"from": "agent1", "to": "lead1"}},
    ]
    # The priority change did not move the deadlines: no new execution was started.
    assert int(after.sla_clock) == 1


def test_an_answer_before_the_deadline_stops_escalation(desk, monkeypatch):
    # Deadlines further away than the others' (18 s, warning at 14 s): moto's Wait may fire seconds
    # early, and this test is about the stop, which must come first even on a loaded machine.
    monkeypatch.setattr(policies, "MINUTE", 3)
    ticket = new_ticket()
    arn = sla_tickets.execution_arn(ticket.ticket_id, 1)
    waiting(arn)
    # An agent's public reply, as the tickets service records it, then tells the SLA side.
    replied, now = Ticket(ticket.ticket_id), iso(utcnow())
    replied.update(
        actions=[
            Ticket.first_responded_at.set(now),
            Ticket.last_public_reply_at.set(now),
            Ticket.status.set("open"),
            Ticket.updated_at.set(now),
            Ticket.version.add(1),
        ]
    )
    sla_tickets.on_change(replied, "public_reply")
    assert wait_for(arn)["status"] == "ABORTED"
    answered = tickets.get(ticket.ticket_id, consistent=True)
    assert answered.first_responded_at
    assert (answered.sla_state, answered.due_key, int(answered.sla_clock)) == ("met", None, 2)
    assert answered.sla_outcomes.as_dict() == {"first_response": "met"}
    time.sleep(0.5)
    assert sla_events(desk) == []


def test_a_paused_ticket_does_not_breach_even_if_the_stop_is_missed(desk, monkeypatch):
    ticket = new_ticket()
    arn = sla_tickets.execution_arn(ticket.ticket_id, 1)
    monkeypatch.setattr(sla_tickets, "replace_execution", lambda *a, **k: None)  # stopping "fails"
    tickets.update(ticket.ticket_id, "agent1", {"status": "pending_customer"}, notify_customer=False)
    paused = tickets.get(ticket.ticket_id, consistent=True)
    assert (paused.sla_state, paused.due_key, paused.sla_first_response_due) == ("paused", None, None)
    assert int(paused.sla_clock) == 2
    assert wait_for(arn)["status"] == "SUCCEEDED"
    assert states_entered(arn) == ["WaitForStop", "ReadTicket", "Decide", "Done"]  # it saw the ticket paused
    assert sla_events(desk) == []
    assert tickets.get(ticket.ticket_id, consistent=True).sla_breaches.as_dict() == {}


def test_a_priority_change_replaces_the_execution_and_solving_stops_it(desk):
    monkeypatch_due = 600  # the standard policy's deadline, far away
    policies.save(
        PolicySetUpdate(
            version=policies.current().version,
            policies=[
                *policies.current().policies[:1],
                SlaPolicy(
                    policy_id="standard",
                    name="Standard",
                    targets=SlaTargets(first_response_minutes=monkeypatch_due),
                ),
            ],
        ),
        "admin",
    )
    ticket = new_ticket()
    first = sla_tickets.execution_arn(ticket.ticket_id, 1)
    second = sla_tickets.execution_arn(ticket.ticket_id, 2)
    waiting(first)
    tickets.set_priority(ticket.ticket_id, "urgent", "agent1")
    assert wait_for(first)["status"] == "ABORTED"
    described = boto3.client("stepfunctions").describe_execution(executionArn=second)
    assert described["status"] == "RUNNING"
    stop = json.loads(described["input"])
    assert (stop["target"], stop["stage"], stop["level"], stop["clock"]) == ("first_response", "breach", 1, 2)
    assert "next" not in stop  # the urgent policy has no warning and no level 2
    urgent = tickets.get(ticket.ticket_id, consistent=True)
    assert urgent.sla_policy_id == "urgent" and urgent.sla_next_due == stop["at"]
    waiting(second)
    tickets.update(ticket.ticket_id, "agent1", {"status": "solved"}, notify_customer=False)
    assert wait_for(second)["status"] == "ABORTED"  # nothing left waiting for a solved ticket
    solved = tickets.get(ticket.ticket_id, consistent=True)
    assert (solved.due_key, solved.sla_next_due) == (None, None)
