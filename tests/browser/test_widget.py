"""The website chat widget on the demo shop page, in Chromium, against the local stack.

The desk's business hours are the demo calendar's (Asia/Shanghai): so that these tests do not
depend on the time of day, the widget's status call is answered by the test (open or closed);
the status endpoint itself is tested in tests/integration/test_web_status.py."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

import requests

from tests.browser.conftest import Watch, console_login, shop_url
from tests.e2e.conftest import Api, LocalStack
from tests.e2e.test_local_stack import queued_conversation

REPLY_BUDGET_S = 2.0


def desk(page: Any, *, open_: bool) -> None:
    """Answer the widget's business-hours question ourselves."""
    body = (
        {"open": True, "next_open": None}
        if open_
        else {"open": False, "next_open": "2030-01-07T01:00:00+00:00"}
    )
    page.route(
        "**/webhooks/web/status",
        lambda route: route.fulfill(status=200, content_type="application/json", body=json.dumps(body)),
    )


def widget(page: Any) -> Any:
    return page.locator("#omniflow-widget")


def open_widget(page: Any) -> None:
    page.get_by_test_id("widget-bubble").click()
    page.get_by_test_id("widget-panel").wait_for(state="visible")


def messages(page: Any, direction: str | None = None) -> Any:
    selector = '[data-testid="widget-message"]' + (f'[data-direction="{direction}"]' if direction else "")
    return widget(page).locator(selector)


def wait_reply_visible(page: Any, text: str, budget_s: float) -> float:
    """Seconds until an agent reply with ``text`` shows in the widget (fails past ``budget_s`` + slack)."""
    started = time.monotonic()
    messages(page, "out").filter(has_text=text).wait_for(timeout=(budget_s + 8) * 1000)
    return time.monotonic() - started


def test_a_visitor_chats_through_the_widget_and_sees_the_reply_within_two_seconds(
    local_stack: LocalStack, supervisor: Api, page: Any, watch: Watch
):
    run = uuid.uuid4().hex[:8]
    desk(page, open_=True)
    page.goto(shop_url(local_stack, "en"))
    bubble = page.get_by_test_id("widget-bubble")
    bubble.wait_for()
    assert page.get_by_test_id("widget-panel").is_hidden()

    open_widget(page)
    page.get_by_test_id("widget-prechat-name").fill("Wang Fang")
    page.get_by_test_id("widget-prechat-email").fill(f"wang.{run}@example.com")
    page.get_by_test_id("widget-prechat-start").click()
    text = f"Is the serum fragrance-free? {run}"
    page.get_by_test_id("widget-input").fill(text)
    page.get_by_test_id("widget-input").press("Enter")
    mine = messages(page, "in").filter(has_text=text)
    mine.wait_for()
    # the pending bubble becomes the stored message once the thread poll returns it
    page.wait_for_function(
        """(text) => [...document.querySelector('#omniflow-widget').shadowRoot
              .querySelectorAll('[data-testid="widget-message"]')]
              .some(m => m.textContent.includes(text) && !m.classList.contains('pending'))""",
        arg=text,
    )

    cid = queued_conversation(supervisor, text)["conversation_id"]
    view = supervisor.get(f"/conversations/{cid}").json()
    assert "Wang Fang" in json.dumps(view["customer"], ensure_ascii=False)  # the pre-chat name

    reply = f"Yes, no fragrance at all. {run}"
    answered = supervisor.post(f"/conversations/{cid}/reply", {"text": reply})
    assert answered.status_code == 202, answered.text
    latency = wait_reply_visible(page, reply, REPLY_BUDGET_S)
    print(f"\n[widget] agent reply visible in the widget {latency * 1000:.0f} ms after the API accepted it")
    assert latency < REPLY_BUDGET_S, f"reply took {latency:.2f}s to appear"

    # history survives a page load: token and last-seen in localStorage, thread fetched again
    page.reload()
    bubble.wait_for()
    open_widget(page)
    messages(page, "out").filter(has_text=reply).wait_for()
    assert [m.strip() for m in messages(page).locator(".text").all_inner_texts()] == [text, reply]
    assert page.get_by_test_id("widget-prechat-start").is_hidden()
    watch.assert_clean()


def test_a_reply_while_the_panel_is_closed_shows_as_an_unread_badge(
    local_stack: LocalStack, supervisor: Api, page: Any, watch: Watch
):
    run = uuid.uuid4().hex[:8]
    desk(page, open_=True)
    page.goto(shop_url(local_stack, "en"))
    open_widget(page)
    page.get_by_test_id("widget-prechat-start").click()  # every pre-chat field is optional
    text = f"Do you ship to Hangzhou? {run}"
    page.get_by_test_id("widget-input").fill(text)
    page.get_by_test_id("widget-send").click()
    cid = queued_conversation(supervisor, text)["conversation_id"]
    page.keyboard.press("Escape")
    page.get_by_test_id("widget-panel").wait_for(state="hidden")
    assert supervisor.post(f"/conversations/{cid}/reply", {"text": f"Yes, 2 days. {run}"}).status_code == 202
    badge = widget(page).locator(".badge")
    badge.wait_for(state="visible", timeout=12_000)  # polled every 5 s while closed
    assert badge.inner_text() == "1"
    open_widget(page)
    assert badge.is_hidden()
    watch.assert_clean()


