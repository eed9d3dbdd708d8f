"""A customer's data rights in Chromium against the local stack: an admin exports a customer known
from an SMS (the file's link appears, and the file holds their message), then erases them after
confirming in the page and follows the job until it is done; the customer's 360 is then a
tombstone. Fails on a console error, CSP violation, unexpected failed request or dialog
(tests/browser/conftest.py)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import requests

from tests.browser.conftest import Watch, console_login
from tests.browser.test_console_pages import new_page, sms_conversation
from tests.e2e.conftest import Api, LocalStack

__all__ = ["new_page"]


def test_an_admin_exports_then_erases_a_customer_and_follows_the_job(
    local_stack: LocalStack, supervisor: Api, new_page: Callable[[], Any], watch: Watch
):
    run = uuid.uuid4().hex[:8]
    phone = f"+1555{int(run, 16) % 10**7:07d}"
    text = f"please delete my data {run}"
    customer_id = sms_conversation(local_stack, supervisor, text, phone)["customer_id"]

    page = new_page()
    console_login(page, local_stack, "admin", f"/integrations/privacy?customer={customer_id}")
    page.get_by_test_id("privacy-erasure-status").wait_for()
    assert page.get_by_test_id("privacy-erasure-status").get_attribute("data-status") == "none"

    page.get_by_test_id("privacy-export").click()
    link = page.get_by_test_id("privacy-export-link")
    link.wait_for(timeout=60_000)
    exported = requests.get(link.get_attribute("href") or "", timeout=30)
    assert exported.status_code == 200 and text in exported.text

    page.get_by_test_id("privacy-erase").click()
    page.get_by_test_id("confirm-ok").click()
    page.locator('[data-testid="privacy-erasure-status"][data-status="done"]').wait_for(timeout=90_000)
    assert page.get_by_test_id("privacy-erased").count() == 1
    assert page.get_by_test_id("privacy-erase").is_disabled()
    assert text not in supervisor.get(f"/customers/{customer_id}").text
