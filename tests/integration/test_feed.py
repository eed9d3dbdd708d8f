"""The real-time feed on moto: publish, then poll ``GET /events`` with the cursor."""

from __future__ import annotations

import json
import statistics
import threading
import time
from datetime import timedelta

from chalicelib.feed import service as feed
from chalicelib.feed.models import FeedEvent
from chalicelib.messages import iso, utcnow


def poll(session, cursor=None):
    r = session.get("/events" + (f"?cursor={cursor}" if cursor else ""))
    assert r.status_code == 200, r.body
    body = json.loads(r.body)
    return body["events"], body["cursor"]


def kinds_and_ids(events):
    return [(e["kind"], e["conversation_id"]) for e in events]


def test_a_first_poll_has_no_history_and_the_next_one_has_exactly_the_new_events(api):
    feed.publish("message.new", conversation_id="cnv_old", agents=["agent1"])
    agent1 = api("agent1")
    events, cursor = poll(agent1)
    assert events == [] and cursor
    feed.publish("message.new", conversation_id="cnv_1", agents=["agent1"], data={"channel": "sms"})
    feed.publish("conversation.queued", conversation_id="cnv_2", groups=["presales"])
    feed.publish("conversation.assigned", conversation_id="cnv_3", agents=["agent2"], groups=["aftersales"])
    events, cursor = poll(agent1, cursor)
    assert kinds_and_ids(events) == [("message.new", "cnv_1"), ("conversation.queued", "cnv_2")]
    assert events[0]["data"] == {"channel": "sms"}
    assert events[0]["event_id"] < events[1]["event_id"]
    assert poll(agent1, cursor)[0] == []


def test_interleaved_audiences_are_merged_in_order_each_event_once(api):
    agent1, supervisor = api("agent1"), api("supervisor")
    _, c1 = poll(agent1)
    _, cs = poll(supervisor)
    expected = []
    for i in range(12):
        target = [
            {"agents": ["agent1"], "supervisors": False},
            {"groups": ["presales"]},
            {"agents": ["agent1"], "groups": ["presales"]},  # one event in two of agent1's feeds
            {"agents": ["agent2"], "groups": ["aftersales"], "supervisors": True},  # not agent1's
        ][i % 4]
        feed.publish("message.new", conversation_id=f"cnv_{i:02d}", **target)
        if i % 4 != 3:
            expected.append(f"cnv_{i:02d}")
    seen = []
    for _ in range(3):
        events, c1 = poll(agent1, c1)
        seen += [e["conversation_id"] for e in events]
    assert seen == expected
    sup_events, _ = poll(supervisor, cs)
    # supervisors: their own feed (supervisors=True by default) and both groups they belong to
    assert [e["conversation_id"] for e in sup_events] == [f"cnv_{i:02d}" for i in range(12) if i % 4 != 0]


def test_an_event_written_after_a_poll_but_stamped_before_it_is_not_missed(api):
    agent1 = api("agent1")
    _, cursor = poll(agent1)
    stamped = iso(utcnow() - timedelta(seconds=1))  # a slow writer: stamped 1 s ago, visible only now
    feed.publish("message.new", conversation_id="cnv_on_time", agents=["agent1"])
    events, cursor = poll(agent1, cursor)
    assert kinds_and_ids(events) == [("message.new", "cnv_on_time")]
    FeedEvent(
        "agent#agent1",
        f"{stamped}#0badcafe",
        kind="message.new",
        conversation_id="cnv_late",
        expires_at=int(time.time()) + 60,
    ).save()
    events, cursor = poll(agent1, cursor)
    assert kinds_and_ids(events) == [("message.new", "cnv_late")]
    assert poll(agent1, cursor)[0] == []


