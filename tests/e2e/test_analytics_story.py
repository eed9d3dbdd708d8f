"""Messages from real channel clients (WeChat signed with wechatpy, SMS signed like Twilio) on the
running local stack appear in the supervisor's overview exactly, per channel — counted as they
happen by the aggregator, read from the buckets."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from infra.local import simulate
from tests.e2e.conftest import LocalStack, login
from tests.e2e.test_local_stack import creds

pytestmark = pytest.mark.e2e


def test_messages_from_channel_clients_appear_in_the_overview_per_channel(local_stack: LocalStack):
    supervisor = login(local_stack, "supervisor")
    now = datetime.now(UTC)
    window = {
        "from": (now - timedelta(minutes=5)).isoformat().replace("+00:00", "Z"),
        "to": (now + timedelta(minutes=30)).isoformat().replace("+00:00", "Z"),
    }

    def counts() -> dict[str, Any]:
        resp = supervisor.get("/reports/overview", params=window)
        assert resp.status_code == 200, resp.text
        return resp.json()["messages_in"]["by_channel"]

    before = counts()
    run = uuid.uuid4().hex[:6]
    for i in range(3):
        resp = simulate.wechat_request(
            local_stack.target, creds("wechat"), user=f"o_analytics_{run}", text=f"订单 {i} 到哪了"
        ).send()
        assert resp.status_code == 200
    for i in range(2):
        resp = simulate.sms_request(
            local_stack.target, creds("sms"), sender=f"+86139{run.encode().hex()[:8]}", text=f"hi {i}"
        ).send()
        assert resp.status_code == 200
    want = {"wechat": before.get("wechat", 0) + 3, "sms": before.get("sms", 0) + 2}
    deadline, got = time.monotonic() + 30, {}
    while time.monotonic() < deadline:
        now_counts = counts()
        got = {c: now_counts.get(c, 0) for c in want}
        if got == want:
            break
        time.sleep(0.3)
    assert got == want
    later = counts()
    assert {c: later.get(c, 0) for c in want} == want  # nothing counted twice afterwards
