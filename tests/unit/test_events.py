"""The in-process event dispatcher (chalicelib.events): order, the failure rule, the bootstrap table."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest

from chalicelib import bootstrap, events


@dataclass(frozen=True)
class Happened(events.Event):
    what: str


@dataclass(frozen=True)
class MustHappen(events.Event):
    critical: ClassVar[bool] = True
    what: str


@pytest.fixture(autouse=True)
def restore_subscriptions() -> Iterator[None]:
    yield
    bootstrap.install()


def test_publish_runs_every_subscriber_of_the_event_type_in_order() -> None:
    seen: list[tuple[str, str]] = []
    events.install(
        {
            Happened: [lambda e: seen.append(("first", e.what)), lambda e: seen.append(("second", e.what))],
            MustHappen: [lambda e: seen.append(("other", e.what))],
        }
    )
    events.publish(Happened("x"))
    assert seen == [("first", "x"), ("second", "x")]


def test_an_event_nobody_subscribed_to_is_a_no_op() -> None:
    events.install({})
    events.publish(Happened("x"))


def test_a_failing_subscriber_of_a_notification_is_logged_and_the_others_still_run(
    caplog: pytest.LogCaptureFixture,
) -> None:
    seen: list[str] = []

    def broken(_: Any) -> None:
        raise RuntimeError("boom")

    events.install({Happened: [broken, lambda e: seen.append(e.what)]})
    events.publish(Happened("x"))  # does not raise: the publisher's action has happened
    assert seen == ["x"]
    assert "event subscriber failed" in caplog.text


def test_a_failing_subscriber_of_a_critical_event_fails_the_publisher() -> None:
    seen: list[str] = []

    def broken(_: Any) -> None:
        raise RuntimeError("boom")

    events.install({MustHappen: [broken, lambda e: seen.append(e.what)]})
    with pytest.raises(RuntimeError, match="boom"):
        events.publish(MustHappen("x"))
    assert seen == []


def test_install_replaces_the_table_so_installing_twice_subscribes_once() -> None:
    seen: list[str] = []
    table = {Happened: [lambda e: seen.append(e.what)]}
    events.install(table)
    events.install(table)
    events.publish(Happened("x"))
    assert seen == ["x"]


def test_the_bootstrap_table_sends_ticket_changes_and_answers_to_the_sla_clocks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from chalicelib.sla import service as sla
    from chalicelib.sla import tickets as sla_tickets

    heard: list[tuple[str, str]] = []
    monkeypatch.setattr(sla_tickets, "on_ticket_changed", lambda e: heard.append(("deadlines", e.reason)))
    monkeypatch.setattr(sla, "on_conversation_answered", lambda e: heard.append(("clock", e.reason)))
    bootstrap.install()
    events.publish(events.TicketChanged(ticket=None, reason="created"))
    events.publish(events.ConversationAnswered("cnv_1", "first response sent"))
    assert heard == [("deadlines", "created"), ("clock", "first response sent")]
