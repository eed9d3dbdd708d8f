"""Tickets' SLA clocks: ``on_change`` keeps a ticket's ``sla_*`` fields and its Step Functions
execution in step with the ticket (it subscribes to ``events.TicketChanged``, which the tickets
capability publishes after every change that can move deadlines); reports and lists read what it
writes.

One execution of the ``ticket-sla`` machine per ticket and *clock*: ``sla_clock`` is bumped
whenever the deadlines change, and the execution is named ``<ticket_id>-<clock>``. The machine
compares its clock with the ticket's before acting, so an execution a newer clock replaced does
nothing even if stopping it failed; and a ticket with nothing to watch (met, solved, closed,
paused) has no execution at all.

Writes are conditional on the ticket's ``version`` (what the tickets service bumps on every change)
and on ``sla_clock``: a stale ``on_change`` loses rather than overwriting a newer one. A deadline's
outcome (met or breached) is decided once, in the same write, and counted in the report counters
in the same transaction."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from pynamodb.exceptions import TransactWriteError, UpdateError
from pynamodb.expressions.update import Action

from chalicelib.aws import client
from chalicelib.config import settings
from chalicelib.events import TicketChanged
from chalicelib.messages import iso, utcnow
from chalicelib.observability import logger, metrics
from chalicelib.sla import deadlines as dl
from chalicelib.sla import policies
from chalicelib.tickets.models import DUE_SHARD, Ticket

MAX_PAUSES = 200  # a ticket toggled more often than this keeps its most recent pauses


def parse(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def execution_name(ticket_id: str, clock: int) -> str:
    return f"{ticket_id}-{clock}"


def execution_arn(ticket_id: str, clock: int) -> str:
    machine = settings().ticket_state_machine_arn
    return machine.replace(":stateMachine:", ":execution:") + f":{execution_name(ticket_id, clock)}"


# ---- pauses ------------------------------------------------------------------------------------------
def load_pauses(raw: Any) -> list[dl.Pause]:
    out = []
    for p in raw or []:
        start = parse(p.get("start"))
        if start is not None:
            out.append(dl.Pause(start, parse(p.get("end")), str(p.get("status"))))
    return out


def dump_pauses(pauses: list[dl.Pause]) -> list[dict[str, Any]]:
    return [
        {"start": iso(p.start), "end": iso(p.end) if p.end else None, "status": p.status}
        for p in pauses[-MAX_PAUSES:]
    ]


def track_pauses(pauses: list[dl.Pause], status: str, at: datetime) -> list[dl.Pause]:
    """The pause intervals after the ticket's status became ``status`` at ``at`` (pure): a pausing
    status opens a pause (closing a running one of another status), any other closes it."""
    out = list(pauses)
    running = out[-1] if out and out[-1].end is None else None
    if running is not None and running.status == status:
        return out
    if running is not None:
        out[-1] = dl.Pause(running.start, max(at, running.start), running.status)
    if status in dl.PAUSE_STATUSES:
        out.append(dl.Pause(at, None, status))
    return out


# ---- the policy -----------------------------------------------------------------------------------
def _tier(ticket: Ticket) -> str | None:
    if not ticket.requester_id:
        return None
    from chalicelib.identity.models import Customer
    from chalicelib.routing.placement import customer_tier

    try:
        return customer_tier(Customer.get(ticket.requester_id))
    except Customer.DoesNotExist:
        return None


def policy_for(ticket: Ticket) -> policies.SlaPolicy:
    chosen = policies.policy_set().policies
    facts = policies.TicketFacts(
        priority=ticket.priority or "normal",
        tier=_tier(ticket) if policies.uses_tiers(chosen) else None,
        channel=ticket.channel,
        category=ticket.category,
    )
    return policies.choose(chosen, facts)


def _calendar(policy: policies.SlaPolicy) -> Any:
    if not policy.calendar:
        return None
    from chalicelib.calendars import service as calendars

    try:
        return calendars.get_calendar(policy.calendar)
    except KeyError:
        logger.error("SLA policy calendar missing; counting 24/7", extra={"policy_id": policy.policy_id})
        metrics.add_metric(name="SlaCalendarMissing", unit=MetricUnit.Count, value=1)
        return None


def times_of(ticket: Ticket, pauses: list[dl.Pause]) -> dl.TicketTimes:
    created = parse(ticket.created_at)
    assert created is not None
    return dl.TicketTimes(
        created_at=created,
        status=ticket.status,
        first_responded_at=parse(ticket.first_responded_at),
        last_public_reply_at=parse(ticket.last_public_reply_at),
        last_customer_reply_at=parse(ticket.last_customer_reply_at),
        solved_at=parse(ticket.solved_at),
        pauses=tuple(pauses),
    )


# ---- on_change ------------------------------------------------------------------------------------
def on_change(ticket: Ticket, reason: str) -> None:
    """Recompute the ticket's policy and deadlines after a change (``reason``: created, status,
    priority, category, agent_reply, customer_reply, solved, closed, reopened …), write them, and
    replace its SLA execution when they moved. Never raises: the ticket change has happened; a
    failure is logged and counted (metric ``SlaUpdateFailed``)."""
    try:
        _apply(ticket, reason, utcnow())
    except Exception:  # noqa: BLE001 — never fail the caller's action
        logger.exception("sla update failed", extra={"ticket_id": ticket.ticket_id, "reason": reason})
        metrics.add_metric(name="SlaUpdateFailed", unit=MetricUnit.Count, value=1)


def on_ticket_changed(event: TicketChanged) -> None:
    """Subscriber of ``TicketChanged`` (see ``chalicelib.bootstrap``)."""
    on_change(event.ticket, event.reason)


def _apply(ticket: Ticket, reason: str, now: datetime) -> None:
    policy = policy_for(ticket)
    changed_at = min(parse(ticket.updated_at) or now, now)
    pauses = track_pauses(load_pauses(ticket.sla_pauses), ticket.status, changed_at)
    computed = dl.compute(policy, _calendar(policy), times_of(ticket, pauses), now)
    reached = set((ticket.sla_breaches.as_dict() if ticket.sla_breaches else {}).keys())
    watch = dl.stops(computed, reached, now)
    first = dl.next_due(computed)

    dues: dict[str, str | None] = {t: None for t in policies.TARGETS}
    for d in computed:
        if d.state in ("pending", "met", "breached") and d.due is not None:
            dues[d.target] = iso(d.due)
    old_outcomes = dict(ticket.sla_outcomes.as_dict() if ticket.sla_outcomes else {})
    new_outcomes = {
        d.key: d.state
        for d in computed
        if d.state in ("met", "breached", "skipped") and d.key not in old_outcomes
    }
    old_clock = int(ticket.sla_clock) if ticket.sla_clock is not None else None
    # The deadlines moved (so the execution must be replaced) when the policy, a due time, the
    # pause or the set of finished deadlines changed.
    moved = (
        old_clock is None
        or bool(new_outcomes)
        or (
            ticket.sla_policy_id,
            ticket.sla_first_response_due,
            ticket.sla_next_response_due,
            ticket.sla_resolution_due,
            bool(ticket.sla_paused_at),
        )
        != (
            policy.policy_id,
            dues["first_response"],
            dues["next_response"],
            dues["resolution"],
            bool(pauses and pauses[-1].end is None),
        )
    )
    clock = (old_clock or 0) + 1 if moved else old_clock
    state = _state(computed, reached, now)
    running = pauses[-1] if pauses and pauses[-1].end is None else None

    actions: list[Action] = [
        Ticket.sla_policy_id.set(policy.policy_id),
        Ticket.sla_clock.set(clock),
        Ticket.sla_state.set(state),
        Ticket.sla_pauses.set(dump_pauses(pauses)),
        Ticket.sla_breaches.set(Ticket.sla_breaches | {}),
        Ticket.sla_level.set(Ticket.sla_level | 0),
    ]
    for target, attr in (
        ("first_response", Ticket.sla_first_response_due),
        ("next_response", Ticket.sla_next_response_due),
        ("resolution", Ticket.sla_resolution_due),
    ):
        due = dues[target]
        actions.append(attr.set(due) if due else attr.remove())
    if first is not None and first.due is not None:
        actions += [
            Ticket.sla_next_due.set(iso(first.due)),
            Ticket.sla_next_target.set(first.target),
            Ticket.due_key.set(DUE_SHARD),
        ]
    else:
        actions += [Ticket.sla_next_due.remove(), Ticket.sla_next_target.remove(), Ticket.due_key.remove()]
    actions.append(Ticket.sla_paused_at.set(iso(running.start)) if running else Ticket.sla_paused_at.remove())
    if new_outcomes:
        actions.append(Ticket.sla_outcomes.set({**old_outcomes, **new_outcomes}))

    condition = Ticket.version == ticket.version
    condition &= Ticket.sla_clock.does_not_exist() if old_clock is None else Ticket.sla_clock == old_clock
    counted = {k: v for k, v in new_outcomes.items() if v in ("met", "breached")}
    try:
        if counted:
            from chalicelib.sla import reports

            reports.write_with_counters(ticket, actions, condition, computed, counted, policy.policy_id, now)
        else:
            ticket.update(actions=actions, condition=condition)
    except (UpdateError, TransactWriteError) as exc:
        if _conditional(exc):
            # A newer change (its own on_change follows) or a concurrent one for the same version.
            logger.info("sla update lost to a newer change", extra={"ticket_id": ticket.ticket_id})
            return
        raise
    if moved:
        assert clock is not None
        replace_execution(ticket.ticket_id, old_clock, clock, watch, reason)


def _conditional(exc: Exception) -> bool:
    code = getattr(exc, "cause_response_code", None)
    return code in ("ConditionalCheckFailedException", "TransactionCanceledException")


def _state(computed: list[dl.Deadline], reached: set[str], now: datetime) -> str:
    pending = [d for d in computed if d.state == "pending"]
    if any(d.state == "paused" for d in computed) and not pending:
        return "paused"
    if not pending:
        return "met" if computed and all(d.state in ("met", "skipped") for d in computed) else "breached"
    if any(d.due is not None and d.due <= now for d in pending) or any(
        m.startswith(d.key + "#") for d in pending for m in reached
    ):
        return "breached"
    if any(d.warning_at is not None and d.warning_at <= now for d in pending):
        return "warning"
    return "ok"


# ---- executions ----------------------------------------------------------------------------------
def execution_input(ticket_id: str, clock: int, watch: list[dl.Stop]) -> dict[str, Any]:
    """The execution's input: the first stop, each stop holding the next (``OutputPath: $.next``
    moves along the chain without an extra state), each with the ticket id and clock."""
    chain: dict[str, Any] | None = None
    for stop in reversed(watch):
        link: dict[str, Any] = {
            "ticket_id": ticket_id,
            "clock": clock,
            "clock_s": str(clock),  # DynamoDB numbers are strings in the machine's comparisons
            "at": iso(stop.at),
            "due": iso(stop.due),
            "level_s": str(stop.level),
            "target": stop.target,
            "key": stop.key,
            "stage": stop.stage,
            "level": stop.level,
            "mark": stop.mark,
        }
        if chain is not None:
            link["next"] = chain
        chain = link
    assert chain is not None
    return chain


def replace_execution(
    ticket_id: str, old_clock: int | None, clock: int, watch: list[dl.Stop], why: str
) -> None:
    """Start the execution for ``clock`` (when there is something to watch), then stop the one for
    ``old_clock``. Names are deterministic, so a retried call cannot start a second one."""
    machine = settings().ticket_state_machine_arn
    if not machine:
        return
    sfn = client("stepfunctions")
    if watch:
        try:
            sfn.start_execution(
                stateMachineArn=machine,
                name=execution_name(ticket_id, clock),
                input=json.dumps(execution_input(ticket_id, clock, watch)),
            )
        except sfn.exceptions.ExecutionAlreadyExists:
            pass
    if old_clock is not None:
        try:
            sfn.stop_execution(
                executionArn=execution_arn(ticket_id, old_clock), cause=f"replaced: {why}"[:200]
            )
        except (sfn.exceptions.ExecutionDoesNotExist, sfn.exceptions.InvalidArn):
            pass
        except sfn.exceptions.ClientError as exc:  # already finished
            logger.info("ticket sla execution not stopped", extra={"reason": str(exc)[:200]})
