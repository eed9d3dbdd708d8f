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
    card = body["message"]["quality"]
    assert [v["rule_id"] for v in card["violations"]] == ["absolute-claim"] and card["first_reply"] is True
    assert card["response_seconds"] >= 0
    sent = [m for m in conversations.messages_of(cid) if m.direction == "out"]
    assert len(sent) == 1 and sent[0].quality["violations"][0]["rule_id"] == "absolute-claim"


def close_after(api, phone: str, customer_text: str, replies: list[str], agent: str = "agent1") -> str:
    cid = router.store(inbound("sms", phone, customer_text)).conversation.conversation_id
    agent1 = api(agent)
    for text in replies:
        status, body = call(agent1, "POST", f"/conversations/{cid}/reply", {"text": text})
        assert status == 202, body
    assert call(agent1, "POST", f"/conversations/{cid}/close")[0] == 200
    return cid


def test_a_closed_conversation_gets_a_score_card_from_its_replies(api, rules_saved):
    clean = close_after(api, "+15550300010", "在吗", ["您好，请问有什么可以帮您？", "好的，已经处理"])
    status, card = call(api("agent1"), "GET", f"/quality/scorecards/{clean}")
    assert status == 200
    assert (card["score"], card["replies"], card["warnings"], card["greeting"]) == (100, 2, 0, True)
    assert card["agent_id"] == "agent1" and card["first_response_seconds"] >= 0

    warned = close_after(api, "+15550300011", "在吗", ["请稍等", "绝对没有质量问题", "绝对没有质量问题"])
    card = call(api("supervisor"), "GET", f"/quality/scorecards/{warned}")[1]
    assert card["greeting"] is False and card["warnings"] == 3
    assert {(p["rule_id"], p["count"]) for p in card["penalties"]} == {("greeting", 1), ("absolute-claim", 2)}
    assert card["score"] == 70 and "low_score" in card["reasons"] and card["review_queue"] == "pending"
    assert call(api("agent2"), "GET", f"/quality/scorecards/{warned}")[0] == 403  # not their conversation
    assert call(api("agent1"), "GET", "/quality/scorecards/cnv_missing")[0] == 404


def test_a_complaint_goes_to_review_and_scores_add_up_per_agent_and_group(api, rules_saved):
    # a complaint goes to after-sales (agent2)
    a = close_after(api, "+15550300012", "我要投诉你们，再不处理我就打12315", ["您好，非常抱歉"], "agent2")
    b = close_after(api, "+15550300013", "在吗", ["您好，绝对没有质量问题"])
    supervisor = api("supervisor")
    queue = call(supervisor, "GET", "/quality/reviews?queue=pending")[1]["items"]
    by_id = {c["conversation_id"]: c for c in queue}
    assert "complaint" in by_id[a]["reasons"] and "low_score" not in by_id[a]["reasons"]
    assert [c["score"] for c in queue] == sorted(c["score"] for c in queue)  # lowest first
    report = call(supervisor, "GET", "/reports/quality?by=agent")[1]
    rows = {r["agent_id"]: (r["conversations"], r["average_score"], r["warnings"]) for r in report["items"]}
    assert rows == {"agent1": (1, 90.0, 1), "agent2": (1, 100.0, 0)}
    groups = call(supervisor, "GET", "/reports/quality?by=group")[1]["items"]
    assert {g["group_id"]: g["conversations"] for g in groups} == {"presales": 1, "aftersales": 1}
    mine = call(api("agent1"), "GET", "/me/quality")[1]
    assert mine["conversations"] == 1 and mine["average_score"] == 90.0 and len(mine["days"]) == 1
    assert call(api("agent1"), "GET", "/reports/quality")[0] == 403
    assert call(supervisor, "GET", "/reports/quality?by=planet")[0] == 400
    assert call(supervisor, "GET", "/reports/quality?from=2025-02-01&to=2025-01-01")[0] == 400
    assert call(supervisor, "GET", "/reports/quality?from=yesterday")[0] == 400
    assert b not in by_id or by_id[b]["reasons"] == ["sample"]  # 90 is not a low score
    complaints = call(supervisor, "GET", "/quality/reviews?queue=pending&reason=complaint")[1]["items"]
    assert [c["conversation_id"] for c in complaints] == [a]
    assert call(supervisor, "GET", "/quality/reviews?queue=pending&reason=negative_csat")[1]["items"] == []
    assert call(supervisor, "GET", "/quality/reviews?reason=angry")[0] == 400


