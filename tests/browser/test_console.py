"""The agent console and the widget together, in Chromium, against the local stack (issue 6's
"done means"): the cross-channel story, inert XSS payloads, both languages, the inbox with 500
conversations (time to interactive, scroll frame times) and the screenshots."""

from __future__ import annotations

import statistics
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from infra.local import simulate
from tests.browser.conftest import CSP_LISTENER, DEFAULT_TIMEOUT_MS, DESKTOP, Watch, console_login, shop_url
from tests.browser.test_widget import desk, open_widget
from tests.browser.test_widget import messages as widget_messages
from tests.e2e.conftest import Api, LocalStack
from tests.e2e.test_local_stack import poll, queued_conversation

# The widget polls every second: this bound catches a broken poll, not a slow one (the figure is
# printed; 0.9 s on a quiet machine, 2.4 s with four test workers on two cores).
REPLY_BUDGET_S = 6.0
SEEDED = 500
TTI_BOUND_MS = 5_000
# Headless Chromium without a GPU on a shared 2-core machine: a frame is 16.7 ms when smooth; the
# bounds leave room for a busy machine while still failing a list that re-renders on scroll.
FRAME_MEDIAN_BOUND_MS = 34.0
FRAME_P95_BOUND_MS = 120.0


@pytest.fixture
def agent_page(browser: Any, watch: Watch) -> Iterator[Callable[..., Any]]:
    """A factory of agent pages, each in its own browser context (closed after the test, so no
    console keeps polling the stack for the next test)."""
    contexts: list[Any] = []

    def make(*, locale: str = "en-US", viewport: dict[str, int] | None = None) -> Any:
        ctx = browser.new_context(viewport=viewport or DESKTOP, locale=locale, timezone_id="Asia/Shanghai")
        contexts.append(ctx)
        ctx.set_default_timeout(DEFAULT_TIMEOUT_MS)
        ctx.add_init_script(CSP_LISTENER)
        return watch.attach(ctx.new_page())

    yield make
    for ctx in contexts:
        ctx.close()


def widget_says(page: Any, text: str) -> None:
    page.get_by_test_id("widget-input").fill(text)
    page.get_by_test_id("widget-send").click()


def timeline_messages(page: Any) -> Any:
    return page.get_by_test_id("timeline").get_by_test_id("message")


def test_one_customer_on_the_widget_and_wechat_one_timeline_reply_ticket_transfer(
    local_stack: LocalStack, supervisor: Api, agent_page: Callable[..., Any], page: Any, watch: Watch
):
    run = uuid.uuid4().hex[:8]
    # 1. the customer on the shop's website (desk open), then on WeChat
    desk(page, open_=True)
    page.goto(shop_url(local_stack, "zh-CN"))
    open_widget(page)
    page.get_by_test_id("widget-prechat-name").fill("陈静")
    page.get_by_test_id("widget-prechat-start").click()
    web_text = f"我的快递还没到，能帮我查一下物流吗？ {run}"
    widget_says(page, web_text)
    wechat_text = f"微信上再问一下：快递到哪了？ {run}"
    sent = simulate.wechat_request(
        local_stack.target, simulate.credentials("wechat"), user=f"o_browser_{run}", text=wechat_text
    ).send()
    assert sent.status_code == 200, sent.text

    web_conv = queued_conversation(supervisor, web_text)
    wechat_conv = queued_conversation(supervisor, wechat_text)
    assert web_conv["customer_id"] != wechat_conv["customer_id"]
    # 2. an agent-confirmed merge (WeChat carries no verified phone or e-mail to link by)
    merged = supervisor.post(
        f"/customers/{web_conv['customer_id']}/merge", {"source_customer_id": wechat_conv["customer_id"]}
    )
    assert merged.status_code == 200, merged.text

    # 3. agent2 (logistics) logs in and opens the conversation: both channels in one timeline
    agent = agent_page()
    console_login(agent, local_stack, "agent2", f"/c/{web_conv['conversation_id']}")
    agent.get_by_test_id("conversation-view").wait_for()
    timeline = timeline_messages(agent)
    timeline.filter(has_text=web_text).wait_for()
    timeline.filter(has_text=wechat_text).wait_for()
    assert timeline.filter(has_text=web_text).first.get_attribute("data-channel") == "web"
    assert timeline.filter(has_text=wechat_text).first.get_attribute("data-channel") == "wechat"
    assert timeline.filter(has_text=web_text).first.get_attribute("data-direction") == "in"

    # 4. the agent replies on the web channel; the widget shows it within 2 s
    claim = agent.get_by_test_id("claim-button")
    if claim.is_visible():
        claim.click()
        claim.wait_for(state="hidden")
    channel = agent.get_by_test_id("reply-channel")
    if channel.is_visible() and channel.locator('option[value="web"]').count():
        channel.select_option("web")
    reply = f"您好，包裹已到杭州转运中心，明天送达。 {run}"
    agent.get_by_test_id("reply-box").fill(reply)
    started = time.monotonic()
    agent.get_by_test_id("reply-send").click()
    widget_messages(page, "out").filter(has_text=reply).wait_for(timeout=10_000)
    latency = time.monotonic() - started
    print(f"\n[story] console reply → visible in the widget: {latency * 1000:.0f} ms")
    assert latency < REPLY_BUDGET_S, f"the widget showed the reply after {latency:.2f}s"
    timeline.filter(has_text=reply).wait_for()

    # 5. a ticket linked to the conversation
    agent.get_by_test_id("ticket-create").click()
    agent.get_by_test_id("ticket-subject").fill(f"Parcel delayed {run}")
    agent.get_by_test_id("ticket-create-submit").click()
    agent.get_by_test_id("ticket-link").first.wait_for()
    cid = web_conv["conversation_id"]
    poll(
        "the ticket linked",
        lambda: supervisor.get(f"/conversations/{cid}").json()["conversation"].get("ticket_ids"),
    )

    # 6. a transfer to after-sales with a note
    agent.get_by_test_id("transfer-button").click()
    agent.get_by_test_id("transfer-group").select_option("aftersales")
    agent.get_by_test_id("transfer-note").fill("customer also wants to return one item")
    agent.get_by_test_id("transfer-submit").click()
    poll(
        "the conversation in after-sales",
        lambda: supervisor.get(f"/conversations/{cid}").json()["conversation"]["group_id"] == "aftersales",
    )
    watch.assert_clean()


