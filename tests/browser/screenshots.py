"""Screenshots of the main screens, for the README (docs/screenshots/*.png).

    make screenshots                                 # = the line below
    .venv/bin/python -m tests.browser.screenshots    # a fresh stack with the demo → docs/screenshots
    .venv/bin/python -m tests.browser.screenshots --url http://127.0.0.1:8000   # against `make dev`

The screens show the demo ``make dev`` seeds (infra/local/demo): the conversation shot is Chen
Jing's, the customer known on three channels. On a stack without the demo (the browser test
``test_screenshots_of_the_main_screens`` runs ``capture`` against the tests' team-only stack) a few
customers write first (website, WeChat, SMS), so the screens still show something."""

from __future__ import annotations

import argparse
import contextlib
import os
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parents[2]
OUT = REPO / "docs" / "screenshots"
NAMES = (
    "login.png",
    "inbox.png",
    "conversation.png",
    "tickets.png",
    "supervisor.png",
    "admin.png",
    "kb.png",
    "widget.png",
    "inbox-zh-CN.png",
    "reports.png",
    "wallboard.png",
    "reports-zh-CN.png",
)
VIEWPORT = {"width": 1366, "height": 820}
CUSTOMERS = (
    ("web", "Wang Fang", "这款精华适合敏感肌吗？"),
    ("web", "Alice Chen", "Hi, my parcel has not arrived yet, tracking says delivered."),
    ("wechat", "o_shot_1", "你好，我想退货，订单号 2024110812345678"),
    ("sms", "+8613800138001", "Can I change the delivery address of my order?"),
    ("wechat", "o_shot_2", "投诉：客服一直不回复！"),
)


def _login(url: str, username: str) -> str:
    from infra.local.demo import demo_password

    resp = requests.post(
        f"{url}/api/auth/login", json={"username": username, "password": demo_password()}, timeout=30
    )
    resp.raise_for_status()
    return str(resp.json()["id_token"])


def seed(url: str) -> str:
    """A few customers write; returns the id of a web conversation (for the conversation shot)."""
    from infra.local import simulate

    target = simulate.Target(url, url)
    run = uuid.uuid4().hex[:4]
    web_text = ""
    for channel, who, text in CUSTOMERS:
        if channel == "web":
            session = simulate.web_session_request(target, name=who).send().json()
            web_text = web_text or f"{text} ({run})"
            simulate.web_message_request(target, session["token"], f"{text} ({run})").send()
        elif channel == "wechat":
            simulate.wechat_request(
                target, simulate.credentials("wechat"), user=f"{who}_{run}", text=text
            ).send()
        else:
            simulate.sms_request(target, simulate.credentials("sms"), sender=who, text=text).send()
    token = _login(url, "supervisor")
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        items = requests.get(
            f"{url}/api/conversations",
            params={"view": "all", "limit": 100},
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        ).json()["items"]
        found = next((c for c in items if c.get("preview") == web_text), None)
        if found:
            return str(found["conversation_id"])
        time.sleep(0.3)
    raise TimeoutError("the seeded web conversation did not show up")