def test_review_appeal_once_and_decision_are_audited(api, rules_saved):
    cid = close_after(api, "+15550300014", "在吗", ["请稍等"])
    supervisor, agent1 = api("supervisor"), api("agent1")
    form = {"greeting": 1, "understanding": 3, "solution": 3, "attitude": 4, "compliance": 5}
    assert call(agent1, "POST", f"/quality/reviews/{cid}", {"form": form})[0] == 403
    assert (
        call(agent1, "POST", f"/quality/reviews/{cid}/appeal", {"reason": "早"})[0] == 409
    )  # nothing to appeal
    assert call(supervisor, "POST", f"/quality/reviews/{cid}", {"form": {**form, "greeting": 6}})[0] == 400

    status, card = call(supervisor, "POST", f"/quality/reviews/{cid}", {"form": form, "comment": "先问好"})
    assert status == 200 and card["review"]["total"] == 64 and card["review_queue"] is None
    assert call(supervisor, "POST", f"/quality/reviews/{cid}", {"form": form})[0] == 409

    seen = call(agent1, "GET", f"/quality/scorecards/{cid}")[1]
    assert seen["review"]["comment"] == "先问好"
    reviews = call(agent1, "GET", "/me/quality/reviews")[1]["items"]
    assert [(r["conversation_id"], r["review"]["total"]) for r in reviews] == [(cid, 64)]
    assert call(api("agent2"), "GET", "/me/quality/reviews")[1]["items"] == []
    assert call(api("agent2"), "POST", f"/quality/reviews/{cid}/appeal", {"reason": "x"})[0] == 403
    status, card = call(
        agent1, "POST", f"/quality/reviews/{cid}/appeal", {"reason": "客户一上来就发了订单号"}
    )
    assert status == 200 and card["review_queue"] == "appealed"
    assert call(agent1, "POST", f"/quality/reviews/{cid}/appeal", {"reason": "again"})[0] == 409
    appealed = call(supervisor, "GET", "/quality/reviews?queue=appealed")[1]["items"]
    assert [c["conversation_id"] for c in appealed] == [cid]

    assert call(supervisor, "POST", f"/quality/reviews/{cid}/decision", {"decision": "overturned"})[0] == 400
    better = {**form, "greeting": 4}
    status, card = call(
        supervisor, "POST", f"/quality/reviews/{cid}/decision", {"decision": "overturned", "form": better}
    )
    assert status == 200 and card["review"]["total"] == 76 and card["appeal"]["decision"] == "overturned"
    assert call(supervisor, "POST", f"/quality/reviews/{cid}/decision", {"decision": "upheld"})[0] == 409
    history = call(supervisor, "GET", f"/quality/reviews/{cid}/history")[1]["items"]
    assert [h["action"] for h in history] == ["quality.appeal_decided", "quality.appeal", "quality.review"]
    mine = call(agent1, "GET", "/me/quality")[1]
    assert mine["reviewed"] == 1 and mine["average_review"] == 76.0


def test_a_negative_survey_answer_lands_on_the_score_card_and_sends_it_to_review(api, rules_saved):
    cid = close_after(api, "+15550300020", "在吗", ["您好，请问有什么可以帮您？"])
    agent1 = api("agent1")
    status, created = call(agent1, "POST", f"/conversations/{cid}/ticket", {"notify": False})
    assert status == 201, created
    ticket = created["ticket"]
    status, _ = call(agent1, "PATCH", f"/tickets/{ticket['ticket_id']}", {"version": 0, "status": "solved"})
    assert status == 200
    router.store(inbound("sms", "+15550300020", "1"))  # the survey answer: 1 of 5

    card = call(api("supervisor"), "GET", f"/quality/scorecards/{cid}")[1]
    assert card["csat"] == 1 and "negative_csat" in card["reasons"] and card["review_queue"] == "pending"
    assert call(agent1, "GET", "/me/quality")[1]["average_csat"] == 1.0
