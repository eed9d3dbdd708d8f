"""The workspace's assist panel and the composer's quality check in Chromium against the local
stack, in English and Chinese: a customer asks by SMS about a refund with an order number, then
writes angrily; the agent sees the article suggested for those turns, inserts it personalised with
the order number (the use is recorded), finds it again by searching as they type, fills the order
number into the ticket form, sees the sentiment badges and the rising-anger warning (the supervisor
sees the conversation in the live view); a blocked phrase is highlighted while typing and refused on
send with its rule (nothing sent), a warned one is sent and, once the conversation is closed, shows
on its score card. Each test fails on a console error, CSP violation, unexpected failed request or
dialog (tests/browser/conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from infra.local import simulate
from tests.browser.conftest import Watch, console_login
from tests.browser.test_console_pages import new_page, sms_conversation
from tests.e2e.conftest import Api, LocalStack, login
from tests.e2e.test_local_stack import creds, poll

__all__ = ["new_page"]

RULES = [
    {"rule_id": "assist-promise", "kind": "phrase", "severity": "block", "phrases": ["guaranteed returns"]},
    {"rule_id": "assist-lowest", "kind": "phrase", "severity": "warn", "phrases": ["lowest price ever"]},
]


@pytest.fixture
def quality_rules(local_stack: LocalStack) -> Iterator[Api]:
    """Our two phrase rules added to the saved set for the test, the set restored after it."""
    admin = login(local_stack, "admin")
    before = admin.get("/admin/quality-rules").json()
    kept = [r for r in before["rules"] if r["rule_id"] not in {x["rule_id"] for x in RULES}]
    saved = admin.session.put(
        f"{admin.base}/api/admin/quality-rules",
        json={"version": before["version"], "rules": kept + RULES},
        timeout=30,
    )
    assert saved.status_code == 200, saved.text
    yield admin
    now = admin.get("/admin/quality-rules").json()
    admin.session.put(
        f"{admin.base}/api/admin/quality-rules", json={"version": now["version"], "rules": kept}, timeout=30
    )


def published_article(admin: Api, run: str) -> str:
    created = admin.post(
        "/kb/articles",
        {
            "title": f"Refund for an order that never arrived {run}",
            "body": "Dear {name}, we are sorry: order {order_id} will be refunded in full within 3 days.",
            "language": "en",
            "questions": [f"my order never arrived refund {run}"],
            "status": "published",
        },
    )
    assert created.status_code == 201, created.text
    article_id: str = created.json()["article_id"]
    return article_id


def test_the_assist_panel_suggests_inserts_fills_and_warns_and_the_quality_check_blocks(
    local_stack: LocalStack, supervisor: Api, quality_rules: Api, new_page: Callable[[], Any], watch: Watch
):
    run = uuid.uuid4().hex[:8]
    order = f"2026{int(run, 16) % 10**11:011d}"
    article_id = published_article(quality_rules, run)
    phone = f"+1555{int(run, 16) % 10**7:07d}"
    first = f"My order {order} never arrived, I want a refund {run}"
    conv = sms_conversation(local_stack, supervisor, first, phone)
    cid = conv["conversation_id"]

    page = new_page()
    console_login(page, local_stack, "supervisor", f"/c/{cid}")
    panel = page.get_by_test_id("assist-panel")
    # the article for the customer's turns, inserted personalised with the order number
    suggested = panel.locator(f'[data-testid="assist-suggestion"][data-id="{article_id}"]')
    suggested.wait_for()
    with page.expect_response(lambda r: r.url.endswith("/suggestions/used")) as recorded:
        suggested.get_by_test_id("assist-insert").click()
    assert recorded.value.status == 200 and recorded.value.json()["counted"] is True
    box = page.get_by_test_id("reply-box")
    poll("the article in the reply box", lambda: order in box.input_value() or None, timeout=10)
    assert "{order_id}" not in box.input_value() and "{name}" not in box.input_value()

    # the order number offered as a one-click fill: into the ticket form
    entity = panel.locator(f'[data-testid="assist-entity"][data-type="order_number"][data-value="{order}"]')
    entity.get_by_test_id("entity-ticket").click()
    assert order in page.get_by_test_id("ticket-subject").input_value()
    page.get_by_test_id("ticket-create").click()  # closes the form unsent
    # … into the customer's profile, and looked up among the customer's orders
    entity.get_by_test_id("entity-profile").click()
    page.get_by_test_id("toast").filter(has_text="saved to the customer's profile").wait_for()
    customer = supervisor.get(f"/customers/{conv['customer_id']}").json()
    assert customer["customer"]["attributes"]["order_number"] == order
    entity.get_by_test_id("entity-order").click()
    entity.get_by_test_id("entity-order-result").wait_for()

    # search as you type finds the same article
    panel.get_by_test_id("assist-search").fill(f"refund {run}")
    panel.get_by_test_id("assist-search-results").locator(f'[data-id="{article_id}"]').wait_for()
    panel.get_by_test_id("assist-search").fill("")

    # the customer gets angry: a negative badge, the rising-anger warning here and in the live view
    angry = f"THIS IS THE THIRD TIME I ASK!!! I will complain to 12315 and my lawyer {run}"
    sent = simulate.sms_request(local_stack.target, creds("sms"), sender=phone, text=angry).send()
    assert sent.status_code == 200, sent.text
    badge = page.get_by_test_id("message").filter(has_text=angry).get_by_test_id("sentiment-badge")
    badge.wait_for()
    assert badge.get_attribute("data-label") == "negative"
    page.get_by_test_id("anger-warning").wait_for()

    # the quality check while typing: the blocked phrase highlighted; the send refused with its rule
    box.fill(f"Good news, this fund has guaranteed returns {run}")
    hint = page.locator('[data-testid="quality-violation"][data-rule="assist-promise"]')
    hint.wait_for()
    assert hint.get_attribute("data-severity") == "block"
    assert hint.get_by_test_id("quality-span").inner_text() == "guaranteed returns"
    page.get_by_test_id("reply-send").click()
    blocked = page.get_by_test_id("quality-blocked")
    blocked.wait_for()
    assert "assist-promise" in blocked.inner_text()
    outgoing = page.locator('[data-testid="message"][data-direction="out"]')
    assert outgoing.count() == 0
    # a warned phrase: shown, and the reply goes out
    box.fill(f"Sorry for the wait, this is our lowest price ever {run}")
    page.locator(
        '[data-testid="quality-violation"][data-rule="assist-lowest"][data-severity="warn"]'
    ).wait_for()
    page.get_by_test_id("reply-send").click()
    outgoing.filter(has_text=f"lowest price ever {run}").wait_for()

    # in Chinese: the panel, the badge and the warning speak Chinese
    page.get_by_test_id("lang-switch").select_option("zh-CN")
    page.get_by_test_id("assist-panel").get_by_text("智能辅助").wait_for()
    zh_badge = page.get_by_test_id("message").filter(has_text=angry).get_by_test_id("sentiment-badge")
    assert zh_badge.inner_text().startswith("负面")
    assert "客户情绪正在升级" in page.get_by_test_id("anger-warning").inner_text()

    # the supervisor's live view lists the angry conversation
    page.get_by_test_id("nav-supervisor").click()
    page.locator(f'[data-testid="angry-conversation"][data-id="{cid}"]').wait_for()

    # closed, the conversation shows its score card: the warned reply cost points
    page.goto(f"{local_stack.url}/api/console#/c/{cid}")
    page.get_by_test_id("close-button").click()
    chip = page.get_by_test_id("scorecard-chip")
    chip.wait_for()
    assert "assist-lowest ×1" in chip.inner_text() and int(chip.get_attribute("data-score") or 100) <= 90
    watch.assert_clean(allow_console=("422 POST",))
