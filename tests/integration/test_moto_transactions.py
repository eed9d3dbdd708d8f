"""The tests' moto runs the router's transactions at a cost that does not grow with the tables
(infra/local/moto_fast_transactions.py) and a cancelled one still writes nothing."""

from __future__ import annotations

import pytest
from pynamodb.exceptions import TransactWriteError

from chalicelib.db import transact_write
from chalicelib.feed.models import FeedEvent


def item(audience: str, kind: str = "message.new") -> FeedEvent:
    return FeedEvent(audience, "2026-01-01T00:00:00.000000#0001", kind=kind, expires_at=1)


def test_a_cancelled_transaction_leaves_every_item_as_it_was_and_the_others_alone(aws):
    item("agent#a", "conversation.closed").save()
    item("agent#untouched").save()
    with pytest.raises(TransactWriteError), transact_write() as tx:
        tx.save(item("agent#a"))  # overwrites a's kind ...
        tx.save(item("agent#new"))  # ... creates a new item ...
        tx.save(item("agent#untouched"), condition=FeedEvent.audience.does_not_exist())  # ... and fails
    assert FeedEvent.get("agent#a", "2026-01-01T00:00:00.000000#0001").kind == "conversation.closed"
    with pytest.raises(FeedEvent.DoesNotExist):
        FeedEvent.get("agent#new", "2026-01-01T00:00:00.000000#0001")
    assert FeedEvent.get("agent#untouched", "2026-01-01T00:00:00.000000#0001").kind == "message.new"


def test_a_transaction_does_not_copy_the_tables_it_writes(aws, monkeypatch):
    import copy

    from moto.dynamodb.models.table import Table

    real = copy.deepcopy
    copied: list[str] = []

    def spy(value, memo=None):
        if isinstance(value, Table):
            copied.append(value.name)
        return real(value, memo)

    monkeypatch.setattr(copy, "deepcopy", spy)
    with transact_write() as tx:
        tx.save(item("agent#b"))
    assert copied == []