def test_a_capped_answer_pages_on_with_the_cursor(api):
    from chalicelib.auth.service import Principal

    p = Principal("agent1", "agent", frozenset({"agent"}))
    cursor = feed.read(p, None)["cursor"]
    for i in range(7):
        feed.publish("message.new", conversation_id=f"cnv_{i}", agents=["agent1"])
    got = []
    for _ in range(4):
        answer = feed.read(p, cursor, limit=3)
        assert len(answer["events"]) <= 3
        got += [e["conversation_id"] for e in answer["events"]]
        cursor = answer["cursor"]
    assert got == [f"cnv_{i}" for i in range(7)]


def test_a_cursor_older_than_the_reset_horizon_asks_the_console_to_reload(api):
    from chalicelib.feed import cursor as feed_cursor

    stale = feed_cursor.encode(
        feed_cursor.CursorState(iso(utcnow() - feed.RESET_AFTER - timedelta(minutes=1)))
    )
    feed.publish("message.new", conversation_id="cnv_1", agents=["agent1"])
    answer = json.loads(api("agent1").get(f"/events?cursor={stale}").body)
    assert answer["reset"] is True and answer["events"] == []
    feed.publish("message.new", conversation_id="cnv_2", agents=["agent1"])
    events, _ = poll(api("agent1"), answer["cursor"])
    assert kinds_and_ids(events) == [("message.new", "cnv_2")]


def test_a_bad_cursor_is_a_400(api):
    assert api("agent1").get("/events?cursor=garbage").status_code == 400


def test_a_failing_feed_write_never_fails_the_caller(aws, monkeypatch, caplog):
    from chalicelib import aws as aws_clients

    class Broken:
        def batch_write_item(self, **_):
            raise ConnectionError("DynamoDB is down")

    monkeypatch.setattr(aws_clients, "client", lambda service: Broken())
    feed.publish("message.new", conversation_id="cnv_1", agents=["agent1"])  # does not raise
    failures = [r for r in caplog.records if r.getMessage() == "feed publish failed"]
    assert [getattr(r, "error", None) for r in failures] == ["ConnectionError"]


def test_a_poller_sees_a_published_event_within_two_seconds(api):
    """The console polls every second; whenever the event is published between two polls, the
    next poll has it."""
    agent1 = api("agent1")
    _, cursor = poll(agent1)
    delays = []
    for i, offset in enumerate((0.15, 0.5, 0.85)):
        published: dict[str, float] = {}

        def publish_later(
            i: int = i, offset: float = offset, published: dict[str, float] = published
        ) -> None:
            time.sleep(offset)
            published["at"] = time.monotonic()  # measured from the start of the write: conservative
            feed.publish("message.new", conversation_id=f"cnv_lat_{i}", agents=["agent1"])

        writer = threading.Thread(target=publish_later)
        writer.start()
        deadline = time.monotonic() + 5
        found = False
        while not found and time.monotonic() < deadline:
            started = time.monotonic()
            events, cursor = poll(agent1, cursor)
            if any(e["conversation_id"] == f"cnv_lat_{i}" for e in events):
                found = True
                delays.append(time.monotonic() - published["at"])
            else:
                time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))
        writer.join()
        assert found, f"event {i} not seen within 5 s"
    print(f"feed latency, 1 s polls: max {max(delays):.2f} s, median {statistics.median(delays):.2f} s")
    assert max(delays) < 2.0, delays


def test_events_collected_on_the_message_path_are_written_once_at_the_end_or_taken_by_a_transaction(aws):
    with feed.collecting():
        feed.publish("message.new", conversation_id="cnv_outbox1", agents=["agent1"], supervisors=False)
        taken = feed.take()  # what a transaction writes with the message
        feed.publish("conversation.queued", conversation_id="cnv_outbox1", groups=["general"])
        assert not list(FeedEvent.query("group#general"))  # nothing written inside the scope
    assert [(e.audience, e.kind) for e in taken] == [("agent#agent1", "message.new")]
    assert not list(FeedEvent.query("agent#agent1"))  # taken: the transaction's to write, not the scope's
    written = list(FeedEvent.query("group#general")) + list(FeedEvent.query("supervisors"))
    assert [e.kind for e in written] == ["conversation.queued"] * 2
    assert written[0].event_id == written[1].event_id  # one event, two audiences
