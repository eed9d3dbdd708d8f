"""The newcomer's path (issue 13's "done means"), in Chromium on a fresh stack holding the whole demo
(``make dev``): log in → the inbox holds demo conversations from several channels → open one → the
customer has a name, three channels and a readable tracking line → reply → create a ticket → it
shows at once in the customer panel. Fails on any console error, CSP violation, failed request or
dialog."""

from __future__ import annotations

import uuid
from typing import Any

from tests.browser.conftest import Watch, console_login
from tests.e2e.conftest import LocalStack

CHEN_JING = "陈静"  # infra/local/demo/people.py: SMS, the app and e-mail; a parcel in transit


def test_a_newcomer_logs_in_meets_the_demo_and_works_a_conversation_to_a_ticket(
    demo_stack: LocalStack,
    page: Any,
    watch: Watch,
):
    run = uuid.uuid4().hex[:6]
    console_login(page, demo_stack, "supervisor", "/inbox")
    page.get_by_test_id("inbox-view-all").click()
    items = page.get_by_test_id("inbox-item")
    items.nth(9).wait_for()  # the demo's open conversations, not an empty inbox
    channels = set(
        page.get_by_test_id("inbox-item-channel").evaluate_all("els => els.map((e) => e.dataset.channel)")
    )
    assert len(channels) >= 4, channels
    names = items.locator(".inbox-name").all_inner_texts()
    assert not any(n.strip().startswith("cus_") for n in names), names

    # Chen Jing's conversation (her e-mail about the parcel): open it from the list
    chen = items.filter(has_text=CHEN_JING)
    more = page.get_by_test_id("inbox-load-more")
    while not chen.count() and more.is_visible():
        more.click()
        page.wait_for_timeout(200)
    chen.first.click()
    view = page.get_by_test_id("conversation-view")
    view.wait_for()
    assert page.get_by_test_id("conversation-title").inner_text().strip() == CHEN_JING

    panel = page.get_by_test_id("customer-panel")
    panel.get_by_test_id("customer-identities").wait_for()
    known_on = set(
        panel.get_by_test_id("customer-identities")
        .locator('li[data-kind="channel"] [role="img"]')
        .evaluate_all("els => els.map((e) => e.getAttribute('aria-label'))")
    )
    assert len(known_on) >= 3, known_on
    tracking = panel.get_by_test_id("order-tracking").first
    tracking.wait_for()
    line = tracking.inner_text()
    assert " · " in line and "{" not in line and "In transit" in line, line

    # reply (a supervisor may answer in an agent's conversation), then a ticket that shows at
    # once in the panel
    reply = f"明天可以放驿站，我们已备注。Noted: parcel locker tomorrow. {run}"
    page.get_by_test_id("reply-box").fill(reply)
    page.get_by_test_id("reply-send").click()
    page.get_by_test_id("timeline").get_by_test_id("message").filter(has_text=reply).wait_for()
    page.get_by_test_id("ticket-create").click()
    subject = f"Parcel locker delivery {run}"
    page.get_by_test_id("ticket-subject").fill(subject)
    page.get_by_test_id("ticket-create-submit").click()
    link = page.get_by_test_id("ticket-link").filter(has_text="#").first
    link.wait_for()
    created = panel.get_by_test_id("customer-ticket").filter(has_text=subject)
    created.wait_for(timeout=5_000)
    assert created.inner_text().startswith("#") and "tkt_" not in created.inner_text()
    watch.assert_clean()
