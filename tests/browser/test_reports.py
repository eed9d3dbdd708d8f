"""The supervisors' dashboards (#/reports) and the wallboard (#/wallboard) in Chromium, in English
and Chinese, against the tests' local stack: the tiles show what /api/reports/overview answers for
the same range and filters, a channel's number drills down to its conversations in the inbox, the
CSV download is the API's, the charts are drawn with labels in the page's language, and the
wallboard refreshes itself when a customer starts waiting (no reload). Each test fails on a console
error, CSP violation, failed request or dialog (tests/browser/conftest.py)."""

from __future__ import annotations

import math
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from infra.local import simulate
from tests.browser.conftest import Watch, console_login
from tests.e2e.conftest import Api, LocalStack
from tests.e2e.test_local_stack import poll


def sms(stack: LocalStack, text: str) -> None:
    phone = f"+1555{int(uuid.uuid4().hex[:8], 16) % 10**7:07d}"
    sent = simulate.sms_request(stack.target, simulate.credentials("sms"), sender=phone, text=text).send()
    assert sent.status_code == 200, sent.text


def page_range(days: int = 30) -> dict[str, str]:
    """The range the dashboards ask for by default: the last ``days`` UTC days, up to the next hour."""
    now = datetime.now(UTC)
    start = (now - timedelta(days=days - 1)).strftime("%Y-%m-%dT00:00:00Z")
    end = datetime.fromtimestamp(math.ceil((now.timestamp() + 0.001) / 3600) * 3600, UTC)
    return {"from": start, "to": end.strftime("%Y-%m-%dT%H:%M:%SZ")}


def overview(api: Api, **params: str) -> dict[str, Any]:
    resp = api.get("/reports/overview", params={**page_range(), **params})
    assert resp.status_code == 200, resp.text
    body: dict[str, Any] = resp.json()
    return body


def tile(page: Any, testid: str) -> str:
    return str(page.get_by_test_id(testid).get_by_test_id("tile-value").inner_text()).strip()


def waiting(api: Api) -> int:
    groups = api.get("/supervisor/queues").json()["groups"]
    return sum(q.get("waiting", 0) for g in groups for q in g.get("queues", []))


