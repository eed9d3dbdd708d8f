"""GET /webhooks/web/status: the widget asks whether the desk is open (else its offline form)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from chalicelib.calendars import service as calendars
from chalicelib.calendars.hours import CalendarUpdate
from chalicelib.channels import pipeline
from chalicelib.channels.web import site_status
from tests.support.events import http_event

WEEKDAYS_9_TO_18 = {
    "time_zone": "Asia/Shanghai",
    "weekly": {d: [["09:00", "18:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
}


def status_of(headers: dict[str, str] | None = None) -> dict:
    return pipeline.handle(http_event("GET", "/webhooks/web/status", headers=headers or {}))


def test_without_a_calendar_the_desk_counts_as_open(aws):
    resp = status_of({"origin": "https://shop.example"})
    assert resp["statusCode"] == 200
    assert json.loads(resp["body"]) == {"open": True, "next_open": None, "calendar": None}
    assert resp["headers"]["access-control-allow-origin"] == "https://shop.example"


def test_the_status_follows_the_accounts_calendar(aws):
    calendars.put_calendar(
        "cn-support", CalendarUpdate.model_validate({"version": 0, **WEEKDAYS_9_TO_18}), "t"
    )
    monday_10 = datetime(2030, 1, 7, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
    monday_20 = datetime(2030, 1, 7, 12, 0, tzinfo=UTC)  # 20:00 in Shanghai
    assert site_status({}, monday_10) == {"open": True, "next_open": None, "calendar": "cn-support"}
    closed = site_status({}, monday_20)
    assert closed["open"] is False
    assert datetime.fromisoformat(closed["next_open"]) == datetime(2030, 1, 8, 1, 0, tzinfo=UTC)
    # the endpoint answers from the same calendar (whatever the time now, a consistent answer)
    body = json.loads(status_of()["body"])
    assert body["calendar"] == "cn-support" and isinstance(body["open"], bool)
    assert (body["next_open"] is None) == body["open"]


def test_only_get_is_allowed(aws):
    resp = pipeline.handle(http_event("POST", "/webhooks/web/status", body="{}"))
    assert resp["statusCode"] == 405
