"""Business events on moto: a company system with ``events:write`` reports what happened to a
customer (found by phone, e-mail or our id, following merges); a retry is kept once; the console
(and a client with ``customers:read``) reads them newest first; bad bodies and unknown customers are
refused and change nothing; without the scope a client is refused."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.identity import service as identity
from chalicelib.messages import CustomerHints
from tests.support.factories import inbound


def client_session(api: Any, scopes: list[str]) -> Any:
    made = json.loads(api("admin").post("/admin/api-clients", {"name": "ERP", "scopes": scopes}).body)
    answer = api(None).post(
        "/oauth/token",
        {
            "grant_type": "client_credentials",
            "client_id": made["client_id"],
            "client_secret": made["client_secret"],
        },
    )
    session = api(None)
    session.token = json.loads(answer.body)["access_token"]
    return session, made["client_id"]


def a_customer(phone: str = "+8613700137000", email: str = "li.lei@example.com") -> str:
    hints = CustomerHints(phone=phone, email=email, verified=("phone", "email"))
    return identity.resolve(inbound("sms", phone, "hi", hints=hints)).customer.customer_id


def event(ref: dict[str, str], event_id: str = "ship-1042", **kw: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": "order.shipped",
        "occurred_at": "2026-12-07T08:00:00+08:00",
        "customer": ref,
        "data": {"order": "SO-1042", "carrier": "顺丰", "items": ["面膜", 2]},
        **kw,
    }


def test_a_system_reports_events_by_phone_or_email_and_a_retry_is_kept_once(api):
    customer_id = a_customer()
    erp, client_id = client_session(api, ["events:write"])
    r = erp.post("/business-events", event({"phone": "+8613700137000"}))
    assert r.status_code == 202, r.body
    answer = json.loads(r.body)
    assert (answer["event_id"], answer["customer_id"], answer["duplicate"]) == (
        "ship-1042",
        customer_id,
        False,
    )
    assert (answer["status"], answer["reason"]) == (
        "suppressed",
        "no_rule: no enabled rule for order.shipped",
    )
    again = erp.post("/business-events", event({"phone": "+8613700137000"}))
    assert json.loads(again.body)["duplicate"] is True
    r = erp.post(
        "/business-events",
        event(
            {"email": "Li.Lei@Example.com"},
            "inv-7",
            type="invoice.overdue",
            occurred_at="2026-12-07T09:00:00Z",
        ),
    )
    assert r.status_code == 202, r.body

    items = json.loads(api("agent1").get(f"/customers/{customer_id}/business-events").body)["items"]
    assert [(i["event_id"], i["type"]) for i in items] == [
        ("inv-7", "invoice.overdue"),
        ("ship-1042", "order.shipped"),
    ]
    assert items[1]["data"]["carrier"] == "顺丰" and items[1]["source"] == f"client:{client_id}"
    assert items[1]["occurred_at"].startswith("2026-12-07T00:00:00")  # kept in UTC


def test_bad_bodies_unknown_customers_and_missing_scopes_are_refused_and_change_nothing(api):
    customer_id = a_customer("+8613700137001", "han.meimei@example.com")
    erp, _ = client_session(api, ["events:write"])
    bad = [
        event({}),
        event({"phone": "13700137001"}),  # not E.164
        event({"phone": "+8613700137001"}, type="Shipped"),
        event({"phone": "+8613700137001"}, occurred_at="2026-12-07T08:00:00"),  # no time zone
        event({"phone": "+8613700137001"}, data={"blob": "x" * 9000}),
        {**event({"phone": "+8613700137001"}), "extra": 1},
    ]
    for body in bad:
        assert erp.post("/business-events", body).status_code == 400, body
    unknown = erp.post("/business-events", event({"phone": "+8613700199999"}))
    assert unknown.status_code == 202  # recorded with what became of it: nobody to tell
    assert (json.loads(unknown.body)["status"], json.loads(unknown.body)["reason"]) == (
        "suppressed",
        "unknown_customer",
    )
    assert json.loads(api("agent1").get(f"/customers/{customer_id}/business-events").body)["items"] == []

    reader, _ = client_session(api, ["customers:read"])
    assert reader.post("/business-events", event({"customer_id": customer_id})).status_code == 403
    assert reader.get(f"/customers/{customer_id}/business-events").status_code == 200
    assert api("agent1").post("/business-events", event({"customer_id": customer_id})).status_code == 403
    assert api("admin").post("/business-events", event({"customer_id": customer_id})).status_code == 202