def test_dashboards_show_the_apis_figures_drill_down_to_the_inbox_and_download_csv(
    local_stack: LocalStack, supervisor: Api, page: Any, watch: Watch, tmp_path: Path
) -> None:
    run = uuid.uuid4().hex[:8]
    text = f"Do you ship to Macau? {run}"
    before = overview(supervisor, channel="sms")["conversations"]["total"]
    sms(local_stack, text)
    poll("the SMS counted", lambda: overview(supervisor, channel="sms")["conversations"]["total"] > before)

    console_login(page, local_stack, "supervisor", "/inbox")
    page.get_by_test_id("nav-reports").click()
    page.get_by_test_id("report-tiles").wait_for()
    expected = overview(supervisor)
    assert tile(page, "tile-conversations") == f"{expected['conversations']['total']:,}"
    assert tile(page, "tile-messages") == f"{expected['messages_in']['total']:,}"
    chart = page.get_by_test_id("chart-volume")
    chart.locator("canvas").wait_for()
    assert chart.get_attribute("data-points") == "30"  # one bar per day of the range
    assert "Conversations" in chart.locator(".u-legend").inner_text()

    # one channel: the filter is in the address and the tiles follow it
    page.get_by_test_id("report-channel").select_option("sms")
    page.wait_for_function("location.hash.includes('channel=sms')")
    sms_total = overview(supervisor, channel="sms")["conversations"]["total"]
    page.wait_for_function(
        "n => document.querySelector('[data-testid=tile-conversations] [data-testid=tile-value]')"
        "?.textContent.trim() === n",
        arg=f"{sms_total:,}",
    )

    # the channels tab: the SMS row drills down to the SMS conversations in the inbox
    page.get_by_test_id("report-channel").select_option("")
    page.get_by_test_id("report-tab-channels").click()
    row = page.locator('[data-testid=channel-table] tr[data-channel="sms"]')
    row.wait_for()
    by_channel = overview(supervisor)["conversations"]["by_channel"]
    assert row.get_by_test_id("drill-channel").inner_text() == f"{by_channel['sms']:,}"
    page.get_by_test_id("chart-channels").locator("canvas").wait_for()
    with page.expect_download() as download:
        page.get_by_test_id("download-csv").click()
    saved = tmp_path / "overview.csv"
    download.value.save_as(saved)
    lines = saved.read_text().splitlines()
    assert lines[0] == "metric,value"
    assert any(line.startswith("conversations.by_channel.sms,") for line in lines)
    with page.expect_download() as download:
        page.get_by_test_id("download-xlsx").click()
    sheet = tmp_path / "overview.xlsx"
    download.value.save_as(sheet)
    assert sheet.read_bytes()[:2] == b"PK"  # an Office Open XML (zip) workbook
    row.get_by_test_id("drill-channel").click()
    page.wait_for_function("location.hash.startsWith('#/inbox') && location.hash.includes('channel=sms')")
    items = page.get_by_test_id("inbox-item")
    items.filter(has_text=run).wait_for()
    shown = page.get_by_test_id("inbox-item-channel")
    channels = set(shown.evaluate_all("els => els.map((e) => e.dataset.channel)"))
    assert channels == {"sms"}, channels

    # the SLA tab keeps the SLA report's table (by policy, group or agent)
    page.goto(page.url.split("#")[0] + "#/reports?tab=sla")
    page.get_by_test_id("sla-by").wait_for()
    page.get_by_test_id("sla-by").select_option("group")
    page.get_by_test_id("report-sla").locator("table, p.muted").first.wait_for()

    # next week's forecast: seven days, a half-hourly chart
    page.get_by_test_id("report-tab-forecast").click()
    page.get_by_test_id("forecast-table").locator("tbody tr").nth(6).wait_for()
    page.get_by_test_id("chart-forecast").locator("canvas").wait_for()
    assert page.get_by_test_id("chart-forecast").get_attribute("data-points") == "336"
    watch.assert_clean()


def test_dashboards_and_wallboard_in_chinese_and_the_wallboard_refreshes_itself(
    local_stack: LocalStack, supervisor: Api, page: Any, watch: Watch
) -> None:
    page.goto(f"{local_stack.url}/api/console")
    page.get_by_test_id("lang-switch").select_option("zh-CN")
    console_login(page, local_stack, "supervisor", "/reports")
    page.get_by_test_id("report-tiles").wait_for()
    assert page.get_by_test_id("nav-reports").inner_text() == "报表"
    assert page.get_by_test_id("report-tab-overview").inner_text() == "总览"
    assert "会话量" in page.get_by_test_id("tile-conversations").inner_text()
    legend = page.get_by_test_id("chart-volume").locator(".u-legend")
    legend.wait_for()
    assert "会话量" in legend.inner_text()

    page.get_by_test_id("open-wallboard").click()
    board = page.get_by_test_id("wallboard")
    board.wait_for()
    assert board.locator("h1").inner_text() == "客服中心实时大屏"
    assert not page.locator(".topbar").is_visible()  # the whole window is the board
    value = page.get_by_test_id("wb-waiting").get_by_test_id("wb-value")
    poll("the board's waiting = the queues'", lambda: value.inner_text().strip() == str(waiting(supervisor)))
    shown = int(value.inner_text())

    # a customer starts waiting: the board shows it without a reload (feed event, or its 30 s poll)
    started = time.monotonic()
    sms(local_stack, f"有人吗？我的订单还没发货 {uuid.uuid4().hex[:6]}")
    page.wait_for_function(
        "n => Number(document.querySelector("
        "'[data-testid=wb-waiting] [data-testid=wb-value]').textContent) > n",
        arg=shown,
        timeout=40_000,
    )
    print(f"wallboard refreshed {time.monotonic() - started:.1f}s after the customer wrote")
    assert page.get_by_test_id("wb-queues").locator("tbody tr").count() >= 1

    page.get_by_test_id("wb-exit").click()
    page.get_by_test_id("reports-page").wait_for()
    assert page.locator(".topbar").is_visible()
    watch.assert_clean()
