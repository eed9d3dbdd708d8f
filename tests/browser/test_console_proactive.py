"""The proactive page in Chromium against the local stack: an admin writes a rule for
order.shipped in the rule set's JSON, saves it (the version moves), test-sends the event to a
customer known from an SMS and sees it sent on SMS with a link to the conversation, looks the event
up by id in Chinese; a supervisor reads the rules without the editor. Fails
on a console error, CSP violation, unexpected failed request or dialog (tests/browser/conftest.py)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

from tests.browser.conftest import Watch, console_login
from tests.browser.test_console_pages import new_page, sms_conversation
from tests.e2e.conftest import Api, LocalStack

__all__ = ["new_page"]


def test_an_admin_saves_a_rule_and_test_sends_an_event_that_goes_out_on_sms(
    local_stack: LocalStack, supervisor: Api, new_page: Callable[[], Any], watch: Watch
):
    run = uuid.uuid4().hex[:8]
    phone = f"+1555{int(run, 16) % 10**7:07d}"
    cid = sms_conversation(local_stack, supervisor, f"when will it ship {run}", phone)["conversation_id"]

    admin = new_page()
    console_login(admin, local_stack, "admin", "/proactive")
    version = admin.get_by_test_id("proactive-rules-version")
    version.wait_for()
    before = int(version.get_attribute("data-version") or "0")
    rules = {
        "rules": [
            {
                "rule_id": f"shipped-{run}",
                "event": "order.shipped",
                "template": {"en": "Order {order_id} shipped"},
            }
        ],
        "limits": {"quiet_hours": None, "daily_cap": 5},
    }
    admin.get_by_test_id("proactive-rules-json").fill(json.dumps(rules))
    admin.get_by_test_id("proactive-rules-save").click()
    admin.locator(f'[data-testid="proactive-rules-version"][data-version="{before + 1}"]').wait_for()
    admin.locator(f'[data-testid="proactive-rule"][data-id="shipped-{run}"]').wait_for()

    admin.get_by_test_id("proactive-test-customer").fill(phone)
    admin.get_by_test_id("proactive-test-data").fill(json.dumps({"order_id": f"A-{run}"}))
    admin.get_by_test_id("proactive-test-send").click()
    outcome = admin.locator('[data-testid="proactive-outcome"][data-status="sent"]')
    outcome.wait_for()
    assert outcome.get_by_test_id("proactive-outcome-channel").inner_text() == "sms"
    assert outcome.get_by_test_id("proactive-outcome-conversation").inner_text() == cid
    notices = [
        m for m in supervisor.get(f"/conversations/{cid}").json()["messages"] if m["direction"] == "out"
    ]
    assert [m["text"] for m in notices] == [f"Order A-{run} shipped"]

    event_id = outcome.get_by_test_id("proactive-outcome-id").inner_text()

    admin.get_by_test_id("lang-switch").select_option("zh-CN")
    admin.get_by_text("主动通知").first.wait_for()
    admin.get_by_test_id("proactive-lookup-id").fill(event_id)
    admin.get_by_test_id("proactive-lookup").click()
    assert admin.get_by_test_id("proactive-outcome-status").inner_text() == "已发送"

    boss = new_page()
    console_login(boss, local_stack, "supervisor", "/proactive")
    boss.locator(f'[data-testid="proactive-rule"][data-id="shipped-{run}"]').wait_for()
    assert boss.get_by_test_id("proactive-rules-json").count() == 0
    assert boss.get_by_test_id("proactive-test").count() == 0
