"""Audit of views (C14), on by default: every read of a customer (360) or a conversation by an agent
is recorded in the customer's append-only trail (who, when, what, from where), shown by GET
/customers/{id}/audit beside the changes; a supervisor searches the audit by agent (GET /audit,
one Query on by_actor)."""

from __future__ import annotations

import json
import time
from typing import Any

from chalicelib.audit import service as audit
from chalicelib.audit.models import RETENTION_DAYS, AuditRecord
from chalicelib.router import service as router
from tests.support.factories import inbound

UA = {"user-agent": "Mozilla/5.0 (audit test)"}


def _body(r: Any) -> Any:
    assert r.status_code < 300, (r.status_code, r.body)
    return json.loads(r.body)


def _conversation(phone: str = "13900001111") -> tuple[str, str]:
    stored = router.store(inbound("sms", phone, "where is my parcel?"))
    assert stored is not None
    return stored.conversation.customer_id, stored.conversation.conversation_id


def test_viewing_a_customer_and_a_conversation_is_recorded_with_who_what_and_from_where(api) -> None:
    cus, cid = _conversation()
    supervisor = api("supervisor")
    _body(supervisor.get(f"/customers/{cus}", headers=UA))
    _body(supervisor.get(f"/conversations/{cid}", headers=UA))

    trail = _body(supervisor.get(f"/customers/{cus}/audit"))["items"]
    views = [r for r in trail if r["actor"] == "supervisor" and r["action"] == "view"]
    assert [v["details"]["what"] for v in views] == ["conversation", "customer"]  # newest first
    assert views[0]["details"]["conversation_id"] == cid
    assert all(v["user_agent"] == UA["user-agent"] for v in views)
    assert all(v["source_ip"] for v in views)
    assert all(v["expires_at"] > time.time() + (RETENTION_DAYS - 1) * 86400 for v in views)
    assert "where is my parcel" not in json.dumps(views) and "13900001111" not in json.dumps(views)


def test_a_supervisor_searches_the_audit_by_agent_newest_first_in_pages(api) -> None:
    cus, _ = _conversation()
    agent1, supervisor = api("agent1"), api("supervisor")
    for _ in range(3):
        _body(agent1.get(f"/customers/{cus}"))
    _body(supervisor.get(f"/customers/{cus}"))  # someone else's view is not agent1's

    first = _body(supervisor.get("/audit?agent_id=agent1&limit=2"))
    assert [r["actor"] for r in first["items"]] == ["agent1", "agent1"]
    rest = _body(supervisor.get(f"/audit?agent_id=agent1&limit=2&cursor={first['next_cursor']}"))
    stamps = [r["at"] for r in first["items"] + rest["items"]]
    assert len(stamps) == 3 and stamps == sorted(stamps, reverse=True)
    assert {r["subject"] for r in first["items"] + rest["items"]} == {f"customer#{cus}"}


def test_only_supervisors_search_the_audit_and_an_agent_id_is_required(api) -> None:
    assert api("agent1").get("/audit?agent_id=agent2").status_code == 403
    assert api("supervisor").get("/audit").status_code == 400


def test_a_view_showing_two_customers_is_written_in_one_batch_and_reads_nothing(aws) -> None:
    items = audit.viewed("agent9", "conversation", ["cus_a", "cus_b", "cus_a"], conversation_id="c1")
    assert sorted(i.subject for i in items) == ["customer#cus_a", "customer#cus_b"]
    assert [r.actor for r in AuditRecord.query("customer#cus_b")] == ["agent9"]


def test_the_audit_service_has_no_update_or_delete_path() -> None:
    import inspect

    source = inspect.getsource(audit)
    assert ".delete(" not in source and ".update(" not in source
