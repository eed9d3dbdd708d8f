"""SLA policies through the admin API, the ticket's SLA fields and index keys, report counters and
the at-risk / breached lists (no Step Functions executions run here)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest

from chalicelib.messages import iso, utcnow
from chalicelib.sla import tickets as sla_tickets
from chalicelib.tickets import service as tickets
from chalicelib.tickets.models import Ticket

POLICIES = [
    {
        "policy_id": "vip-urgent",
        "name": "VIP or urgent",
        "match": {"priorities": ["urgent"]},
        "targets": {"first_response_minutes": 15, "resolution_minutes": 240},
        "calendar": "cn-office",
        "warning_percent": 75,
        "escalation_minutes": 30,
    },
    {"policy_id": "standard", "name": "Everyone else", "targets": {"first_response_minutes": 240}},
]
CALENDAR = {
    "version": 0,
    "time_zone": "Asia/Shanghai",
    "weekly": {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
}


def call(session: Any, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    raw = json.dumps(body).encode() if body is not None else b""
    r = session.client.http.request(method, path, headers=session._headers(), body=raw)
    return r.status_code, json.loads(r.body) if r.body else {}


@pytest.fixture
def test_stage(aws):
    """Settings read before the Chalice test client's context sets its own stage ("dev")."""
    from chalicelib.config import settings

    assert settings().stage == "test"
    return aws


@pytest.fixture
def admin(api):
    return api("admin")


def test_policies_are_validated_versioned_and_role_checked(api, admin):
    status, body = call(admin, "GET", "/admin/sla-policies")
    assert status == 200 and body["version"] == 0 and body["default"]["policy_id"] == "default"
    status, body = call(admin, "PUT", "/admin/sla-policies", {"version": 0, "policies": POLICIES})
    assert status == 400 and "cn-office" in body["message"]  # the calendar does not exist yet
    assert call(admin, "PUT", "/admin/calendars/cn-office", CALENDAR)[0] == 200
    no_default = {"version": 0, "policies": POLICIES[:1]}
    status, body = call(admin, "PUT", "/admin/sla-policies", no_default)
    assert status == 400 and "default" in body["message"]
    assert (
        call(api("supervisor"), "PUT", "/admin/sla-policies", {"version": 0, "policies": POLICIES})[0] == 403
    )
    status, body = call(admin, "PUT", "/admin/sla-policies", {"version": 0, "policies": POLICIES})
    assert status == 200 and body["version"] == 1
    assert call(admin, "PUT", "/admin/sla-policies", {"version": 0, "policies": POLICIES})[0] == 409
    status, body = call(api("supervisor"), "GET", "/admin/sla-policies")
    assert [p["policy_id"] for p in body["policies"]] == ["vip-urgent", "standard"]
    assert body["policies"][0]["calendar"] == "cn-office" and body["updated_by"] == "admin"


def _ticket(subject: str, priority: str = "normal") -> Ticket:
    return tickets.create(
        subject=subject,
        actor="agent1",
        source="agent",
        priority=priority,
        assignee_id="agent1",
        group_id="presales",
        notify_customer=False,
    )


def _backdate(ticket_id: str, minutes: int) -> Ticket:
    """Pretend the ticket was created ``minutes`` ago, then a change happened now."""
    t, now = Ticket(ticket_id), utcnow()
    t.update(actions=[Ticket.created_at.set(iso(now - timedelta(minutes=minutes))), Ticket.version.add(1)])
    sla_tickets.on_change(t, "test")
    return tickets.get(ticket_id, consistent=True)


def test_at_risk_breached_and_attainment(test_stage, api, admin):
    supervisor = api("supervisor")
    assert call(admin, "PUT", "/admin/sla-policies", {"version": 0, "policies": POLICIES[1:]})[0] == 200
    late, soon, fine = _ticket("late"), _ticket("soon"), _ticket("fine")
    _backdate(late.ticket_id, 300)  # standard: 240 minutes, so 60 past due
    at_risk = _backdate(soon.ticket_id, 200)  # 40 minutes left
    assert (at_risk.sla_state, at_risk.due_key, at_risk.sla_next_target) == (
        "warning",
        "due",
        "first_response",
    )
    status, body = call(supervisor, "GET", "/tickets/breached")
    assert status == 200 and [t["ticket_id"] for t in body["items"]] == [late.ticket_id]
    assert body["items"][0]["sla_state"] == "breached"
    status, body = call(supervisor, "GET", "/tickets/at-risk?within=60")
    assert [t["ticket_id"] for t in body["items"]] == [soon.ticket_id]
    assert call(supervisor, "GET", "/tickets/at-risk?within=0")[0] == 400
    assert call(api("agent1"), "GET", "/tickets/breached")[0] == 403

    # Answer two: one late (breached), one in time (met); each counted once, whatever the retries.
    for t in (late, fine):
        replied, now = Ticket(t.ticket_id), iso(utcnow())
        replied.update(
            actions=[
                Ticket.first_responded_at.set(now),
                Ticket.last_public_reply_at.set(now),
                Ticket.version.add(1),
            ]
        )
        sla_tickets.on_change(replied, "public_reply")
        sla_tickets.on_change(replied, "public_reply")  # a repeated call (same version) counts nothing
    assert tickets.get(late.ticket_id, consistent=True).sla_outcomes.as_dict() == {
        "first_response": "breached"
    }
    assert tickets.get(late.ticket_id, consistent=True).due_key is None
    status, body = call(supervisor, "GET", "/tickets/breached")
    assert body["items"] == []
    today = utcnow().date().isoformat()
    status, body = call(supervisor, "GET", f"/reports/sla?by=policy&from={today}&to={today}")
    assert status == 200
    assert [(i["policy"], i["met"], i["breached"], i["attainment_percent"]) for i in body["items"]] == [
        ("standard", 1, 1, 50.0)
    ]
    assert body["items"][0]["targets"]["first_response"] == {
        "met": 1,
        "breached": 1,
        "attainment_percent": 50.0,
    }
    _, by_agent = call(supervisor, "GET", "/reports/sla?by=agent")
    assert [(i["agent"], i["met"], i["breached"]) for i in by_agent["items"]] == [("agent1", 1, 1)]
    assert call(supervisor, "GET", "/reports/sla?by=planet")[0] == 400
    assert call(supervisor, "GET", "/reports/sla?from=2025-01-01&to=2025-12-31")[0] == 400  # over 92 days


def test_on_change_never_fails_the_ticket_action(aws, team, monkeypatch):
    from chalicelib.sla import policies

    def broken() -> Any:
        raise RuntimeError("config table unreachable")

    monkeypatch.setattr(policies, "policy_set", broken)
    ticket = _ticket("still created")
    assert tickets.get(ticket.ticket_id).sla_clock is None
