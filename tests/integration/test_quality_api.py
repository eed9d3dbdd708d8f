"""Quality rules through the API: admins edit one versioned set, agents check drafts, and the reply
route refuses a blocked phrase (422, nothing sent) while a warned one is sent and recorded."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.audit import service as audit
from chalicelib.conversations import service as conversations
from chalicelib.router import service as router
from tests.support.factories import inbound

RULES = [
    {
        "rule_id": "finance-promise",
        "kind": "phrase",
        "severity": "block",
        "phrases": ["保证收益", "guaranteed returns"],
    },
    {"rule_id": "absolute-claim", "kind": "phrase", "severity": "warn", "phrases": ["绝对没有质量问题"]},
    {
        "rule_id": "card-number",
        "kind": "regex",
        "severity": "block",
        "pattern": r"\b\d{4}(?:[ -]?\d{4}){3}\b",
    },
    {
        "rule_id": "greeting",
        "kind": "required",
        "applies_to": "first_reply",
        "phrases": ["您好", "hello", "hi"],
    },
]


def call(session: Any, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any]]:
    raw = json.dumps(body).encode() if body is not None else b""
    r = session.client.http.request(method, path, headers=session._headers(), body=raw)
    return r.status_code, json.loads(r.body) if r.body else {}


@pytest.fixture
def rules_saved(api):
    status, saved = call(api("admin"), "PUT", "/admin/quality-rules", {"version": 0, "rules": RULES})
    assert status == 200, saved
    return saved


def test_admins_replace_the_rule_set_with_optimistic_concurrency_and_an_audit(api):
    admin = api("admin")
    assert call(admin, "GET", "/admin/quality-rules")[1]["version"] == 0
    status, saved = call(admin, "PUT", "/admin/quality-rules", {"version": 0, "rules": RULES})
    assert status == 200 and saved["version"] == 1 and saved["updated_by"] == "admin"
    assert [r["rule_id"] for r in saved["rules"]] == [r["rule_id"] for r in RULES]

    status, stale = call(admin, "PUT", "/admin/quality-rules", {"version": 0, "rules": RULES[:1]})
    assert status == 409 and "changed since version 0" in stale["message"]
    assert call(admin, "GET", "/admin/quality-rules")[1]["version"] == 1  # the stale write changed nothing

    status, again = call(admin, "PUT", "/admin/quality-rules", {"version": 1, "rules": RULES[:1]})
    assert status == 200 and again["version"] == 2
    entry = audit.history("quality-rules")[0]
    assert entry.action == "quality_rules.replace" and entry.details["removed"] == [
        "absolute-claim",
        "card-number",
        "greeting",
    ]


def test_only_admins_edit_supervisors_read_and_agents_neither(api):
    assert call(api("agent1"), "GET", "/admin/quality-rules")[0] == 403
    assert call(api("supervisor"), "GET", "/admin/quality-rules")[0] == 200
    assert call(api("supervisor"), "PUT", "/admin/quality-rules", {"version": 0, "rules": RULES})[0] == 403
    assert call(api(None), "POST", "/quality/check", {"text": "x"})[0] == 401


@pytest.mark.parametrize(
    "rules",
    [
        [{"rule_id": "x", "kind": "phrase", "phrases": ["a"]}],  # one letter would flag everything
        [{"rule_id": "x", "kind": "phrase", "phrases": []}],
        [{"rule_id": "x", "kind": "phrase", "severity": "maybe", "phrases": ["保证收益"]}],
        [{"rule_id": "x", "kind": "regex", "pattern": "(unclosed"}],
        [{"rule_id": "x", "kind": "regex", "pattern": "a*"}],  # matches an empty text
        [{"rule_id": "x", "kind": "response_time", "seconds": 0}],
        [{"rule_id": "x", "kind": "response_time", "seconds": 60, "severity": "block"}],
        [{"rule_id": "x", "kind": "telepathy"}],
        [{"rule_id": "Bad Id", "kind": "phrase", "phrases": ["保证收益"]}],
        [RULES[0], RULES[0]],
    ],
)
def test_invalid_rule_sets_are_400_and_change_nothing(api, rules):
    admin = api("admin")
    status, body = call(admin, "PUT", "/admin/quality-rules", {"version": 0, "rules": rules})
    assert status == 400, body
    assert call(admin, "GET", "/admin/quality-rules")[1]["version"] == 0


def test_check_reports_each_violation_with_its_span_in_the_text_as_sent(api, rules_saved):
    text = "亲，这款理财 保.證.收.益，绝对没有质量问题！卡号 6222 0000 1111 2222"
    status, body = call(api("agent1"), "POST", "/quality/check", {"text": text})
    assert status == 200
    spans = {(v["rule_id"], v["severity"], text[v["start"] : v["end"]]) for v in body["violations"]}
    assert spans == {
        ("finance-promise", "block", "保.證.收.益"),
        ("absolute-claim", "warn", "绝对没有质量问题"),
        ("card-number", "block", "6222 0000 1111 2222"),
    }
    assert call(api("agent1"), "POST", "/quality/check", {"text": "我们保证质量"})[1] == {"violations": []}
    assert call(api("agent1"), "POST", "/quality/check", {"text": 5})[0] == 400
    assert call(api("agent1"), "POST", "/quality/check", {"text": "x" * 8001})[0] == 400


def test_check_in_a_conversation_knows_the_first_reply_needs_a_greeting(api, rules_saved):
    cid = router.store(inbound("sms", "+15550300001", "在吗")).conversation.conversation_id
    agent1 = api("agent1")
    status, body = call(agent1, "POST", "/quality/check", {"text": "请稍等", "conversation_id": cid})
    assert status == 200 and [v["rule_id"] for v in body["violations"]] == ["greeting"]
    assert call(agent1, "POST", "/quality/check", {"text": "您好，请稍等", "conversation_id": cid})[1] == {
        "violations": []
    }
    assert call(api("agent2"), "POST", "/quality/check", {"text": "x", "conversation_id": cid})[0] == 403


def test_a_blocked_reply_is_refused_with_the_rule_and_nothing_is_sent(api, rules_saved):
    cid = router.store(inbound("sms", "+15550300002", "这个理财靠谱吗")).conversation.conversation_id
    status, body = call(api("agent1"), "POST", f"/conversations/{cid}/reply", {"text": "您好，保 证 收 益的"})
    assert status == 422 and body["error"] == "quality_blocked"
    assert [(v["rule_id"], v["start"], v["end"]) for v in body["violations"]] == [("finance-promise", 3, 10)]
    assert [m.direction for m in conversations.messages_of(cid)] == ["in"]
    assert conversations.get(cid).first_responded_at is None


def test_a_warned_reply_is_sent_and_keeps_its_warning(api, rules_saved):
    cid = router.store(inbound("sms", "+15550300003", "在吗")).conversation.conversation_id
    status, body = call(
        api("agent1"), "POST", f"/conversations/{cid}/reply", {"text": "您好，绝对没有质量问题"}
    )
    assert status == 202
    assert [v["rule_id"] for v in body["message"]["quality"]] == ["absolute-claim"]
    sent = [m for m in conversations.messages_of(cid) if m.direction == "out"]
    assert len(sent) == 1 and sent[0].quality[0]["rule_id"] == "absolute-claim"
