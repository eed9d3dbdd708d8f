"""The demo ``make dev`` seeds, seen through the agent API as a newcomer sees it: named customers
writing in Chinese and English on many channels; conversations waiting, assigned, snoozed and
closed; tickets in every status with sub-tickets, CSAT answers and one SLA about to breach; Chen Jing
known on three channels with a parcel in transit; the agents online; the shop's desk open."""

from __future__ import annotations

import re
import time
from typing import Any

import pytest
import requests

from infra.local.demo.people import PEOPLE
from infra.local.demo.stories import STORIES
from tests.e2e.conftest import Api, LocalStack, login

pytestmark = pytest.mark.e2e

CJK = re.compile(r"[\u4e00-\u9fff]")


def items(api: Api, path: str, **params: str) -> list[dict[str, Any]]:
    """Every page of a listing."""
    out: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        resp = api.get(path, params={**params, **({"cursor": cursor} if cursor else {}), "limit": "100"})
        assert resp.status_code == 200, resp.text
        data = resp.json()
        out += data["items"]
        cursor = data.get("next_cursor") or data.get("cursor")
        if not cursor:
            return out


@pytest.fixture(scope="module")
def boss(demo_stack: LocalStack) -> Api:
    return login(demo_stack, "supervisor")


@pytest.fixture(scope="module")
def open_conversations(boss: Api) -> list[dict[str, Any]]:
    return items(boss, "/conversations", view="all", status="open", snoozed="1")


def test_the_inbox_holds_named_customers_on_many_channels_in_chinese_and_english(
    boss: Api, open_conversations: list[dict[str, Any]]
) -> None:
    closed = items(boss, "/conversations", view="all", status="closed")
    everything = open_conversations + closed
    customers = {c["customer_id"] for c in everything}
    assert len(customers) >= 35
    channels = {ch for c in everything for ch in c["channels"]}
    assert len(channels) >= 6, channels
    previews = [c.get("preview") or "" for c in everything]
    assert any(CJK.search(p) for p in previews) and any(p.isascii() and p for p in previews)
    named = [c for c in open_conversations if (c.get("customer") or {}).get("display_name")]
    assert len(named) >= len(open_conversations) // 2


def test_conversations_wait_in_queues_belong_to_agents_are_snoozed_and_closed(
    boss: Api, open_conversations: list[dict[str, Any]]
) -> None:
    waiting = [c for c in open_conversations if not c.get("assignee_id")]
    owned = [c for c in open_conversations if c.get("assignee_id")]
    snoozed = [c for c in owned if c.get("snoozed_until")]
    assert len(waiting) >= 3, "the queues should not be empty: the demo shows agents what waits"
    assert len(owned) >= 8 and len(snoozed) >= 2
    assert {c["assignee_id"] for c in owned} >= {"agent1", "agent2", "agent3"}
    closed = items(boss, "/conversations", view="all", status="closed")
    assert len(closed) >= sum(1 for s in STORIES if s.state == "closed")


def test_closed_history_keeps_the_agents_replies_sent_on_the_customers_channel(boss: Api) -> None:
    closed = items(boss, "/conversations", view="all", status="closed")
    cid = closed[-1]["conversation_id"]

    def replies() -> list[dict[str, Any]] | None:
        messages = boss.get(f"/conversations/{cid}").json()["messages"]
        assert any(m["direction"] == "in" for m in messages)
        out = [m for m in messages if m["direction"] == "out" and m.get("author_id", "").startswith("agent")]
        # the stack's sender records what the demo queued within seconds of "ready"
        return out if out and all(m["status"] == "sent_local" for m in out) else None

    deadline = time.monotonic() + 120
    while (found := replies()) is None:
        assert time.monotonic() < deadline, "the demo's replies were never sent"
        time.sleep(1)
    assert found


def test_tickets_in_every_status_with_subtickets_csat_and_one_at_risk(boss: Api) -> None:
    statuses = ("new", "open", "pending_customer", "on_hold", "solved", "closed")
    by_status = {s: items(boss, "/tickets", view="status", status=s) for s in statuses}
    assert all(by_status[s] for s in statuses), {s: len(v) for s, v in by_status.items()}
    every = [t for ts in by_status.values() for t in ts]
    assert any(t.get("progress") for t in every), "a ticket with sub-tickets shows their progress"
    assert any(t.get("parent_id") for t in every)
    assert sum(1 for t in every if t.get("csat_score")) >= 3
    at_risk = boss.get("/tickets/at-risk", params={"within": "60"})
    assert at_risk.status_code == 200, at_risk.text
    assert at_risk.json()["items"], "one ticket's SLA is about to breach"


def test_chen_jing_is_one_customer_on_three_channels_with_a_parcel_in_transit(
    boss: Api, open_conversations: list[dict[str, Any]]
) -> None:
    chen = next(c for c in open_conversations if (c.get("customer") or {}).get("display_name") == "陈静")
    profile = boss.get(f"/customers/{chen['customer_id']}").json()
    assert {i["channel"] for i in profile["identities"] if i.get("channel")} >= {"sms", "app", "email"}
    assert len(profile["conversations"]) == 3
    shipped = [o for o in profile["orders"] if (o.get("tracking") or {}).get("status") == "in_transit"]
    assert shipped and shipped[0]["number"] == "SO20240088"


def test_demo_agents_are_online_and_the_shops_desk_is_open(demo_stack: LocalStack, boss: Api) -> None:
    for username in ("agent1", "agent2", "agent3"):
        me = login(demo_stack, username).get("/me").json()
        assert me["presence"] == "online", me
    status = requests.get(f"{demo_stack.url}/webhooks/web/status", timeout=30)
    assert status.status_code == 200 and status.json()["open"] is True, status.text


def test_the_demo_people_are_about_forty() -> None:
    assert 35 <= len(PEOPLE) <= 45


def test_the_dashboards_hold_30_days_of_history_per_day_channel_group_and_agent(boss: Api) -> None:
    from collections import Counter
    from datetime import UTC, datetime, timedelta

    from infra.local.demo import history

    now = datetime.now(UTC)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    span = {"from": (today - timedelta(days=30)).isoformat(), "to": today.isoformat()}
    facts = list(history.facts(now))
    expected = Counter(f.at[:10] for f in facts if f.kind == "conversation_opened")
    resp = boss.get("/reports/timeseries", params={"metric": "conversations", "interval": "day", **span})
    assert resp.status_code == 200, resp.text
    got = {p["t"][:10]: p["value"] for p in resp.json()["points"]}
    assert len(got) == 30 and all(got[day] >= n > 0 for day, n in expected.items())
    # the stories' own past conversations come on top (counted from the analytics queue)
    assert sum(got.values()) - sum(expected.values()) <= len(STORIES)
    overview = boss.get("/reports/overview", params=span).json()
    assert len(overview["conversations"]["by_channel"]) >= 10
    assert overview["first_response"]["p50_s"] and overview["sla"]["attainment"] > 0.8
    for who in ({"group": "logistics"}, {"agent": "agent2"}):
        one = boss.get("/reports/overview", params={**span, **who}).json()
        assert one["messages_out"]["total"] > 0 and one["resolved"]["total"] > 0, who
