"""SLA reports: attainment per policy, skill group and agent from pre-aggregated daily counters,
and the tickets at risk or breached now (Queries on the tickets table's ``by_due`` index).

Counters move only by atomic ADD, in the same transaction as the ticket write that decides a
deadline's outcome (``chalicelib.sla.tickets``), so each finished deadline is counted exactly once,
on the UTC day it finished: met when answered (or solved) by its due time, breached otherwise."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from typing import Any

from chalicelib.db import transact_write
from chalicelib.errors import Invalid
from chalicelib.messages import iso, utcnow
from chalicelib.sla import deadlines as dl
from chalicelib.sla.models import SlaStat
from chalicelib.tickets.models import DUE_SHARD, Ticket

DIMENSIONS = ("policy", "group", "agent")
MAX_DAYS = 92
MAX_ITEMS = 200
NONE = "-"  # the key of tickets without a group or assignee


def period(by: str, day: date) -> str:
    return f"{by}#{day.isoformat()}"


def write_with_counters(
    ticket: Ticket,
    actions: list[Any],
    condition: Any,
    computed: list[dl.Deadline],
    counted: Mapping[str, str],
    policy_id: str,
    now: datetime,
) -> None:
    """The ticket's SLA write and the counters of the outcomes it decides, all or nothing."""
    finished = {d.key: d for d in computed}
    adds: dict[date, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for key, outcome in counted.items():
        deadline = finished[key]
        day = (deadline.completed_at or now).date()
        adds[day][outcome] += 1
        adds[day][f"{deadline.target}_{outcome}"] += 1
    with transact_write() as tx:
        tx.update(ticket, actions=actions, condition=condition)
        for day, counts in adds.items():
            for by, key in (
                ("policy", policy_id),
                ("group", ticket.group_id or NONE),
                ("agent", ticket.assignee_id or NONE),
            ):
                stat = SlaStat(period(by, day), key)
                tx.update(stat, actions=[getattr(SlaStat, name).add(n) for name, n in counts.items()])


def _days(start: date, end: date) -> list[date]:
    if end < start:
        raise Invalid("to is before from")
    if (end - start).days >= MAX_DAYS:
        raise Invalid(f"at most {MAX_DAYS} days")
    return [start + timedelta(days=i) for i in range((end - start).days + 1)]


def attainment(by: str, start: date, end: date) -> dict[str, Any]:
    """Met, breached and attainment % per key (and per target) for the days ``start``…``end``
    (UTC, inclusive): one Query per day."""
    if by not in DIMENSIONS:
        raise Invalid(f"by must be one of {', '.join(DIMENSIONS)}")
    fields = [
        "met",
        "breached",
        *(f"{t}_{o}" for t in ("first_response", "next_response", "resolution") for o in ("met", "breached")),
    ]
    totals: dict[str, dict[str, int]] = defaultdict(lambda: dict.fromkeys(fields, 0))
    for day in _days(start, end):
        for stat in SlaStat.query(period(by, day)):
            for name in fields:
                totals[stat.key][name] += int(getattr(stat, name) or 0)

    def pct(met: int, breached: int) -> float | None:
        return round(100 * met / (met + breached), 1) if met + breached else None

    items = []
    for key in sorted(totals):
        t = totals[key]
        items.append(
            {
                by: None if key == NONE else key,
                "met": t["met"],
                "breached": t["breached"],
                "attainment_percent": pct(t["met"], t["breached"]),
                "targets": {
                    target: {
                        "met": t[f"{target}_met"],
                        "breached": t[f"{target}_breached"],
                        "attainment_percent": pct(t[f"{target}_met"], t[f"{target}_breached"]),
                    }
                    for target in ("first_response", "next_response", "resolution")
                },
            }
        )
    return {"by": by, "from": start.isoformat(), "to": end.isoformat(), "items": items}


def ticket_view(t: Ticket) -> dict[str, Any]:
    return {
        "ticket_id": t.ticket_id,
        "number": int(t.number) if t.number is not None else None,
        "subject": t.subject,
        "status": t.status,
        "priority": t.priority,
        "assignee_id": t.assignee_id,
        "group_id": t.group_id,
        "sla_policy_id": t.sla_policy_id,
        "sla_state": t.sla_state,
        "sla_next_target": t.sla_next_target,
        "sla_next_due": t.sla_next_due,
        "sla_level": int(t.sla_level) if t.sla_level is not None else None,
    }


def at_risk(within_minutes: int = 60, limit: int = 50) -> dict[str, Any]:
    """Tickets whose next deadline falls within the next ``within`` minutes (default 60), soonest
    first: one Query on ``by_due`` (the route's query model holds both in range)."""
    now = utcnow()
    items = Ticket.by_due.query(
        DUE_SHARD,
        Ticket.sla_next_due.between(iso(now), iso(now + timedelta(minutes=within_minutes))),
        limit=min(limit, MAX_ITEMS),
    )
    return {"items": [ticket_view(t) for t in items], "as_of": iso(now)}


def breached(limit: int = 50) -> dict[str, Any]:
    """Tickets past their next deadline and not yet solved (nor paused), most overdue first: one
    Query on ``by_due``."""
    now = utcnow()
    items = Ticket.by_due.query(DUE_SHARD, Ticket.sla_next_due < iso(now), limit=min(limit, MAX_ITEMS))
    return {"items": [ticket_view(t) for t in items], "as_of": iso(now)}


def parse_day(value: str | None, default: date) -> date:
    if not value:
        return default
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        raise Invalid(f"bad date {value!r}: use YYYY-MM-DD") from None
