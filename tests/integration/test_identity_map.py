"""The per-invocation identity map (chalicelib.db): inside one scope an item is fetched once; writes
keep it current; a failed write forgets it, so a cached item never changes what a conditional write
does; nothing survives the scope (warm invocations, tests)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pynamodb.exceptions import PutError, TransactWriteError, UpdateError

from chalicelib import db
from chalicelib.agents import service as agents
from chalicelib.agents.models import Agent, SkillGroup
from tests.support.ddbcount import DynamoCounter


@pytest.fixture
def counter(aws: dict[str, str]) -> Iterator[DynamoCounter]:
    c = DynamoCounter()
    c.install()
    yield c
    c.uninstall()


def _elsewhere_sets_name(agent_id: str, name: str) -> None:
    """Another Lambda changes the item (outside this invocation's map)."""
    with db.identity_map():
        Agent.get(agent_id).update(actions=[Agent.display_name.set(name)])


def test_a_second_get_of_an_item_in_one_scope_asks_dynamodb_nothing(counter: DynamoCounter) -> None:
    agents.put_agent("a1", "Ann", "agent", ["presales"])
    with counter.window() as outside:
        Agent.get("a1"), Agent.get("a1")
    with db.identity_map(), counter.window() as inside:
        first, second = Agent.get("a1"), Agent.get("a1")
        first.display_name = "changed locally, never saved"
        third = Agent.get("a1")
    assert outside.requests["GetItem"] == 2
    assert inside.requests["GetItem"] == 1
    assert first is not second and (second.display_name, third.display_name) == ("Ann", "Ann")


def test_a_missing_item_is_asked_for_once_and_a_later_save_is_seen(counter: DynamoCounter) -> None:
    with db.identity_map(), counter.window() as tally:
        assert agents.get_agent("ghost") is None
        assert agents.get_agent("ghost") is None
        agents.put_agent("ghost", "Now here", "agent", [])
        assert Agent.get("ghost").display_name == "Now here"
    assert tally.requests == {"GetItem": 1, "PutItem": 1}


def test_writes_keep_the_map_current(counter: DynamoCounter) -> None:
    agents.put_agent("a1", "Ann", "agent", ["presales"])
    with db.identity_map():
        a = Agent.get("a1")
        a.update(actions=[Agent.display_name.set("Anne"), Agent.rev.add(1)])
        with counter.window() as tally:
            again = Agent.get("a1", consistent_read=True)  # our own write answers a consistent read
        assert (again.display_name, again.rev) == ("Anne", 1)
        again.delete()
        with pytest.raises(Agent.DoesNotExist):
            Agent.get("a1")
    assert tally.total == 0


def test_a_failed_conditional_write_forgets_the_item_so_the_retry_reads_dynamodb(
    counter: DynamoCounter,
) -> None:
    agents.put_agent("a1", "Ann", "agent", ["presales"])
    with db.identity_map():
        stale = Agent.get("a1")
        _elsewhere_sets_name("a1", "Changed elsewhere")
        assert Agent.get("a1").display_name == "Ann"  # the map answers what this invocation read
        with pytest.raises(UpdateError):
            stale.update(actions=[Agent.rev.add(1)], condition=Agent.display_name == "Ann")
        with counter.window() as tally:
            fresh = Agent.get("a1")
        with pytest.raises(PutError):
            SkillGroup("g1", name="G").save(condition=SkillGroup.group_id.exists())
        assert list(SkillGroup.batch_get(["g1"])) == []
    assert tally.requests["GetItem"] == 1 and fresh.display_name == "Changed elsewhere"


def test_a_consistent_read_is_not_answered_by_an_eventually_consistent_one(counter: DynamoCounter) -> None:
    agents.put_agent("a1", "Ann", "agent", [])
    with db.identity_map(), counter.window() as tally:
        Agent.get("a1")
        Agent.get("a1", consistent_read=True)
        Agent.get("a1", consistent_read=True)
        Agent.get("a1")
    assert tally.requests["GetItem"] == 2


def test_batch_get_asks_only_for_the_items_not_yet_known(counter: DynamoCounter) -> None:
    for gid in ("g1", "g2", "g3"):
        agents.put_group(gid, gid.upper())
    with db.identity_map():
        SkillGroup.get("g1")
        with counter.window() as tally:
            got = sorted(g.group_id for g in SkillGroup.batch_get(["g1", "g2", "g3", "nope"]))
            SkillGroup.get("g3")
            with pytest.raises(SkillGroup.DoesNotExist):
                SkillGroup.get("nope")
    assert got == ["g1", "g2", "g3"]
    assert tally.requests == {"BatchGetItem": 1}
    assert len(tally.items) == 3  # g2, g3 and the missing one


def test_a_transaction_updates_the_map_on_commit_and_forgets_on_failure(counter: DynamoCounter) -> None:
    agents.put_agent("a1", "Ann", "agent", [])
    with db.identity_map():
        a = Agent.get("a1")
        with db.transact_write() as tx:
            tx.save(SkillGroup("g1", name="G"))
            tx.update(a, actions=[Agent.rev.add(1)])
        with counter.window() as after_commit:
            assert SkillGroup.get("g1").name == "G"  # put by the transaction: known
            assert Agent.get("a1").rev == 1  # updated: read again
        _elsewhere_sets_name("a1", "Elsewhere")
        Agent.get("a1")
        with pytest.raises(TransactWriteError), db.transact_write() as tx:
            tx.save(SkillGroup("g2", name="G2"))
            tx.condition_check(Agent, "a1", condition=Agent.display_name == "Nobody")
        with counter.window() as after_failure:
            assert Agent.get("a1").display_name == "Elsewhere"
    assert after_commit.requests == {"GetItem": 1}
    assert after_failure.requests == {"GetItem": 1}


def test_nothing_outlives_its_scope_and_a_nested_scope_starts_empty(counter: DynamoCounter) -> None:
    agents.put_agent("a1", "Ann", "agent", [])
    with db.identity_map():
        Agent.get("a1")
        with counter.window() as nested:
            with db.identity_map():
                Agent.get("a1")
            Agent.get("a1")  # the outer map is back
    with counter.window() as after:
        with db.identity_map():
            Agent.get("a1")
        Agent.get("a1")  # no scope: straight to DynamoDB
    assert nested.requests["GetItem"] == 1
    assert after.requests["GetItem"] == 2


def test_every_api_request_gets_a_fresh_map(api, counter: DynamoCounter) -> None:
    agent = api("agent1")
    for _ in range(2):
        with counter.window() as tally:
            r = agent.get("/me")
        assert r.status_code == 200
        assert tally.requests["GetItem"] == 1  # read in this request, not remembered from the last
