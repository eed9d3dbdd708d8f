"""Every public event is announced where it happens (``events.Announced``, which the outgoing
webhooks hear): a conversation assigned and closed, an SLA warning and breach, a survey answer,
a merge. Each flow runs through its real route or handler on moto; a recorder listens beside the
webhooks."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from chalicelib import bootstrap, events
from chalicelib.conversations import service as conversations
from chalicelib.identity import service as identity
from chalicelib.router import service as router
from tests.support.factories import inbound


@pytest.fixture
def heard() -> Iterator[list[events.Announced]]:
    said: list[events.Announced] = []
    events.install(
        {
            **bootstrap.SUBSCRIPTIONS,
            events.Announced: [*bootstrap.SUBSCRIPTIONS[events.Announced], said.append],
        }
    )
    yield said
    bootstrap.install()


def of(said: list[events.Announced], kind: str) -> list[dict[str, Any]]:
    return [dict(e.data) for e in said if e.type == kind]


def waiting(user: str, text: str = "where is my parcel") -> str:
    msg = inbound("sms", user, text)
    return conversations.record_inbound(
        identity.resolve(msg).customer, msg, "presales", mailbox=False
    ).conversation.conversation_id


def test_claiming_and_closing_a_conversation_announce_assigned_then_closed(api, heard):
    cid = waiting("+15550470001")
    agent1 = api("agent1")
    assert agent1.post(f"/conversations/{cid}/claim").status_code == 200
    assert agent1.post(f"/conversations/{cid}/close").status_code == 200

    customer_id = conversations.get(cid).customer_id
    (assigned,) = of(heard, "conversation.assigned")
    assert (assigned["conversation_id"], assigned["agent_id"], assigned["by"]) == (cid, "agent1", "agent1")
    (closed,) = of(heard, "conversation.closed")
    assert (closed["conversation_id"], closed["customer_id"], closed["closed_by"]) == (
        cid,
        customer_id,
        "agent1",
    )
    kinds = [e.type for e in heard]
    assert kinds.index("conversation.assigned") < kinds.index("conversation.closed")


def test_a_refused_close_announces_nothing(api, heard):
    cid = waiting("+15550470002")
    conversations.close(cid, "agent1")
    heard.clear()
    assert api("agent1").post(f"/conversations/{cid}/close").status_code >= 400
    assert of(heard, "conversation.closed") == []


def test_a_merge_announces_the_customer_that_stays_and_the_one_folded_in(api, heard):
    a = conversations.get(waiting("+15550470003")).customer_id
    b = conversations.get(waiting("+15550470004")).customer_id
    r = api("supervisor").post(f"/customers/{a}/merge", {"source_customer_id": b})
    assert r.status_code == 200, r.body
    (merged,) = of(heard, "customer.merged")
    assert (merged["customer_id"], merged["source_customer_id"], merged["by"]) == (a, b, "supervisor")
    assert len(merged["conversation_ids"]) == 1


def test_a_survey_answer_announces_csat_received_with_its_score(api, heard):
    cid = waiting("+15550470005")
    agent1 = api("agent1")
    t = json.loads(agent1.post(f"/conversations/{cid}/ticket", {"notify": False}).body)["ticket"]
    r = agent1.client.http.request(
        "PATCH",
        f"/tickets/{t['ticket_id']}",
        headers=agent1._headers(),
        body=json.dumps({"version": t["version"], "status": "solved"}).encode(),
    )
    assert r.status_code == 200, r.body
    assert of(heard, "csat.received") == []
    router.store(inbound("sms", "+15550470005", "5"))
    (csat,) = of(heard, "csat.received")
    assert (csat["ticket_id"], csat["score"], csat["conversation_ids"]) == (t["ticket_id"], 5, [cid])


def test_ticket_sla_warning_and_first_breach_are_announced_once_each(api, heard):
    from chalicelib.sla import escalation

    cid = waiting("+15550470006")
    t = json.loads(api("agent1").post(f"/conversations/{cid}/ticket", {"notify": False}).body)["ticket"]
    base = {
        "type": "sla.ticket",
        "ticket_id": t["ticket_id"],
        "target": "resolution",
        "due": "2026-12-08T10:00:00Z",
    }
    escalation.handle({**base, "stage": "warning"})
    escalation.handle({**base, "stage": "warning"})  # a redelivery: already handled
    escalation.handle({**base, "stage": "breach", "level": 1})
    escalation.handle({**base, "stage": "breach", "level": 2})  # internal escalation: no new public event
    assert of(heard, "sla.warning") == [
        {"ticket_id": t["ticket_id"], "target": "resolution", "due": "2026-12-08T10:00:00Z"}
    ]
    assert of(heard, "sla.breached") == [
        {"ticket_id": t["ticket_id"], "target": "resolution", "due": "2026-12-08T10:00:00Z"}
    ]


def test_a_conversation_first_response_breach_is_announced(aws, heard):
    from chalicelib.sla import service as sla

    cid = waiting("+15550470007")
    sla.handle_event(
        {
            "type": "sla.breached",
            "conversation_id": cid,
            "target": "first_response",
            "deadline": "2026-12-08T10:00:00Z",
            "level": 1,
        }
    )
    assert of(heard, "sla.breached") == [
        {"conversation_id": cid, "target": "first_response", "due": "2026-12-08T10:00:00Z"}
    ]
