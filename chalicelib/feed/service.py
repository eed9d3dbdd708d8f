"""Publish events to the feed and read an agent's feed with a cursor.

``publish`` is called after a service's own write has succeeded (a new message, an assignment, a
note that mentions someone) and never fails that action: a feed write that fails is logged and
counted (metric ``FeedPublishFailed``), and the console's next full refresh shows the change.

``read`` costs one GetItem (the agent's skill groups) and one Query per audience, whatever the
history: each Query starts at the cursor's watermark, at most ``cursor.OVERLAP`` back.

On the router's path the events of one message are collected (``collecting()``): ``take()`` hands
them, stamped, to the transaction that stores the message (they are written with it, or not at
all), and what is published after that is written with one BatchWriteItem when the scope ends.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from chalicelib.agents import service as agents
from chalicelib.auth.service import Principal
from chalicelib.errors import Invalid
from chalicelib.feed import cursor as feed_cursor
from chalicelib.feed.cursor import Page
from chalicelib.feed.models import FeedEvent
from chalicelib.messages import iso, utcnow
from chalicelib.observability import logger, metrics

# The kinds published today (docs/realtime.md lists who publishes which). Any "<noun>.<verb>" name
# is accepted, so a new kind needs no change here.
KINDS = frozenset(
    {
        "message.new",
        "conversation.assigned",
        "conversation.transferred",
        "conversation.queued",
        "conversation.closed",
        "conversation.updated",
        "presence.changed",
        "note.mention",
    }
)
TTL_SECONDS = 24 * 3600
MAX_EVENTS = 200  # per poll; the cursor continues where a capped answer stopped
RESET_AFTER = timedelta(minutes=15)  # an older cursor gets "reset": reload the views instead
SUPERVISORS = "supervisors"
_KIND = re.compile(r"^[a-z]+(?:\.[a-z_]+)+$")
_BATCH = 25  # BatchWriteItem's limit
_ATTEMPTS = 3


@dataclass(frozen=True)
class _Pending:
    """One event to write: one item per audience, all under one event id."""

    targets: tuple[str, ...]
    kind: str
    conversation_id: str | None
    data: dict[str, Any] | None


_outbox: ContextVar[list[_Pending] | None] = ContextVar("omniflow_feed_outbox", default=None)


@contextmanager
def collecting() -> Iterator[None]:
    """Collect what is published inside the scope; on exit (also after an error: what was published
    happened) write what no transaction took, in one BatchWriteItem per 25 items. Never raises
    for the feed's sake. A nested scope joins the outer one."""
    if _outbox.get() is not None:
        yield
        return
    token = _outbox.set([])
    try:
        yield
    finally:
        pending = _outbox.get() or []
        _outbox.reset(token)
        if pending:
            try:
                _write(pending)
            except Exception as exc:  # noqa: BLE001 — the caller's actions have already happened
                logger.warning(
                    "feed publish failed", extra={"error": type(exc).__name__, "events": len(pending)}
                )
                metrics.add_metric(name="FeedPublishFailed", unit=MetricUnit.Count, value=1)


def take() -> list[FeedEvent]:
    """The events collected so far as items stamped now, for a transaction to write; they leave
    the outbox (if that transaction fails they are not written: what they announce did not
    happen). Empty outside ``collecting()``."""
    pending = _outbox.get()
    if not pending:
        return []
    taken = list(pending)
    pending.clear()
    expires = int(time.time()) + TTL_SECONDS
    return [
        FeedEvent(
            a, event_id, kind=e.kind, conversation_id=e.conversation_id, data=e.data, expires_at=expires
        )
        for e in taken
        for event_id in [new_event_id()]
        for a in e.targets
    ]


def agent_audience(agent_id: str) -> str:
    return f"agent#{agent_id}"


def group_audience(group_id: str) -> str:
    return f"group#{group_id}"


def new_event_id() -> str:
    return f"{iso(utcnow())}#{uuid.uuid4().hex[:8]}"


def audiences(
    agents_: Iterable[str] = (), groups: Iterable[str] = (), supervisors: bool = False
) -> list[str]:
    """The feed partitions an event goes to (each once, in a stable order). Pure."""
    out = [agent_audience(a) for a in agents_ if a] + [group_audience(g) for g in groups if g]
    if supervisors:
        out.append(SUPERVISORS)
    return list(dict.fromkeys(out))


def publish(
    kind: str,
    *,
    conversation_id: str | None = None,
    agents: Iterable[str] = (),
    groups: Iterable[str] = (),
    supervisors: bool = True,
    data: dict[str, Any] | None = None,
) -> None:
    """Tell the given agents, skill groups (and by default the supervisors) that ``kind`` happened.
    One item per audience, written with BatchWriteItem, all with the same event id (an agent who
    reads two of these audiences gets it once) — or, inside ``collecting()``, later with the
    scope's other events. Never raises. Put ids in ``data``, not content: the console fetches what
    it shows through the API, with its access checks."""
    if not _KIND.match(kind):  # a programming error: loud in tests, before anything is written
        raise Invalid(f"bad feed event kind {kind!r}")
    targets = audiences(agents, groups, supervisors)
    if not targets:
        return
    event = _Pending(tuple(targets), kind, conversation_id, data)
    outbox = _outbox.get()
    if outbox is not None:
        outbox.append(event)
        return
    try:
        _write([event])
    except Exception as exc:  # noqa: BLE001 — the caller's action has already happened
        logger.warning(
            "feed publish failed",
            extra={"kind": kind, "conversation_id": conversation_id, "error": type(exc).__name__},
        )
        metrics.add_metric(name="FeedPublishFailed", unit=MetricUnit.Count, value=1)


