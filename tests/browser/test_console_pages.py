"""Every page of the console in Chromium against the local stack, as the roles use them: the agent's
keyboard path through inbox and conversation (j/k, Enter, r, "/", Ctrl+Enter), a ticket created
from a conversation showing at once in the customer panel as "#<number>", the ticket page without
any admin call, the customer 360 with a readable tracking line, the admin page's forms showing the
API's field errors and its in-page confirmation, and its channel cards not overflowing. Each test
fails on a console error, CSP violation, failed request or dialog (tests/browser/conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from chalicelib.observability import mask_phone
from infra.local import simulate
from tests.browser.conftest import CSP_LISTENER, DEFAULT_TIMEOUT_MS, DESKTOP, Watch, console_login
from tests.e2e.conftest import Api, LocalStack
from tests.e2e.test_local_stack import poll


@pytest.fixture
def new_page(browser: Any, watch: Watch) -> Iterator[Callable[[], Any]]:
    contexts: list[Any] = []

    def make() -> Any:
        ctx = browser.new_context(viewport=DESKTOP, locale="en-US", timezone_id="Asia/Shanghai")
        contexts.append(ctx)
        ctx.set_default_timeout(DEFAULT_TIMEOUT_MS)
        ctx.add_init_script(CSP_LISTENER)
        return watch.attach(ctx.new_page())

    yield make
    for ctx in contexts:
        ctx.close()


def sms_conversation(stack: LocalStack, supervisor: Api, text: str, sender: str) -> dict[str, Any]:
    sent = simulate.sms_request(stack.target, simulate.credentials("sms"), sender=sender, text=text).send()
    assert sent.status_code == 200, sent.text

    def probe() -> dict[str, Any] | None:
        body = supervisor.get("/conversations", params={"view": "all", "limit": 100}).json()
        return next((c for c in body["items"] if c.get("preview") == text), None)

    found: dict[str, Any] = poll(f"the conversation showing {text!r}", probe)
    return found


def test_an_agent_works_a_conversation_by_keyboard_creates_a_ticket_and_opens_it(
    local_stack: LocalStack, supervisor: Api, new_page: Callable[[], Any], watch: Watch
):
    run = uuid.uuid4().hex[:8]
    phone = f"+1555{int(run, 16) % 10**7:07d}"
    conv = sms_conversation(local_stack, supervisor, f"Hello, is the serum in stock? {run}", phone)
    cid = conv["conversation_id"]
    moved = supervisor.post(f"/conversations/{cid}/transfer", {"to_group": "presales", "note": "yours"})
    assert moved.status_code == 200, moved.text

    page = new_page()
    admin_calls: list[str] = []
    page.on("request", lambda r: admin_calls.append(r.url) if "/api/admin/agents" in r.url else None)
    console_login(page, local_stack, "agent1", "/inbox")
    page.get_by_test_id("inbox-view-queue").click()
    items = page.get_by_test_id("inbox-item")
    items.first.wait_for()
    # j / k move the selection, Enter opens it
    page.locator("body").click(position={"x": 5, "y": 400})
    if items.count() > 1:
        page.keyboard.press("j")
        assert items.nth(1).get_attribute("aria-selected") == "true"
        page.keyboard.press("k")
    assert items.first.get_attribute("aria-selected") == "true"
    page.keyboard.press("Enter")
    page.get_by_test_id("conversation-view").wait_for()

    page.goto(f"{local_stack.url}/api/console#/c/{cid}")
    view = page.locator(f'[data-testid="conversation-view"][data-id="{cid}"]')
    view.wait_for()
    # the customer without a name is shown by the best contact, not a cus_… id — masked for an agent
    title = page.get_by_test_id("conversation-title")
    assert mask_phone(phone) in title.inner_text() and "cus_" not in title.inner_text()
    claim = page.get_by_test_id("claim-button")
    claim.click()
    claim.wait_for(state="hidden")
    # r focuses the reply box; "/" opens the canned replies; Escape closes them
    page.locator("body").click(position={"x": 5, "y": 400})
    page.keyboard.press("r")
    box = page.get_by_test_id("reply-box")
    assert box.evaluate("el => el === document.activeElement")
    box.type("/")
    page.get_by_test_id("canned-menu").wait_for()
    box.press("Escape")
    page.get_by_test_id("canned-menu").wait_for(state="hidden")
    box.fill(f"Yes, it is in stock. {run}")
    box.press("Control+Enter")
    page.get_by_test_id("timeline").get_by_test_id("message").filter(
        has_text=f"Yes, it is in stock. {run}"
    ).wait_for()

    # a ticket: shown at once in the customer panel, as #<number> everywhere
    panel = page.get_by_test_id("customer-panel")
    panel.get_by_test_id("customer-tickets-none").wait_for()
    page.get_by_test_id("ticket-create").click()
    page.get_by_test_id("ticket-subject").fill(f"Stock question {run}")
    page.get_by_test_id("ticket-create-submit").click()
    link = page.get_by_test_id("ticket-link").first
    link.wait_for()
    number = link.inner_text().strip()
    assert number.startswith("#") and "tkt_" not in number
    in_panel = panel.get_by_test_id("customer-ticket").filter(has_text=f"Stock question {run}")
    in_panel.wait_for(timeout=5_000)
    assert number in in_panel.inner_text()
    toast = page.get_by_test_id("toast").filter(has_text=number)
    assert toast.count() >= 1 and "tkt_" not in toast.first.inner_text()

    # the ticket page: "#<number>", the agent's own ticket, and no call to an admin-only route
    link.click()
    page.get_by_test_id("ticket-view").locator("h1").wait_for()
    assert page.get_by_test_id("ticket-view").locator("h1").inner_text().startswith(number)
    page.get_by_test_id("priority-select").select_option("high")
    page.get_by_test_id("toast").filter(has_text="Ticket updated").first.wait_for()
    page.get_by_test_id("nav-tickets").click()
    page.get_by_test_id("tickets-list").wait_for()
    assert admin_calls == []
    watch.assert_clean()


def test_the_customer_360_shows_orders_as_readable_lines_and_identities_once(
    local_stack: LocalStack, supervisor: Api, new_page: Callable[[], Any], watch: Watch
):
    run = uuid.uuid4().hex[:8]
    conv = sms_conversation(local_stack, supervisor, f"Where is my order? {run}", "+8613800138000")
    page = new_page()
    console_login(page, local_stack, "supervisor", f"/customers/{conv['customer_id']}")
    orders = page.get_by_test_id("customer-orders")
    orders.wait_for()
    page.wait_for_load_state("networkidle")
    tracking = page.get_by_test_id("order-tracking")
    tracking.first.wait_for()  # this demo customer's parcel is on its way (infra/local/orders_demo.py)
    for line in tracking.all_inner_texts():
        assert "{" not in line and '"' not in line, line  # not raw JSON
        # carrier · number · status, e.g. "SF Express 顺丰速运 · SF0123… · In transit"
        assert " · " in line and ("In transit" in line or "Delivered" in line), line
    identities = page.get_by_test_id("customer-identities").locator("li").all_inner_texts()
    addresses = [" ".join(text.split()[-1:]) for text in identities]
    assert len(addresses) == len(set(addresses)), identities
    assert "cus_" not in page.get_by_test_id("customer-name").inner_text()
    watch.assert_clean()


def test_admin_forms_show_the_apis_field_errors_confirm_in_page_and_cards_do_not_overflow(
    local_stack: LocalStack, new_page: Callable[[], Any], watch: Watch
):
    run = uuid.uuid4().hex[:6]
    page = new_page()
    console_login(page, local_stack, "admin", "/admin")
    for testid in ("admin-groups", "admin-agents", "admin-rules", "admin-canned", "admin-channels"):
        page.get_by_test_id(testid).wait_for()
    # channel cards (WhatsApp, Messenger …) keep their content inside
    page.wait_for_load_state("networkidle")
    overflowing = page.evaluate(
        """() => [...document.querySelectorAll('[data-testid="admin-channels"] .card')]
              .filter((c) => c.scrollWidth > c.clientWidth + 1).map((c) => c.dataset.channel)"""
    )
    assert overflowing == []
    # a 400 with field errors: shown next to the field, nothing saved
    canned = page.get_by_test_id("admin-canned")
    canned.get_by_test_id("canned-title").fill(f"Greeting {run}")
    canned.get_by_test_id("canned-body").fill("Hello!")
    canned.get_by_test_id("canned-shortcut").fill("no slash")
    canned.get_by_test_id("canned-save").click()
    error = canned.get_by_test_id("field-error").first
    error.wait_for()
    assert error.inner_text().strip()
    assert canned.locator("li").filter(has_text=f"Greeting {run}").count() == 0
    # fixed: saved; removing asks in the page (cancel keeps it, confirm removes it)
    canned.get_by_test_id("canned-shortcut").fill(f"/hi{run}")
    canned.get_by_test_id("canned-save").click()
    item = canned.locator("li").filter(has_text=f"Greeting {run}")
    item.wait_for()
    item.get_by_role("button").click()
    page.get_by_test_id("confirm-dialog").wait_for()
    page.get_by_test_id("confirm-cancel").click()
    page.get_by_test_id("confirm-dialog").wait_for(state="hidden")
    assert item.count() == 1
    item.get_by_role("button").click()
    page.get_by_test_id("confirm-ok").click()
    item.wait_for(state="detached")
    # the supervisor page renders for the admin too
    page.get_by_test_id("nav-supervisor").click()
    page.get_by_test_id("supervisor-queues").locator("table, p").first.wait_for()
    # the one refused request is the bad canned reply above (its 400 carried the field errors)
    watch.assert_clean(allow_console=(f"400 POST {local_stack.url}/api/canned-replies",))
