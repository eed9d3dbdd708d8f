"""Pure decisions of assignment: channel types, queue order, agent order, wait estimates."""

from __future__ import annotations

from chalicelib.agents import ranking
from chalicelib.routing.placement import group_for_intent


def test_channel_types():
    assert [ranking.channel_type(c) for c in ("wechat", "email", "voice", "web", None)] == [
        "chat",
        "email",
        "voice",
        "chat",
        "chat",
    ]


def test_queue_order_urgent_then_vip_then_high_normal_low_then_first_come():
    t1, t2 = "2026-01-01T10:00:00.000Z", "2026-01-01T10:05:00.000Z"
    ranks = {
        "normal-early": ranking.queue_rank("normal", False, t1),
        "normal-late": ranking.queue_rank("normal", False, t2),
        "vip-late": ranking.queue_rank("normal", True, t2),
        "urgent-late": ranking.queue_rank("urgent", False, t2),
        "high-early": ranking.queue_rank("high", False, t1),
        "low-early": ranking.queue_rank("low", False, t1),
        "handed-back-late": ranking.queue_rank("normal", False, t2, first_in_line=True),
    }
    assert sorted(ranks, key=ranks.__getitem__) == [
        "urgent-late",
        "vip-late",
        "high-early",
        "handed-back-late",
        "normal-early",
        "normal-late",
        "low-early",
    ]
    assert ranking.queue_rank("urgent", True, t1) < ranking.queue_rank("normal", True, t1)


def test_agent_order_most_spare_then_longest_idle_then_proficiency():
    keys = {
        "a-spare3": ranking.avail_rank(3, "2026-01-01T10:00:00Z", 3, "a"),
        "b-spare1-idle-long": ranking.avail_rank(1, "2026-01-01T08:00:00Z", 3, "b"),
        "c-spare1-idle-short": ranking.avail_rank(1, "2026-01-01T09:00:00Z", 3, "c"),
        "d-spare1-never": ranking.avail_rank(1, None, 1, "d"),
        "e-spare12": ranking.avail_rank(12, "2026-01-01T10:00:00Z", 3, "e"),
        "f-spare1-idle-long-expert": ranking.avail_rank(1, "2026-01-01T08:00:00Z", 5, "f"),
    }
    assert sorted(keys, key=keys.__getitem__) == [
        "e-spare12",
        "a-spare3",
        "d-spare1-never",
        "f-spare1-idle-long-expert",
        "b-spare1-idle-long",
        "c-spare1-idle-short",
    ]


def test_spare_capacity():
    assert ranking.spare({"chat": 5}, {"chat": 2}, "chat") == 3
    assert ranking.spare({"chat": 1}, {"chat": 3}, "chat") == 0  # over capacity after a direct transfer
    assert ranking.spare(None, None, "voice") == 0


def test_estimate():
    # 4 ahead, 2 agents online, 10 handled in 3,000 s (300 s each): served in the 3rd round
    e = ranking.estimate(4, 2, 10, 3000)
    assert (e.position, e.estimated_wait_seconds) == (5, 900)
    assert ranking.estimate(0, 3, 0, 0).estimated_wait_seconds == ranking.DEFAULT_HANDLE_SECONDS
    assert ranking.estimate(2, 0, 1, 60).position == 3  # nobody online: still a position


def test_group_for_an_intent_falls_back_to_groups_that_exist():
    everything = frozenset({"presales", "aftersales", "technical", "logistics", "complaints"})
    small = frozenset({"presales", "aftersales"})
    assert group_for_intent("logistics", everything) == "logistics"
    assert group_for_intent("logistics", small) == "aftersales"
    assert group_for_intent("complaint", small) == "aftersales"
    assert group_for_intent("other", small) == "presales"
    assert group_for_intent("technical", frozenset({"support"})) == "support"
