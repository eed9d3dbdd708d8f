"""Surge mode end to end: the minute's check switches a busy group to "bot first", tells the
supervisors, routing follows (within its cache), and a calm queue switches it back."""

from __future__ import annotations

from chalicelib.assignment.models import STATS, QueueItem
from chalicelib.feed.models import FeedEvent
from chalicelib.router import service as router
from chalicelib.routing import surge
from tests.support.factories import inbound

T = surge.Thresholds(on_waiting=3, off_waiting=1, on_backlog=10_000, off_backlog=10_000, calm_checks=2)


def waiting(group: str, n: int) -> None:
    QueueItem(f"{group}#chat", STATS, waiting=n).save()


def test_a_busy_group_gets_the_bot_first_until_its_queue_has_been_calm_for_two_checks(aws, team):
    waiting("presales", 5)
    assert surge.check(thresholds=T) == {"aftersales": False, "presales": True}
    alerts = [e for e in FeedEvent.query("supervisors") if e.kind.startswith("surge.")]
    assert [(e.kind, e.data["group"]) for e in alerts] == [("surge.on", "presales")]

    opened = router.store(inbound("sms", "+15550800001", "hello, is the promo still on?")).conversation
    assert opened.group_id == "presales" and opened.bot_status == "active" and opened.queue_key is None
    assert opened.routed_by is not None and opened.routed_by["surge"] == "presales"

    waiting("presales", 0)
    assert surge.check(thresholds=T)["presales"] is True  # one calm minute is not enough
    assert surge.check(thresholds=T)["presales"] is False
    assert [e.kind for e in FeedEvent.query("supervisors") if e.kind.startswith("surge.")] == [
        "surge.on",
        "surge.off",
    ]
    calm = router.store(inbound("sms", "+15550800002", "hello, is the promo still on?")).conversation
    assert calm.bot_status is None and calm.queue_key == "presales#chat"
