"""In-process domain events (foundation): a capability announces a change, the capabilities that
must react subscribe, so no capability imports one above it to make it react.

The table of who reacts to what is installed by ``app.py`` (our bootstrap) with :func:`install`;
publishers never import their subscribers. Handlers run synchronously, in the publisher's request
or message, in the order listed.

Failure rule: an event is a fact that has already happened (the ticket is saved, the reply is
queued), so a failing subscriber is logged and the remaining subscribers still run; the publisher's
action stands. An event class that sets ``critical = True`` is a command in disguise: the first
failing subscriber's exception propagates to the publisher (its request answers an error, its
queue message is retried).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

from chalicelib.observability import logger


@dataclass(frozen=True)
class Event:
    critical: ClassVar[bool] = False


@dataclass(frozen=True)
class TicketChanged(Event):
    """A ticket was created or changed in a way that can move its SLA deadlines (status, priority,
    category, a reply …). ``ticket`` is the saved ``tickets.models.Ticket`` (typed loosely: the
    foundation names no capability's model), passed on so no subscriber reads it again."""

    ticket: Any
    reason: str


@dataclass(frozen=True)
class ConversationAnswered(Event):
    """The customer got a first response (or no longer waits for one, e.g. a survey answer closed
    the conversation): the first-response clock stops."""

    conversation_id: str
    reason: str


@dataclass(frozen=True)
class Activity(Event):
    """A countable fact for the analytics (``chalicelib.analytics``): ``event_id`` is stable for the
    fact (a redelivery carries the same id, so it never counts twice), ``at`` its own UTC time (ISO
    8601; out-of-order delivery lands in the right bucket), ``dims`` what it is counted by
    (channel, group, agent, priority), ``seconds`` the durations it closes, e.g.
    ``{"first_response": 42}``, and ``values`` the scores it carries (``{"csat": 4}``). The kinds
    are listed in ``chalicelib.analytics.aggregator.COUNTERS``. No PII: no text, phone or e-mail
    goes in here."""

    event_id: str
    kind: str  # conversation_opened | message_in | message_out | conversation_closed | ...
    at: str
    dims: Mapping[str, str]
    seconds: Mapping[str, int] = field(default_factory=dict)
    flags: Mapping[str, bool] = field(default_factory=dict)  # e.g. {"sla_met": True}
    values: Mapping[str, int] = field(default_factory=dict)  # e.g. {"csat": 4}


@dataclass(frozen=True)
class CustomerMessageStored(Event):
    """A customer's message was stored (not a redelivery, not an agent's own). ``customer`` is the
    ``identity.models.Customer`` the router already loaded and ``message`` the stored
    ``conversations.models.Message`` (typed loosely, as above), so subscribers read neither again."""

    customer: Any
    message: Any


@dataclass(frozen=True)
class CsatAnswered(Event):
    """A customer answered a satisfaction survey (1..5) for a ticket; ``conversation_ids`` are the
    ticket's linked conversations (their quality score cards keep the answer)."""

    ticket_id: str
    score: int
    conversation_ids: tuple[str, ...]


@dataclass(frozen=True)
class Announced(Event):
    """A fact outside systems may hear about (outgoing webhooks): ``type`` is the public event name
    (``message.created``, ``conversation.created``, ``ticket.updated`` …), ``data`` its JSON-ready
    payload. Publishers announce; ``bootstrap`` decides who listens."""

    type: str
    data: Mapping[str, Any]


Handler = Callable[[Any], None]
_table: dict[type[Event], tuple[Handler, ...]] = {}


def install(table: Mapping[type[Event], Sequence[Handler]]) -> None:
    """Replace every subscription with ``table`` (idempotent: importing ``app`` twice changes
    nothing)."""
    _table.clear()
    _table.update({kind: tuple(handlers) for kind, handlers in table.items()})


def subscribers(kind: type[Event]) -> tuple[Handler, ...]:
    return _table.get(kind, ())


def publish(event: Event) -> None:
    """Run every subscriber of ``type(event)`` now (see the failure rule in the module docstring)."""
    for handler in _table.get(type(event), ()):
        try:
            handler(event)
        except Exception:  # the failure rule above
            if event.critical:
                raise
            logger.exception(
                "event subscriber failed",
                extra={"event": type(event).__name__, "subscriber": getattr(handler, "__qualname__", "?")},
            )