def demo_conversation(url: str) -> str | None:
    """Chen Jing's open conversation when the stack holds the demo, else None."""
    from infra.local.demo.people import PEOPLE

    name = next((p.name for p in PEOPLE if p.key == "chen-jing"), None)
    token = _login(url, "supervisor")
    items = requests.get(
        f"{url}/api/conversations",
        params={"view": "all", "limit": "100"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    ).json()["items"]
    found = [c for c in items if name and (c.get("customer") or {}).get("display_name") == name]
    return str(found[0]["conversation_id"]) if found else None


KB_ARTICLES = (
    {
        "title": "七天无理由退货怎么申请",
        "body": "签收后 **7 天内**，商品未使用、包装完好，可在「我的订单」中申请退货：\n\n"
        "1. 进入订单详情\n2. 点击 *申请售后*\n3. 选择“七天无理由”\n\n运费规则见 [退货政策](https://shop.example/returns)。",
        "language": "zh-CN",
        "questions": ["怎么退货", "咋退货", "七天无理由退货", "想退货怎么弄"],
        "tags": ["退货", "售后"],
        "status": "published",
    },
    {
        "title": "International shipping times",
        "body": "We ship to 40 countries with **DHL Express**; orders arrive in 5-10 business days.",
        "language": "en",
        "questions": ["How long does shipping take?", "国际快递要多久"],
        "tags": ["shipping"],
        "status": "published",
    },
)


def seed_kb(url: str) -> None:
    """Two articles when the knowledge base is empty, the first with a second version."""
    headers = {"Authorization": f"Bearer {_login(url, 'admin')}"}
    listed = requests.get(f"{url}/api/kb/articles", headers=headers, timeout=30).json()
    if listed.get("items"):
        return
    ids = []
    for article in reversed(KB_ARTICLES):
        created = requests.post(f"{url}/api/kb/articles", json=article, headers=headers, timeout=60)
        created.raise_for_status()
        ids.append(created.json()["article_id"])
    body = str(KB_ARTICLES[0]["body"]).replace("7 天内", "7 天内（定制商品除外）")
    requests.put(
        f"{url}/api/kb/articles/{ids[-1]}",
        json={"body": body, "status": "published"},
        headers=headers,
        timeout=60,
    ).raise_for_status()


def _settle(page: Any, testid: str) -> None:
    page.get_by_test_id(testid).first.wait_for()
    page.wait_for_load_state("networkidle")
    page.wait_for_timeout(300)  # a screenshot, not an assertion: let transitions finish


def capture(browser: Any, url: str, out: Path) -> list[Path]:
    """Take every screenshot in NAMES into ``out``; returns the files."""
    from infra.local.demo import demo_password

    out.mkdir(parents=True, exist_ok=True)
    cid = demo_conversation(url) or seed(url)
    saved: list[Path] = []

    def shot(page: Any, name: str) -> None:
        path = out / name
        page.screenshot(path=str(path))
        saved.append(path)

    ctx = browser.new_context(viewport=VIEWPORT, locale="en-US", timezone_id="Asia/Shanghai")
    try:
        page = ctx.new_page()
        page.goto(f"{url}/api/console")
        _settle(page, "login-submit")
        switch = page.get_by_test_id("lang-switch")
        if switch.count() and switch.evaluate("el => el.tagName") == "SELECT":
            switch.select_option("en")
        page.get_by_test_id("login-username").fill("supervisor")
        shot(page, "login.png")
        page.get_by_test_id("login-password").fill(demo_password())
        page.get_by_test_id("login-submit").click()
        page.get_by_test_id("nav-inbox").wait_for()
        page.goto(f"{url}/api/console#/inbox")
        page.get_by_test_id("inbox-view-all").click()
        _settle(page, "inbox-item")
        shot(page, "inbox.png")
        page.goto(f"{url}/api/console#/c/{cid}")
        _settle(page, "message")
        with contextlib.suppress(Exception):
            page.get_by_test_id("customer-panel").wait_for(timeout=5000)
            page.get_by_test_id("customer-tags").wait_for(timeout=15000)  # the 360 has loaded
            page.wait_for_load_state("networkidle")
        shot(page, "conversation.png")
        for route, testid, name in (
            ("/tickets?view=status&status=open", "ticket-item", "tickets.png"),
            ("/supervisor", "queue-waiting", "supervisor.png"),
        ):
            page.goto(f"{url}/api/console#{route}")
            with contextlib.suppress(Exception):
                _settle(page, testid)
            shot(page, name)
        # the dashboards (30 days of the demo's history) and the wallboard (its own full window)
        for route, testid, name in (
            ("/reports", "chart-first-response", "reports.png"),
            ("/wallboard", "wb-queues", "wallboard.png"),
        ):
            page.goto(f"{url}/api/console#{route}")
            with contextlib.suppress(Exception):
                page.get_by_test_id(testid).first.wait_for(timeout=60_000)  # 30 days: a busy stack is slow
                _settle(page, testid)
            shot(page, name)
        page.goto(f"{url}/api/console#/inbox")
        page.get_by_test_id("logout").click()
        page.get_by_test_id("login-username").fill("admin")
        page.get_by_test_id("login-password").fill(demo_password())
        page.get_by_test_id("login-submit").click()
        page.get_by_test_id("nav-inbox").wait_for()
        page.goto(f"{url}/api/console#/admin")
        with contextlib.suppress(Exception):
            _settle(page, "admin-groups")
        shot(page, "admin.png")
        # the knowledge base: an article in the editor (preview, versions, figures) when there is one
        with contextlib.suppress(Exception):
            seed_kb(url)
        page.goto(f"{url}/api/console#/kb")
        with contextlib.suppress(Exception):
            _settle(page, "kb-row")
            page.get_by_test_id("kb-open").first.click()
            _settle(page, "kb-stats")
        shot(page, "kb.png")
        page.get_by_test_id("logout").click()
        page.get_by_test_id("login-username").fill("supervisor")
        page.get_by_test_id("login-password").fill(demo_password())
        page.get_by_test_id("login-submit").click()
        page.get_by_test_id("nav-inbox").wait_for()
        if switch.evaluate("el => el.tagName") == "SELECT":
            switch.select_option("zh-CN")
        else:
            switch.click()
        page.goto(f"{url}/api/console#/inbox")
        page.wait_for_function(
            "document.querySelector('[data-testid=nav-inbox]').textContent.includes('收件箱')"
        )
        _settle(page, "inbox-item")
        shot(page, "inbox-zh-CN.png")
        page.goto(f"{url}/api/console#/reports?tab=channels")
        with contextlib.suppress(Exception):
            page.get_by_test_id("chart-channels").wait_for(timeout=60_000)
            _settle(page, "chart-channels")
        shot(page, "reports-zh-CN.png")
    finally:
        ctx.close()

    ctx = browser.new_context(viewport=VIEWPORT, locale="zh-CN", timezone_id="Asia/Shanghai")
    try:
        page = ctx.new_page()
        page.route(
            "**/webhooks/web/status",
            lambda route: route.fulfill(status=200, content_type="application/json", body='{"open": true}'),
        )
        page.goto(f"{url}/demo/shop")
        page.get_by_test_id("widget-bubble").click()
        page.get_by_test_id("widget-prechat-name").fill("王芳")
        page.get_by_test_id("widget-prechat-start").click()
        page.get_by_test_id("widget-input").fill("你好，这款精华适合敏感肌吗？")
        page.get_by_test_id("widget-send").click()
        page.locator('[data-testid="widget-message"]:not(.pending)').first.wait_for()
        page.wait_for_timeout(300)
        shot(page, "widget.png")
    finally:
        ctx.close()
    return saved


# ---- the command ------------------------------------------------------------------------------------
def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextlib.contextmanager
def _stack() -> Iterator[str]:
    port = _free_port()
    env = {**os.environ, "PORT": str(port), "MOTO_PORT": str(_free_port()), "PYTHONUNBUFFERED": "1"}
    env["OMNIFLOW_DEMO"] = "full"  # the screens show the demo a newcomer sees
    env["OMNIFLOW_LOCAL_DIR"] = str(REPO / ".local" / f"screenshots-{port}")
    proc = subprocess.Popen(
        [sys.executable, "-m", "infra.local.stack"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 420  # the full demo seeds first (minutes on a loaded machine)
        while True:
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(f"{url}/api/health", timeout=5) as resp:
                    if resp.status == 200:
                        break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the local stack did not start")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        proc.wait(30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.browser.screenshots", description=__doc__)
    parser.add_argument("--url", help="a running stack (default: start one)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

    with contextlib.ExitStack() as stack, sync_playwright() as pw:
        url = args.url or stack.enter_context(_stack())
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            for path in capture(browser, url, args.out):
                print(path.relative_to(REPO) if path.is_relative_to(REPO) else path)
        finally:
            browser.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
