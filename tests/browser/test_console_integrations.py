"""The integrations page in Chromium, in English then Chinese, against the local stack: an admin
creates a webhook endpoint (its secret shown once), sees a real SMS's delivery in the log (status,
code, attempt), pauses it (the disabled state and why), replays the failed message, rotates the
secret; creates an API client (its secret once, scopes, rate limit) and disables it; reads a
customer's audit trail. Fails on any console error, CSP violation, failed request or dialog."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from infra.local import simulate
from tests.browser.conftest import Watch, console_login, console_url
from tests.e2e.conftest import Api, LocalStack
from tests.e2e.test_local_stack import poll


@pytest.fixture
def receiver_url() -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("content-length") or 0))
            self.send_response(204)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook-{uuid.uuid4().hex[:6]}"
    finally:
        server.shutdown()
        server.server_close()


def sms(stack: LocalStack, text: str) -> None:
    sender = "+86137" + str(uuid.uuid4().int)[:8]
    sent = simulate.sms_request(stack.target, simulate.credentials("sms"), sender=sender, text=text).send()
    assert sent.status_code == 200, sent.text


def log_shows(page: Any, status_text: str, count: int) -> bool:
    page.get_by_test_id("deliveries-refresh").click()
    page.wait_for_load_state("networkidle")
    return page.get_by_test_id("delivery-status").filter(has_text=status_text).count() >= count


def test_an_admin_runs_webhooks_api_clients_and_the_audit_from_the_integrations_page(
    local_stack: LocalStack, page: Any, watch: Watch, supervisor: Api, receiver_url: str
):
    console_login(page, local_stack, "admin", "/integrations/webhooks")
    page.get_by_test_id("nav-integrations").wait_for()
    page.get_by_test_id("integ-webhooks").wait_for()

    # create: the secret is shown once, then gone
    page.get_by_test_id("webhook-url").fill(receiver_url)
    page.get_by_test_id("webhook-create").click()
    secret = page.get_by_test_id("webhook-secret-value")
    assert secret.inner_text().startswith("whsec_")
    page.get_by_test_id("webhook-secret-done").click()
    secret.wait_for(state="detached")
    row = page.get_by_test_id("webhook-row").filter(has_text=receiver_url)
    assert row.get_by_test_id("state").inner_text() == "Active"

    # a real SMS: delivered, the log shows code and attempt
    text = f"where is my parcel {uuid.uuid4().hex[:6]}"
    sms(local_stack, text)
    row.get_by_test_id("webhook-log").click()
    poll("the delivery in the log", lambda: log_shows(page, "Delivered", 1), timeout=90)
    first = page.get_by_test_id("delivery-row").first
    assert first.get_by_test_id("delivery-code").inner_text() == "204"
    assert first.get_by_test_id("delivery-attempt").inner_text() == "1"

    # paused: the state says why; the next event fails and is replayed
    row.get_by_test_id("webhook-disable").click()
    row.get_by_test_id("webhook-enable").wait_for()
    assert "disabled by an admin" in row.get_by_test_id("state").inner_text()
    sms(local_stack, f"and my refund {uuid.uuid4().hex[:6]}")
    poll("the paused endpoint's failed message", lambda: log_shows(page, "Failed", 1), timeout=90)
    page.get_by_test_id("replay-all").click()
    poll("the replayed message delivered", lambda: log_shows(page, "Delivered", 2), timeout=90)

    # rotate: confirmed in the page, the new secret shown once
    row.get_by_test_id("webhook-rotate").click()
    page.get_by_test_id("confirm-ok").click()
    assert page.get_by_test_id("webhook-secret-value").inner_text().startswith("whsec_")
    page.get_by_test_id("webhook-secret-done").click()

    # API clients
    page.get_by_test_id("integ-tab-clients").click()
    name = f"CRM {uuid.uuid4().hex[:6]}"
    page.get_by_test_id("client-name").fill(name)
    page.get_by_test_id("client-scopes").get_by_label("conversations:read").check()
    page.get_by_test_id("client-rate").fill("120")
    page.get_by_test_id("client-create").click()
    assert page.get_by_test_id("client-secret-value").inner_text().startswith("ofs_")
    client_row = page.get_by_test_id("client-row").filter(has_text=name)
    assert "conversations:read" in client_row.inner_text() and "120" in client_row.inner_text()
    client_row.get_by_test_id("client-disable").click()
    client_row.get_by_test_id("client-enable").wait_for()
    assert client_row.get_by_test_id("state").inner_text() == "Disabled"

    # a customer's audit trail: revealing their contacts is recorded
    conversation = poll(
        "the SMS conversation",
        lambda: next(
            (
                c
                for c in supervisor.get("/conversations", params={"view": "all", "limit": 100}).json()[
                    "items"
                ]
                if c.get("preview") == text
            ),
            None,
        ),
    )
    customer_id = conversation["customer_id"]
    assert supervisor.post(f"/customers/{customer_id}/reveal").status_code == 200
    page.get_by_test_id("integ-tab-audit").click()
    page.get_by_test_id("audit-customer").fill(customer_id)
    page.get_by_test_id("audit-show").click()
    page.get_by_test_id("audit-row").first.wait_for()
    assert "supervisor" in page.get_by_test_id("integ-audit").inner_text()

    # the same page in Chinese
    page.get_by_test_id("lang-switch").select_option("zh-CN")
    page.goto(console_url(local_stack, "/integrations/webhooks"))
    page.get_by_test_id("integ-webhooks").wait_for()
    assert page.get_by_test_id("nav-integrations").inner_text() == "集成"
    assert page.get_by_test_id("integ-tab-clients").inner_text() == "API 客户端"
    zh_row = page.get_by_test_id("webhook-row").filter(has_text=receiver_url)
    assert zh_row.get_by_test_id("state").inner_text() == "启用中"
    zh_row.get_by_test_id("webhook-log").click()
    page.get_by_test_id("delivery-status").filter(has_text="已送达").first.wait_for()
    zh_row.get_by_test_id("webhook-disable").click()  # the receiver is going away
    zh_row.get_by_test_id("webhook-enable").wait_for()
    watch.assert_clean()
