"""Console/API: an agent sees a customer's phones and e-mails masked (138****1234, a***@example.com)
in the customer 360, the conversation view and an edit's answer; supervisors see them in full;
an agent reveals them with POST /customers/{id}/reveal, which the customer's audit trail records."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.messages import CustomerHints
from chalicelib.router import service as router
from tests.support.factories import inbound

PHONE, EMAIL = "13812341234", "mei.chen@example.org"


def _customer() -> tuple[str, str]:
    hints = CustomerHints(phone=PHONE, email=EMAIL, verified=("phone", "email"))
    stored = router.store(inbound("sms", PHONE, "price of the cream?", hints=hints))
    assert stored is not None
    return stored.conversation.customer_id, stored.conversation.conversation_id


def _body(r: Any) -> Any:
    assert r.status_code < 300, (r.status_code, r.body)
    return json.loads(r.body)


def test_an_agent_sees_contacts_masked_and_a_supervisor_in_full(api) -> None:
    cus, cid = _customer()
    agent1, supervisor = api("agent1"), api("supervisor")
    for view in (_body(agent1.get(f"/customers/{cus}")), _body(agent1.get(f"/conversations/{cid}"))):
        assert (view["customer"]["phones"], view["customer"]["emails"]) == (
            ["138****1234"],
            ["m***@example.org"],
        )
        assert PHONE not in json.dumps(view) and EMAIL not in json.dumps(view)
    [queued] = _body(agent1.get("/conversations?view=queue"))["items"]
    assert queued["last_channel_user_id"] == "138****1234"
    edited = _body(
        agent1.client.http.patch(
            f"/customers/{cus}", body=json.dumps({"tags": {"add": ["vip"]}}), headers=agent1._headers()
        )
    )
    assert edited["customer"]["phones"] == ["138****1234"]
    full = _body(supervisor.get(f"/customers/{cus}"))
    assert (full["customer"]["phones"], full["customer"]["emails"]) == ([PHONE], [EMAIL])


def test_revealing_contacts_answers_them_in_full_and_is_audited(api) -> None:
    cus, _ = _customer()
    agent1, supervisor = api("agent1"), api("supervisor")
    assert _body(agent1.post(f"/customers/{cus}/reveal")) == {
        "customer_id": cus,
        "phones": [PHONE],
        "emails": [EMAIL],
    }
    trail = _body(supervisor.get(f"/customers/{cus}/audit"))["items"]
    assert [(r["actor"], r["action"]) for r in trail if r["action"] == "reveal_contacts"] == [
        ("agent1", "reveal_contacts")
    ]
    assert agent1.post("/customers/cus_missing/reveal").status_code == 404
    assert api(None).post(f"/customers/{cus}/reveal").status_code == 401
