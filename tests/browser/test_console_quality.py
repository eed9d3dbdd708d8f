"""The quality pages in Chromium against the local stack: an agent's closed conversation with a
complaint is in the supervisor's review queue (filtered by reason); the supervisor reviews it with
the form and a comment; the agent sees their score and the review, appeals once (in Chinese); the
supervisor overturns it and the agent sees the decision; the supervisor's scores per agent and
per group count it, beside how often assist suggestions were used. An admin edits the rule set,
and a save over a stale version is refused (409) and reloads. Each test fails on a console error,
CSP violation, unexpected failed request or dialog (tests/browser/conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from tests.browser.conftest import Watch, console_login
from tests.browser.test_console_pages import new_page, sms_conversation
from tests.e2e.conftest import Api, LocalStack, login

__all__ = ["new_page"]


def closed_by_agent1(stack: LocalStack, supervisor: Api, text: str, phone: str) -> str:
    cid: str = sms_conversation(stack, supervisor, text, phone)["conversation_id"]
    moved = supervisor.post(f"/conversations/{cid}/transfer", {"to_group": "presales", "note": "yours"})
    assert moved.status_code == 200, moved.text
    agent1 = login(stack, "agent1")
    for step, body in (("claim", None), ("reply", {"text": "您好，非常抱歉，马上为您处理"}), ("close", None)):
        resp = agent1.post(f"/conversations/{cid}/{step}", body if body is not None else {})
        assert resp.status_code in (200, 202), (step, resp.text)
    return cid


def test_an_agent_sees_their_score_and_review_appeals_once_and_the_supervisor_decides(
    local_stack: LocalStack, supervisor: Api, new_page: Callable[[], Any], watch: Watch
):
    run = uuid.uuid4().hex[:8]
    phone = f"+1555{int(run, 16) % 10**7:07d}"
    cid = closed_by_agent1(local_stack, supervisor, f"我要投诉，快递一直没到 {run}", phone)

    boss = new_page()
    console_login(boss, local_stack, "supervisor", "/quality/reviews")
    boss.get_by_test_id("queue-reason").select_option("complaint")
    item = boss.locator(f'[data-testid="queue-item"][data-id="{cid}"]')
    item.wait_for()
    assert item.locator('[data-reason="complaint"]').count() == 1
    item.get_by_test_id("queue-open").click()
    item.get_by_test_id("review-greeting").fill("2")
    item.get_by_test_id("review-comment").fill(f"先安抚客户再处理 {run}")
    item.get_by_test_id("review-submit").click()
    item.wait_for(state="detached")

    agent = new_page()
    console_login(agent, local_stack, "agent1", "/quality/mine")
    agent.get_by_test_id("lang-switch").select_option("zh-CN")
    summary = agent.get_by_test_id("quality-summary")
    summary.wait_for()
    assert int(summary.get_by_test_id("quality-conversations").inner_text()) >= 1
    assert summary.get_by_test_id("quality-averageScore").inner_text() != "—"
    mine = agent.locator(f'[data-testid="my-review"][data-id="{cid}"]')
    assert f"先安抚客户再处理 {run}" in mine.get_by_test_id("card-review-comment").inner_text()
    assert "/100" in mine.get_by_test_id("card-review").inner_text()
    mine.get_by_test_id("appeal-reason").fill("客户一开始没有提供订单号")
    mine.get_by_test_id("appeal-submit").click()
    mine.get_by_test_id("card-appeal").wait_for()
    assert mine.get_by_test_id("card-appeal-state").inner_text().startswith("等待主管裁定")
    assert mine.get_by_test_id("appeal-form").count() == 0  # once

    boss.get_by_test_id("queue-appealed").click()
    appealed = boss.locator(f'[data-testid="queue-item"][data-id="{cid}"]')
    appealed.get_by_test_id("queue-open").click()
    appealed.get_by_test_id("decision-select").select_option("overturned")
    appealed.get_by_test_id("decision-greeting").fill("4")
    appealed.get_by_test_id("decision-submit").click()
    appealed.wait_for(state="detached")

    agent.reload()
    decided = agent.locator(f'[data-testid="my-review"][data-id="{cid}"]').get_by_test_id("card-appeal")
    decided.wait_for()
    assert decided.get_attribute("data-decision") == "overturned"
    assert "已改判" in decided.inner_text()

    # the supervisor's scores per agent over the period count the conversation and its review
    boss.get_by_test_id("quality-tab-scores").click()
    row = boss.locator('[data-testid="scores-row"][data-id="agent1"]')
    row.wait_for()
    assert int(row.locator('[data-key="conversations"]').inner_text()) >= 1
    assert int(row.locator('[data-key="reviewed"]').inner_text()) >= 1
    boss.get_by_test_id("scores-by").select_option("group")
    boss.locator('[data-testid="scores-row"][data-id="presales"]').wait_for()
    boss.get_by_test_id("suggestion-acceptance").wait_for()
    acceptance = boss.get_by_test_id("suggestion-acceptance").get_by_test_id("acceptance-row")
    assert sorted(acceptance.evaluate_all("rows => rows.map((r) => r.dataset.kind)")) == ["article", "canned"]
    watch.assert_clean()


def test_an_admin_adds_a_phrase_rule_and_a_stale_save_is_refused_and_reloaded(
    local_stack: LocalStack, new_page: Callable[[], Any], watch: Watch
):
    admin = login(local_stack, "admin")
    before = admin.get("/admin/quality-rules").json()
    rule_id = f"ui-{uuid.uuid4().hex[:6]}"
    page = new_page()
    console_login(page, local_stack, "admin", "/quality/rules")
    page.get_by_test_id("quality-rules-json").wait_for()
    page.get_by_test_id("phrase-rule-id").fill(rule_id)
    page.get_by_test_id("phrase-rule-phrases").fill("包您满意, no refunds ever")
    page.get_by_test_id("phrase-rule-add").click()
    page.get_by_test_id("quality-rules-save").click()
    page.locator(f'[data-testid="quality-rule"][data-id="{rule_id}"]').wait_for()
    saved = admin.get("/admin/quality-rules").json()
    assert saved["version"] == before["version"] + 1
    assert next(r for r in saved["rules"] if r["rule_id"] == rule_id)["phrases"] == [
        "包您满意",
        "no refunds ever",
    ]

    # someone else saves meanwhile: this page's save is refused (409) and the page reloads the set
    kept = [r for r in saved["rules"] if r["rule_id"] != rule_id]
    moved = admin.session.put(
        f"{admin.base}/api/admin/quality-rules", json={"version": saved["version"], "rules": kept}, timeout=30
    )
    assert moved.status_code == 200, moved.text
    page.get_by_test_id("quality-rules-save").click()
    page.get_by_test_id("toast").filter(has_text="saved the rules meanwhile").wait_for()
    version = page.get_by_test_id("quality-rules-version")
    version.and_(page.locator(f'[data-version="{saved["version"] + 1}"]')).wait_for()
    assert page.locator(f'[data-testid="quality-rule"][data-id="{rule_id}"]').count() == 0
    assert admin.get("/admin/quality-rules").json()["version"] == saved["version"] + 1
    watch.assert_clean(allow_console=("409 PUT",))