def test_xss_payloads_stay_text_in_the_console_and_the_widget(
    local_stack: LocalStack, supervisor: Api, agent_page: Callable[..., Any], page: Any, watch: Watch
):
    run = uuid.uuid4().hex[:8]
    img = f"<img src=x onerror=alert(1)> {run}"
    script = f"<script>alert(1)</script> {run}"
    desk(page, open_=True)
    page.goto(shop_url(local_stack, "en"))
    open_widget(page)
    page.get_by_test_id("widget-prechat-name").fill(f"<b onmouseover=alert(1)>Mallory</b> {run}")
    page.get_by_test_id("widget-prechat-start").click()
    widget_says(page, img)
    widget_messages(page, "in").filter(has_text=img).wait_for()
    widget_says(page, script)
    cid = queued_conversation(supervisor, script)["conversation_id"]

    agent = agent_page()
    console_login(agent, local_stack, "supervisor", f"/c/{cid}")
    timeline = timeline_messages(agent)
    timeline.filter(has_text=img).wait_for()
    timeline.filter(has_text=script).wait_for()
    texts = agent.get_by_test_id("message-text").all_inner_texts()
    assert img in [t.strip() for t in texts] and script in [t.strip() for t in texts]
    view = agent.get_by_test_id("conversation-view")
    assert view.locator("img[src='x']").count() == 0
    assert view.locator("script").count() == 0
    assert agent.locator("b[onmouseover]").count() == 0
    # the agent echoes the payloads back: the widget shows them as text too
    agent.get_by_test_id("reply-box").fill(f"You wrote: {script}")
    agent.get_by_test_id("reply-send").click()
    widget_messages(page, "out").filter(has_text=f"You wrote: {script}").wait_for()
    assert page.locator("#omniflow-widget").locator("img, script").count() == 0
    agent.get_by_test_id("nav-inbox").click()
    agent.get_by_test_id("inbox-list").wait_for()
    assert agent.locator("img[src='x'], b[onmouseover]").count() == 0
    watch.assert_clean()


