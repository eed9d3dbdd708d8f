"""Pure decisions behind conversation actions: @mentions, who may see a conversation, snooze."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.agents.models import Agent
from chalicelib.conversations.actions import is_snoozed, may_see, parse_mentions
from chalicelib.conversations.models import Conversation
from chalicelib.feed.service import audiences
from chalicelib.messages import iso

NOW = datetime(2025, 3, 1, 8, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "handles"),
    [
        ("@agent2 can you check the refund?", ["agent2"]),
        ("thanks @agent2.", ["agent2"]),
        ("ping @li.wei and @agent_3, then @li.wei again", ["li.wei", "agent_3"]),
        ("mail me at ops@example.com", []),
        ("@@agent2 (@agent1)", ["agent1"]),
        ("请 @agent2 看一下", ["agent2"]),
        ("no mention here", []),
    ],
)
def test_mentions_are_the_distinct_at_handles(text, handles):
    assert parse_mentions(text) == handles


def _conv(**kw):
    return Conversation(
        "cnv_1", customer_id="cus_1", group_id="presales", created_at="x", last_message_at="x", **kw
    )


def test_who_may_see_a_conversation():
    member = Agent("a1", display_name="A", role="agent", groups={"presales"})
    other = Agent("a2", display_name="B", role="agent", groups={"aftersales"})
    boss = Agent("s1", display_name="S", role="supervisor", groups=None)
    assert may_see(member, _conv())
    assert not may_see(other, _conv())
    assert may_see(other, _conv(assignee_id="a2"))
    assert may_see(boss, _conv())


def test_a_conversation_is_snoozed_until_its_time():
    assert not is_snoozed(_conv(), NOW)
    assert is_snoozed(_conv(snoozed_until=iso(NOW + timedelta(minutes=5))), NOW)
    assert not is_snoozed(_conv(snoozed_until=iso(NOW - timedelta(seconds=1))), NOW)


def test_feed_audiences_are_distinct_and_ordered():
    assert audiences(["agent1", "agent1", ""], ["presales"], True) == [
        "agent#agent1",
        "group#presales",
        "supervisors",
    ]
    assert audiences() == []