def _write(events: list[_Pending]) -> None:
    """Write one item per audience of each event, each event stamped just before sending, so it
    becomes visible right after its stamp time — what lets readers trail by only ``OVERLAP`` (see
    feed/cursor.py). Items DynamoDB leaves unprocessed are retried under the same id while it is
    fresh, else re-stamped."""
    from chalicelib.aws import client

    ddb = client("dynamodb")
    table = FeedEvent.Meta.table_name
    pending = [(e, a) for e in events for a in e.targets]
    stamped = time.monotonic()
    ids = {id(e): new_event_id() for e in events}
    for attempt in range(_ATTEMPTS):
        if time.monotonic() - stamped > feed_cursor.OVERLAP.total_seconds() / 2:
            # Too old to be written now: a fresh stamp (readers then see this copy under a new id).
            ids, stamped = {id(e): new_event_id() for e, _ in pending}, time.monotonic()
        expires = int(time.time()) + TTL_SECONDS
        unprocessed: list[tuple[_Pending, str]] = []
        for i in range(0, len(pending), _BATCH):
            chunk = pending[i : i + _BATCH]
            items = {(a, ids[id(e)]): (e, a) for e, a in chunk}
            answer = ddb.batch_write_item(
                RequestItems={
                    table: [
                        {
                            "PutRequest": {
                                "Item": FeedEvent(
                                    a,
                                    ids[id(e)],
                                    kind=e.kind,
                                    conversation_id=e.conversation_id,
                                    data=e.data,
                                    expires_at=expires,
                                ).serialize()
                            }
                        }
                        for e, a in chunk
                    ]
                }
            )
            unprocessed += [
                items[(r["PutRequest"]["Item"]["audience"]["S"], r["PutRequest"]["Item"]["event_id"]["S"])]
                for r in answer.get("UnprocessedItems", {}).get(table, [])
            ]
        if time.monotonic() - stamped > feed_cursor.OVERLAP.total_seconds() / 2:
            logger.warning(
                "feed write was slow", extra={"kinds": sorted({e.kind for e in events}), "attempt": attempt}
            )
            metrics.add_metric(name="FeedLateWrite", unit=MetricUnit.Count, value=1)
        if not unprocessed:
            return
        pending = unprocessed
        time.sleep(0.05 * 2**attempt)
    raise RuntimeError(f"{len(pending)} feed items unprocessed")


def principal_audiences(p: Principal) -> list[str]:
    """Whose events an agent sees: their own, their skill groups', and the supervisors' if they
    are a supervisor or admin (one GetItem for the groups)."""
    return audiences([p.agent_id], sorted(agents.groups_of(p.agent_id)), p.allows("supervisor"))


def event_view(e: FeedEvent) -> dict[str, Any]:
    out: dict[str, Any] = {"event_id": e.event_id, "kind": e.kind, "at": feed_cursor.stamp_time(e.event_id)}
    if e.conversation_id:
        out["conversation_id"] = e.conversation_id
    out["data"] = e.data or {}
    return out


def read(p: Principal, cursor: str | None, *, limit: int = MAX_EVENTS) -> dict[str, Any]:
    """The events for ``p`` after ``cursor``, oldest first, and the cursor to pass next time.
    Without a cursor: no events, and a cursor from now. A cursor more than ``RESET_AFTER`` old:
    no events, ``"reset": true`` and a cursor from now."""
    now = utcnow()  # before the Queries: everything stamped before now - OVERLAP is visible to them
    state = feed_cursor.decode(cursor, now) if cursor else feed_cursor.start(now)
    if cursor and state.since < iso(now - RESET_AFTER):
        # Back from sleep or a lost network: replaying a long gap event by event would cost more
        # than reloading the views, so the console is told to reload and gets a cursor from now.
        return {"events": [], "cursor": read(p, None)["cursor"], "reset": True}
    query_limit = limit + len(state.seen) + 1
    pages: list[Page] = []
    events: dict[str, FeedEvent] = {}
    for audience in principal_audiences(p):
        found = list(
            FeedEvent.query(
                audience,
                FeedEvent.event_id > state.since,
                consistent_read=True,
                limit=query_limit,
                page_size=query_limit,
            )
        )
        for e in found:
            events.setdefault(e.event_id, e)
        pages.append(Page([e.event_id for e in found], truncated=len(found) >= query_limit))
    delivered, state = feed_cursor.advance(state, pages, now, limit)
    return {
        "events": [event_view(events[i]) for i in delivered] if cursor else [],
        "cursor": feed_cursor.encode(state),
    }
