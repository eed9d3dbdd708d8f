"""Quality inspection on the running local stack: an admin sets the rules, a customer writes by
SMS (signed with twilio's validator), and the reply route — not the console — refuses a disguised
forbidden phrase (422, nothing sent), sends a warned one, and the closed conversation's score
card shows the warning."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from infra.local import simulate
from tests.e2e.conftest import Api, LocalStack, login
from tests.e2e.test_local_stack import creds, messages, poll

pytestmark = pytest.mark.e2e
RULES = [
    {"rule_id": "finance-promise", "kind": "phrase", "severity": "block", "phrases": ["保证收益"]},
    {"rule_id": "absolute-claim", "kind": "phrase", "severity": "warn", "phrases": ["绝对没有质量问题"]},
]


def conversation_showing(api: Api, text: str) -> dict[str, Any]:
    def probe() -> dict[str, Any] | None:
        resp = api.get("/conversations", params={"view": "all"})
        assert resp.status_code == 200, resp.text
        return next((c for c in resp.json()["items"] if c.get("preview") == text), None)

    found: dict[str, Any] = poll(f"a conversation showing {text!r}", probe)
    return found


def test_the_reply_route_blocks_a_disguised_phrase_and_scores_a_warned_one(local_stack: LocalStack):
    admin, supervisor = login(local_stack, "admin"), login(local_stack, "supervisor")
    current = admin.get("/admin/quality-rules").json()
    saved = admin.session.put(
        f"{admin.base}/api/admin/quality-rules",
        json={"version": current["version"], "rules": RULES},
        timeout=30,
    )
    assert saved.status_code == 200, saved.text

    text = f"这个理财靠谱吗 {uuid.uuid4().hex[:8]}"
    phone = "+1555" + str(uuid.uuid4().int)[:7]
    request = simulate.sms_request(local_stack.target, creds("sms"), sender=phone, text=text)
    assert request.send().status_code == 200
    cid = conversation_showing(supervisor, text)["conversation_id"]

    blocked = supervisor.post(f"/conversations/{cid}/reply", {"text": "您好，這款保.證.收.益的"})
    assert blocked.status_code == 422, blocked.text
    assert blocked.json()["error"] == "quality_blocked"
    assert [v["rule_id"] for v in blocked.json()["violations"]] == ["finance-promise"]
    assert [m["direction"] for m in messages(supervisor, cid)] == ["in"]  # nothing sent

    warned = supervisor.post(f"/conversations/{cid}/reply", {"text": "您好，绝对没有质量问题"})
    assert warned.status_code == 202, warned.text
    assert warned.json()["message"]["quality"]["violations"][0]["rule_id"] == "absolute-claim"
    assert supervisor.post(f"/conversations/{cid}/close").status_code == 200
    card = supervisor.get(f"/quality/scorecards/{cid}").json()
    assert card["score"] == 90 and card["penalties"][0]["rule_id"] == "absolute-claim"
