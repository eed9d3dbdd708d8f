"""Browser tests: Playwright (sync API) driving Debian's Chromium against the local stack.

The stack is the e2e one (``tests/e2e/conftest.py``, session-scoped, in a subprocess on free
ports). One Chromium per worker; every test gets a fresh context (no storage shared), and a
``Watch`` that records what must never happen on our pages: a JavaScript dialog (an injected
``alert``), an uncaught error, a Content Security Policy violation, a console error.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.e2e.conftest import Api, LocalStack, demo_stack, local_stack, login, supervisor

CHROMIUM = os.environ.get("OMNIFLOW_CHROMIUM") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
DEFAULT_TIMEOUT_MS = 15_000
DESKTOP = {"width": 1366, "height": 860}

# Reports every CSP violation of the page to the test (the console also logs them, but this way
# the test sees the blocked directive and URI).
CSP_LISTENER = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__cspViolations.push({directive: e.violatedDirective, blocked: e.blockedURI, source: e.sourceFile});
}, true);
"""


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/browser/" in str(item.fspath).replace(os.sep, "/"):
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    if not (os.path.exists(CHROMIUM) or shutil.which("chromium")):
        pytest.skip(f"Chromium not found at {CHROMIUM}: apt-get install chromium (make test does, as root)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -r requirements-dev.txt)")
    with sync_playwright() as pw:
        chromium = pw.chromium.launch(
            executable_path=CHROMIUM if os.path.exists(CHROMIUM) else shutil.which("chromium"),
            args=CHROMIUM_ARGS,
            headless=True,
        )
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Watch:
    """What went wrong on a page, collected while the test runs."""

    dialogs: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)
    failed_responses: list[str] = field(default_factory=list)
    pages: list[Any] = field(default_factory=list)

    def attach(self, page: Any) -> Any:
        self.pages.append(page)

        def on_dialog(dialog: Any) -> None:
            self.dialogs.append(f"{dialog.type}: {dialog.message}")
            dialog.dismiss()

        page.on("dialog", on_dialog)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        page.on(
            "console",
            lambda msg: self.console_errors.append(msg.text) if msg.type == "error" else None,
        )
        page.on(
            "response",
            lambda r: (
                self.failed_responses.append(f"{r.status} {r.request.method} {r.url}")
                if r.status >= 400 and not r.url.endswith("/favicon.ico")
                else None
            ),
        )
        return page

    def csp_violations(self) -> list[Any]:
        found: list[Any] = []
        for page in self.pages:
            if page.is_closed():
                continue
            try:
                found.extend(page.evaluate("window.__cspViolations || []"))
            except Exception:  # a page mid-navigation: its listener is re-added on load
                continue
        return found

    def assert_clean(self, *, allow_console: tuple[str, ...] = ()) -> None:
        assert not self.dialogs, f"a dialog opened (injected script ran?): {self.dialogs}"
        assert not self.errors, f"uncaught errors in the page: {self.errors}"
        csp = self.csp_violations()
        assert not csp, f"Content Security Policy violations: {csp}"
        # A failed request is logged by Chromium without its URL: judged by failed_responses instead.
        relevant = [
            m
            for m in self.console_errors
            if "Content Security Policy" in m
            or not (m.startswith("Failed to load resource") or any(a in m for a in allow_console))
        ]
        assert not relevant, f"console errors: {relevant}"
        failed = [r for r in self.failed_responses if not any(a in r for a in allow_console)]
        assert not failed, f"requests that failed: {failed}"


@pytest.fixture
def watch() -> Watch:
    return Watch()


@pytest.fixture
def context(browser: Any, watch: Watch) -> Iterator[Any]:
    ctx = browser.new_context(viewport=DESKTOP, locale="en-US", timezone_id="Asia/Shanghai")
    ctx.set_default_timeout(DEFAULT_TIMEOUT_MS)
    ctx.add_init_script(CSP_LISTENER)
    ctx.on("page", watch.attach)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture
def page(context: Any) -> Any:
    return context.new_page()


def console_url(stack: LocalStack, route: str = "") -> str:
    return f"{stack.url}/api/console" + (f"#{route}" if route else "")


def shop_url(stack: LocalStack, lang: str | None = None) -> str:
    return f"{stack.url}/demo/shop" + (f"?lang={lang}" if lang else "")


def console_login(page: Any, stack: LocalStack, username: str, route: str = "") -> None:
    """Log in through the console's login screen (the contract's test ids only)."""
    from infra.local.demo import demo_password

    page.goto(console_url(stack, route))
    page.get_by_test_id("login-username").fill(username)
    page.get_by_test_id("login-password").fill(demo_password())
    page.get_by_test_id("login-submit").click()
    page.get_by_test_id("nav-inbox").wait_for()


__all__ = [
    "Api",
    "Watch",
    "console_login",
    "console_url",
    "demo_stack",
    "local_stack",
    "login",
    "shop_url",
    "supervisor",
]