def test_the_console_renders_in_english_and_in_chinese(
    local_stack: LocalStack, agent_page: Callable[..., Any], watch: Watch
):
    agent = agent_page()
    agent.goto(f"{local_stack.url}/api/console")
    agent.get_by_test_id("login-submit").wait_for()
    switch = agent.get_by_test_id("lang-switch")

    def choose(lang: str) -> None:
        if switch.evaluate("el => el.tagName") == "SELECT":
            switch.select_option(lang)
        else:
            switch.click()

    if (
        "中文" not in agent.locator("html").inner_text()
        and agent.locator("html").get_attribute("lang") != "en"
    ):
        choose("en")
    from infra.local.demo import demo_password

    agent.get_by_test_id("login-username").fill("supervisor")
    agent.get_by_test_id("login-password").fill(demo_password())
    agent.get_by_test_id("login-submit").click()
    nav = agent.get_by_test_id("nav-inbox")
    nav.wait_for()
    if "Inbox" not in nav.inner_text():
        choose("en")
    agent.wait_for_function("document.querySelector('[data-testid=nav-inbox]').textContent.includes('Inbox')")
    assert "Tickets" in agent.get_by_test_id("nav-tickets").inner_text()
    assert "Supervisor" in agent.get_by_test_id("nav-supervisor").inner_text()
    choose("zh-CN")
    agent.wait_for_function(
        "document.querySelector('[data-testid=nav-inbox]').textContent.includes('收件箱')"
    )
    assert "工单" in agent.get_by_test_id("nav-tickets").inner_text()
    assert agent.locator("html").get_attribute("lang") == "zh-CN"
    assert "全部" in agent.get_by_test_id("inbox-view-all").inner_text()
    # the choice is remembered across a reload
    agent.reload()
    agent.get_by_test_id("nav-inbox").wait_for()
    assert "收件箱" in agent.get_by_test_id("nav-inbox").inner_text()
    choose("en")
    agent.wait_for_function("document.querySelector('[data-testid=nav-inbox]').textContent.includes('Inbox')")
    watch.assert_clean()


# ---- performance: 500 conversations ----------------------------------------------------------------
TTI_SCRIPT = """
window.__tti = new Promise((resolve) => {
  const want = 20;
  const check = () => {
    const n = document.querySelectorAll('[data-testid="inbox-item"]').length;
    if (n >= want) {
      const seen = performance.now();
      // responsive: the main thread runs a task right after the next frame
      requestAnimationFrame(() => setTimeout(() => resolve({seen, interactive: performance.now(), n}), 0));
      return;
    }
    requestAnimationFrame(check);
  };
  requestAnimationFrame(check);
});
"""

SCROLL_SCRIPT = """
async () => {
  const list = document.querySelector('[data-testid="inbox-list"]');
  let el = list;
  while (el && !(el.scrollHeight > el.clientHeight + 10 &&
                 ['auto', 'scroll'].includes(getComputedStyle(el).overflowY))) el = el.parentElement;
  const scroller = el || document.scrollingElement;
  const total = scroller.scrollHeight - scroller.clientHeight;
  const frames = [];
  let last = performance.now();
  const steps = 120;
  await new Promise((resolve) => {
    let i = 0;
    const step = (now) => {
      frames.push(now - last);
      last = now;
      i += 1;
      scroller.scrollTop = Math.round((total * i) / steps);
      if (i < steps) requestAnimationFrame(step); else resolve();
    };
    requestAnimationFrame(step);
  });
  return {frames: frames.slice(1), scrolled: scroller.scrollTop, total,
          items: document.querySelectorAll('[data-testid="inbox-item"]').length};
}
"""


