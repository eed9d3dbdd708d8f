"""One read per fact, counted: for each action agents take most, the DynamoDB requests of its one
HTTP request are at most the distinct items it touches (no item fetched twice, no request for
nothing). The same story and counter as ``make bench``'s "DynamoDB requests per API action"."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support.agent_actions import ACTIONS, ActionCount, measure, signed_in
from tests.support.ddbcount import DynamoCounter


@pytest.fixture
def counted(aws: dict[str, str]) -> Iterator[list[ActionCount]]:
    counter = DynamoCounter()
    counter.install()
    try:
        with signed_in(aws["OMNIFLOW_USER_POOL_ID"]) as session:
            yield measure(session, counter)
    finally:
        counter.uninstall()


def test_the_story_covers_every_action_agents_take_most(counted: list[ActionCount]) -> None:
    assert [r.action for r in counted] == list(ACTIONS)
    assert all(r.tally.total > 0 for r in counted), "a window that counted nothing cannot check anything"


@pytest.mark.parametrize("action", ACTIONS)
def test_an_action_makes_no_more_dynamodb_requests_than_items_it_touches(
    counted: list[ActionCount], action: str
) -> None:
    row = next(r for r in counted if r.action == action)
    assert row.tally.reread() == {}, f"{action} fetched an item more than once"
    assert row.tally.total <= row.tally.distinct, (
        f"{action}: {row.tally.total} requests ({row.tally.breakdown()}) for {row.tally.distinct} items"
    )