def test_outside_business_hours_the_widget_offers_the_offline_form(
    local_stack: LocalStack, supervisor: Api, page: Any, watch: Watch
):
    run = uuid.uuid4().hex[:8]
    desk(page, open_=False)
    page.goto(shop_url(local_stack, "zh-CN"))
    open_widget(page)
    form = page.get_by_test_id("widget-offline-form")
    form.wait_for(state="visible")
    assert page.get_by_test_id("widget-prechat-start").is_hidden()
    assert "客服暂时不在线" in form.inner_text()
    page.get_by_test_id("widget-offline-name").fill("李娜")
    page.get_by_test_id("widget-offline-phone").fill("+86 138 0013 8000")
    form.locator("textarea").fill(f"晚上好，想问一下退货地址 {run}")
    form.locator('button[type="submit"]').click()
    widget(page).get_by_role("status").wait_for(state="visible")
    conversation = queued_conversation(supervisor, f"晚上好，想问一下退货地址 {run}")
    view = supervisor.get(f"/conversations/{conversation['conversation_id']}").json()
    assert "李娜" in json.dumps(view["customer"], ensure_ascii=False)
    watch.assert_clean()


def test_after_hours_an_agents_answer_ends_the_offline_notice_and_the_console_shows_the_left_email(
    local_stack: LocalStack, supervisor: Api, page: Any, context: Any, watch: Watch
):
    run = uuid.uuid4().hex[:8]
    email = f"lina.{run}@example.com"
    desk(page, open_=False)
    page.goto(shop_url(local_stack, "en"))
    open_widget(page)
    form = page.get_by_test_id("widget-offline-form")
    form.wait_for(state="visible")
    page.get_by_test_id("widget-offline-name").fill("Li Na")
    page.get_by_test_id("widget-offline-email").fill(email)
    text = f"Evening, where do I send a return? {run}"
    form.locator("textarea").fill(text)
    form.locator('button[type="submit"]').click()
    banner = page.get_by_test_id("widget-offline-banner")
    banner.wait_for(state="visible")
    cid = queued_conversation(supervisor, text)["conversation_id"]
    view = supervisor.get(f"/conversations/{cid}").json()
    assert view["customer"]["unverified_hints"]["email"] == email  # stored, unverified
    # an agent answers (desk hours or not): the widget stops saying "we're offline"
    assert supervisor.post(f"/conversations/{cid}/reply", {"text": f"Hi Li Na {run}"}).status_code == 202
    messages(page, "out").filter(has_text=f"Hi Li Na {run}").wait_for()
    banner.wait_for(state="hidden")
    # the console shows the e-mail she left (marked as typed in a form)
    agent = context.new_page()
    console_login(agent, local_stack, "supervisor", f"/c/{cid}")
    typed = agent.get_by_test_id("customer-panel").get_by_test_id("customer-typed-email")
    typed.wait_for()
    assert email in typed.inner_text()
    assert agent.get_by_test_id("conversation-title").inner_text().strip() == "Li Na"
    watch.assert_clean()


def test_the_widget_renders_customer_and_agent_text_as_text(
    local_stack: LocalStack, supervisor: Api, page: Any, watch: Watch
):
    run = uuid.uuid4().hex[:8]
    desk(page, open_=True)
    page.goto(shop_url(local_stack, "en"))
    open_widget(page)
    page.get_by_test_id("widget-prechat-start").click()
    payload = f"<img src=x onerror=alert(1)> {run}"
    page.get_by_test_id("widget-input").fill(payload)
    page.get_by_test_id("widget-send").click()
    cid = queued_conversation(supervisor, payload)["conversation_id"]
    script = f"<script>alert(1)</script> {run}"
    assert supervisor.post(f"/conversations/{cid}/reply", {"text": script}).status_code == 202
    messages(page, "out").filter(has_text=script).wait_for()
    root = widget(page)
    assert root.locator("img").count() == 0 and root.locator("script").count() == 0
    assert [m.strip() for m in messages(page).locator(".text").all_inner_texts()] == [payload, script]
    watch.assert_clean()


def test_on_a_phone_the_panel_takes_the_whole_screen(local_stack: LocalStack, browser: Any):
    ctx = browser.new_context(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    try:
        page = ctx.new_page()
        desk(page, open_=True)
        page.goto(shop_url(local_stack))
        page.get_by_test_id("widget-bubble").tap()
        panel = page.get_by_test_id("widget-panel")
        panel.wait_for(state="visible")
        box = panel.bounding_box()
        assert box is not None
        assert (box["x"], box["y"], box["width"], box["height"]) == (0, 0, 390, 844)
        assert page.get_by_test_id("widget-bubble").is_hidden()  # the panel's close button closes it
        assert "开始聊天" in page.get_by_test_id("widget-prechat-start").inner_text()  # data-lang="zh-CN"
    finally:
        ctx.close()


def test_the_host_page_css_cannot_restyle_the_widget_and_the_widget_script_is_public(
    local_stack: LocalStack, page: Any
):
    script = requests.get(f"{local_stack.url}/api/widget.js", timeout=10)
    assert script.status_code == 200 and "javascript" in script.headers["Content-Type"]
    css = requests.get(f"{local_stack.url}/api/console/static/widget.css", timeout=10)
    assert css.status_code == 200 and css.headers["Content-Type"].startswith("text/css")
    desk(page, open_=True)
    page.goto(shop_url(local_stack))
    bubble = page.get_by_test_id("widget-bubble")
    bubble.wait_for()
    # the shop's CSS squares every button (border-radius: 0 !important); the bubble stays round
    assert bubble.evaluate("b => getComputedStyle(b).borderRadius") == "50%"