def seed_conversations(stack: LocalStack, supervisor: Api, count: int) -> float:
    """``count`` waiting conversations, quickly: one customer writes an SMS through the webhook and
    the router (the real path), then its conversation and customer rows, as the router wrote them,
    are cloned ``count - 1`` times straight into the stack's tables (BatchWriteItem on moto).
    Through the webhook, 500 SMS took about 170 s on this 2-core machine; this takes a second or
    two. Returns the seconds spent."""
    import boto3

    started = time.monotonic()
    run = uuid.uuid4().hex[:6]
    text = f"Where is my parcel? #0 {run}"
    sent = simulate.sms_request(
        stack.target, simulate.credentials("sms"), sender=f"+1555{int(run, 16) % 10**7:07d}", text=text
    ).send()
    assert sent.status_code == 200, sent.text
    first = queued_conversation(supervisor, text)
    dynamodb = boto3.client(
        "dynamodb",
        endpoint_url=f"http://127.0.0.1:{stack.env['MOTO_PORT']}",
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    conversations, customers = "omniflow-local-conversations", "omniflow-local-customers"
    row = dynamodb.get_item(TableName=conversations, Key={"conversation_id": {"S": first["conversation_id"]}})
    person = dynamodb.get_item(TableName=customers, Key={"customer_id": {"S": first["customer_id"]}})
    template, who = row["Item"], person["Item"]
    template.pop("sla_execution_arn", None)  # no SLA execution behind the clones
    level = template.get("queue_rank", {}).get("S", "5#1#").split("#")[0]
    names = ["王芳", "Li Na", "张伟", "Alice Chen", "刘洋", "Mohammed", "陈静", "Sato Yuki", "赵磊", "Emma"]
    channels = ["sms", "wechat", "web", "email", "whatsapp", "line", "telegram", "wecom"]
    base = datetime.now(UTC) - timedelta(hours=6)
    puts: dict[str, list[dict[str, Any]]] = {conversations: [], customers: []}
    for i in range(1, count):
        at = (base + timedelta(seconds=40 * i)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        cid, cust = f"cnv_perf{run}{i:05d}", f"cus_perf{run}{i:05d}"
        channel = channels[i % len(channels)]
        item = {
            **template,
            "conversation_id": {"S": cid},
            "customer_id": {"S": cust},
            "preview": {"S": f"Where is my parcel? #{i} {run}"},
            "created_at": {"S": at},
            "last_message_at": {"S": at},
            "last_inbound_at": {"S": at},
            "queued_at": {"S": at},
            "queue_rank": {"S": f"{level}#1#{at}"},
            "last_channel": {"S": channel},
            "channels": {"SS": [channel]},
        }
        puts[conversations].append(item)
        puts[customers].append(
            {
                **who,
                "customer_id": {"S": cust},
                "display_name": {"S": f"{names[i % len(names)]} {i}"},
                "open_conversation_id": {"S": cid},
                "created_at": {"S": at},
            }
        )
    for table, items in puts.items():
        for k in range(0, len(items), 25):
            batch = {table: [{"PutRequest": {"Item": it}} for it in items[k : k + 25]]}
            while batch:
                batch = dynamodb.batch_write_item(RequestItems=batch).get("UnprocessedItems") or {}
    return time.monotonic() - started


def test_the_inbox_with_500_conversations_is_interactive_fast_and_scrolls_smoothly(
    local_stack: LocalStack, supervisor: Api, agent_page: Callable[..., Any], watch: Watch
):
    sent_s = seed_conversations(local_stack, supervisor, SEEDED)

    def queued() -> int:
        total, cursor = 0, None
        while True:
            params: dict[str, Any] = {"view": "all", "limit": 100, **({"cursor": cursor} if cursor else {})}
            body = supervisor.get("/conversations", params=params).json()
            total += len(body["items"])
            cursor = body.get("next_cursor")
            if not cursor:
                return total

    assert queued() >= SEEDED
    print(f"\n[perf] seeded {SEEDED} waiting conversations in {sent_s:.1f}s")

    agent = agent_page()
    console_login(agent, local_stack, "supervisor", "/inbox")
    agent.get_by_test_id("inbox-view-all").click()
    agent.get_by_test_id("inbox-item").first.wait_for()
    # measured run: a fresh navigation to the inbox (the login and the "all" view are remembered)
    agent.context.add_init_script(TTI_SCRIPT)
    agent.reload()  # a real navigation (a goto to the same URL would only change the hash)
    tti = agent.evaluate("window.__tti")
    nav = agent.evaluate("performance.getEntriesByType('navigation')[0].toJSON()")
    print(
        f"[perf] inbox time to interactive: {tti['interactive']:.0f} ms after navigation start "
        f"(first {tti['n']} rows at {tti['seen']:.0f} ms; "
        f"DOMContentLoaded {nav['domContentLoadedEventEnd']:.0f} ms)"
    )
    assert tti["interactive"] < TTI_BOUND_MS

    # load every page of the list, then scroll it top to bottom, frame by frame
    started = time.monotonic()
    more = agent.get_by_test_id("inbox-load-more")
    while agent.get_by_test_id("inbox-item").count() < SEEDED and more.is_visible():
        before = agent.get_by_test_id("inbox-item").count()
        more.click()
        agent.wait_for_function(
            "(n) => document.querySelectorAll('[data-testid=\"inbox-item\"]').length > n", arg=before
        )
    rows = agent.get_by_test_id("inbox-item").count()
    print(f"[perf] {rows} rows in the inbox after {time.monotonic() - started:.1f}s of 'load more'")
    assert rows >= SEEDED
    result = agent.evaluate(SCROLL_SCRIPT)
    frames = sorted(result["frames"])
    p50 = statistics.median(frames)
    p95 = frames[int(len(frames) * 0.95) - 1]
    print(
        f"[perf] scrolling {result['items']} rows ({result['total']} px): frame time median {p50:.1f} ms, "
        f"p95 {p95:.1f} ms, max {frames[-1]:.1f} ms over {len(frames)} frames"
    )
    assert result["scrolled"] > 0
    assert p50 <= FRAME_MEDIAN_BOUND_MS, f"janky scrolling: median frame {p50:.1f} ms"
    assert p95 < FRAME_P95_BOUND_MS, f"janky scrolling: p95 frame {p95:.1f} ms"
    watch.assert_clean()


def test_screenshots_of_the_main_screens(local_stack: LocalStack, browser: Any, tmp_path: Path):
    from tests.browser import screenshots

    saved = screenshots.capture(browser, local_stack.url, tmp_path)
    assert {p.name for p in saved} >= set(screenshots.NAMES)
    assert all(p.stat().st_size > 5_000 for p in saved)
