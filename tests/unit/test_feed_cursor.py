"""The feed cursor (pure): nothing missed, nothing repeated, bounded whatever the history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.feed.cursor import OVERLAP, BadCursor, CursorState, Page, advance, decode, encode, start
from chalicelib.messages import iso

T0 = datetime(2025, 3, 1, 8, 0, 0, tzinfo=UTC)


def eid(seconds: float, suffix: str) -> str:
    return f"{iso(T0 + timedelta(seconds=seconds))}#{suffix}"


def test_a_cursor_survives_encoding_exactly():
    state = CursorState(iso(T0), frozenset({eid(0.001, "aa11bb22"), eid(3.5, "cc33dd44")}))
    assert decode(encode(state), T0 + timedelta(seconds=10)) == state


def test_the_cursor_is_compact():
    seen = frozenset(eid(i / 10, f"{i:08x}") for i in range(50))
    assert len(encode(CursorState(iso(T0), seen))) < 50 * 14


@pytest.mark.parametrize("bad", ["", "x", "f1", "f2.abc", "f1.!!", "f1.abc.1", "f1.abc.1-XYZ", "f1.abc.zz-"])
def test_foreign_cursors_are_refused(bad):
    with pytest.raises(BadCursor):
        decode(bad, T0)


def test_a_cursor_from_the_future_is_pulled_back_to_now():
    future = CursorState(iso(T0 + timedelta(hours=1)))
    assert decode(encode(future), T0).since == iso(T0)


def test_the_first_poll_starts_an_overlap_back():
    assert start(T0).since == iso(T0 - OVERLAP)


def test_new_events_are_delivered_in_time_order_once_across_audiences():
    state = CursorState(iso(T0))
    a, b, c = eid(1, "a0000001"), eid(2, "b0000002"), eid(3, "c0000003")
    delivered, state = advance(state, [Page([a, c]), Page([b, c])], T0 + timedelta(seconds=4), 200)
    assert delivered == [a, b, c]
    again, _ = advance(state, [Page([a, c]), Page([b, c])], T0 + timedelta(seconds=5), 200)
    assert again == []


def test_an_event_that_becomes_visible_late_is_still_delivered_once():
    early, late = eid(1.0, "e0000001"), eid(0.9, "f0000002")  # stamped before `early`, written after
    delivered, state = advance(CursorState(iso(T0)), [Page([early])], T0 + timedelta(seconds=1.2), 200)
    assert delivered == [early]
    delivered, state = advance(state, [Page([late, early])], T0 + timedelta(seconds=2.2), 200)
    assert delivered == [late]
    delivered, _ = advance(state, [Page([late, early])], T0 + timedelta(seconds=3.2), 200)
    assert delivered == []


def test_the_watermark_trails_the_poll_by_the_overlap_and_forgets_older_ids():
    old, recent = eid(1, "a0000001"), eid(9, "b0000002")
    now = T0 + timedelta(seconds=10)
    _, state = advance(CursorState(iso(T0)), [Page([old, recent])], now, 200)
    assert state.since == iso(now - OVERLAP)
    assert state.seen == {recent}


def test_a_capped_answer_continues_where_it_stopped():
    ids = [eid(1 + i / 100, f"{i:08x}") for i in range(7)]
    now = T0 + timedelta(seconds=60)
    state, got = CursorState(iso(T0)), []
    for _ in range(5):
        delivered, state = advance(state, [Page([i for i in ids if i > state.since])], now, 3)
        got += delivered
    assert got == ids


def test_a_truncated_query_does_not_move_the_watermark_past_what_it_did_not_read():
    ids = [eid(1 + i, f"{i:08x}") for i in range(6)]
    now = T0 + timedelta(seconds=60)
    first, state = advance(CursorState(iso(T0)), [Page(ids[:3], truncated=True), Page([ids[4]])], now, 200)
    assert first == [ids[0], ids[1], ids[2], ids[4]]
    rest, _ = advance(state, [Page([i for i in ids if i > state.since])], now, 200)
    assert rest == [ids[3], ids[5]]


def test_the_watermark_never_moves_back():
    state = CursorState(iso(T0))
    _, after = advance(state, [Page([])], T0 - timedelta(minutes=1), 200)
    assert after.since == state.since
