"""What the ticket SLA machine's events do (``sla.ticket`` on the events queue):

- warning: a feed event for the assignee and the ticket's group, and a history event;
- level 1 (breach): notify the assignee and the team lead (feed), raise the priority one step, and
  record it on the ticket's history;
- level 2: reassign to the team lead, alert the managers (SNS, like the conversation breach) and
  the console (feed, supervisors), recorded.

Exactly once per level even when SQS redelivers: a marker in the ``state`` table is claimed with a
conditional put before acting and holds the plan (the priority to set, the lead to assign), so a
retry after a partial failure repeats the same, idempotent, changes; a marker marked ``done`` turns
a redelivery into a no-op. The state machine's own conditional write already emits each level once.
"""

from __future__ import annotations

import time
from typing import Any

from chalicelib import events
from chalicelib.aws import client
from chalicelib.config import settings
from chalicelib.observability import logger
from chalicelib.tickets.models import PRIORITIES, Ticket

MARKER_DAYS = 90
ACTOR = "sla"


def raised(priority: str | None) -> str:
    """One step up (urgent stays urgent)."""
    current = PRIORITIES.index(priority) if priority in PRIORITIES else PRIORITIES.index("normal")
    return PRIORITIES[min(current + 1, len(PRIORITIES) - 1)]


def team_lead(group_id: str | None) -> str | None:
    if not group_id:
        return None
    from chalicelib.agents.models import SkillGroup

    try:
        return SkillGroup.get(group_id).lead_id
    except SkillGroup.DoesNotExist:
        return None


def marker_key(event: dict[str, Any]) -> str:
    step = "warning" if event.get("stage") == "warning" else f"level{int(event.get('level', 1))}"
    return f"sla-ticket#{event['ticket_id']}#{event.get('key') or event.get('target')}#{step}"


def _claim(key: str, plan: dict[str, str]) -> dict[str, Any] | None:
    """The plan to carry out: ours when the marker was new, the first attempt's when a retry finds
    it unfinished; None when it is done."""
    ddb, table = client("dynamodb"), settings().table("state")
    item = {
        "key": {"S": key},
        "state": {"S": "claimed"},
        "expires_at": {"N": str(int(time.time()) + MARKER_DAYS * 86400)},
        **{f"plan_{k}": {"S": v} for k, v in plan.items()},
    }
    try:
        ddb.put_item(
            TableName=table,
            Item=item,
            ConditionExpression="attribute_not_exists(#k)",
            ExpressionAttributeNames={"#k": "key"},
        )
        return dict(plan)
    except ddb.exceptions.ConditionalCheckFailedException:
        stored = ddb.get_item(TableName=table, Key={"key": {"S": key}}, ConsistentRead=True).get("Item", {})
        if stored.get("state", {}).get("S") == "done":
            return None
        return {k[5:]: v["S"] for k, v in stored.items() if k.startswith("plan_")}


def _done(key: str) -> None:
    client("dynamodb").update_item(
        TableName=settings().table("state"),
        Key={"key": {"S": key}},
        UpdateExpression="SET #s = :done",
        ExpressionAttributeNames={"#s": "state"},
        ExpressionAttributeValues={":done": {"S": "done"}},
    )


def handle(event: dict[str, Any]) -> None:
    """One ``sla.ticket`` event (see the module docstring)."""
    from chalicelib.feed import service as feed
    from chalicelib.tickets import service as tickets

    ticket_id = str(event["ticket_id"])
    stage, level, target = str(event.get("stage")), int(event.get("level", 0)), str(event.get("target"))
    try:
        ticket = Ticket.get(ticket_id, consistent_read=True)
    except Ticket.DoesNotExist:
        logger.warning("sla event for a missing ticket", extra={"ticket_id": ticket_id})
        return
    lead = team_lead(ticket.group_id)
    plan: dict[str, str] = {}
    if stage == "breach" and level == 1:
        plan["priority"] = raised(ticket.priority)
    if stage == "breach" and level >= 2 and lead:
        plan["assignee"] = lead
    key = marker_key(event)
    claimed = _claim(key, plan)
    if claimed is None:
        logger.info(
            "sla event already handled", extra={"ticket_id": ticket_id, "stage": stage, "level": level}
        )
        return
    data = {
        "target": target,
        "stage": stage,
        "level": level,
        "due": event.get("due"),
        "clock": event.get("clock"),
    }
    assignee = ticket.assignee_id
    if stage == "warning" or level == 1:  # the first breach (escalation levels are internal)
        events.publish(
            events.Announced(
                "sla.warning" if stage == "warning" else "sla.breached",
                {"ticket_id": ticket_id, "target": target, "due": event.get("due")},
            )
        )

    if stage == "warning":
        feed.publish(
            "ticket.sla_warning",
            agents=[assignee or ""],
            groups=[ticket.group_id or ""],
            supervisors=False,
            data={"ticket_id": ticket_id, **data},
        )
        tickets.add_event(
            ticket_id,
            "sla_warning",
            ACTOR,
            text=f"SLA warning: {target.replace('_', ' ')} due {event.get('due')}",
            data=data,
        )
    elif level == 1:
        feed.publish(
            "ticket.sla_breached",
            agents=[assignee or "", lead or ""],
            supervisors=True,
            data={"ticket_id": ticket_id, **data},
        )
        if claimed.get("priority") and claimed["priority"] != ticket.priority:
            tickets.set_priority(ticket_id, claimed["priority"], ACTOR)
        tickets.add_event(
            ticket_id,
            "escalated",
            ACTOR,
            text=f"SLA breached ({target.replace('_', ' ')}, due {event.get('due')}): escalation level 1, "
            f"priority {ticket.priority} → {claimed.get('priority', ticket.priority)}, "
            "assignee and team lead notified",
            data={
                **data,
                "priority": claimed.get("priority"),
                "notified": [a for a in (assignee, lead) if a],
            },
        )
    else:
        new_owner = claimed.get("assignee")
        if new_owner and new_owner != ticket.assignee_id:
            tickets.assign(ticket_id, ACTOR, assignee_id=new_owner, group_id=ticket.group_id)
        if settings().alerts_topic_arn:
            client("sns").publish(
                TopicArn=settings().alerts_topic_arn,
                Subject="Omniflow ticket SLA escalated",
                Message=f"Ticket {ticket_id}: {target} SLA breached (due {event.get('due')}); "
                f"escalation level {level}, reassigned to {new_owner or 'nobody (no team lead)'}",
            )
        feed.publish(
            "ticket.sla_escalated",
            agents=[new_owner or "", assignee or ""],
            supervisors=True,
            data={"ticket_id": ticket_id, "assignee_id": new_owner, **data},
        )
        tickets.add_event(
            ticket_id,
            "escalated",
            ACTOR,
            text=f"SLA breached ({target.replace('_', ' ')}): escalation level {level}, "
            f"reassigned to {new_owner or 'nobody (the group has no team lead)'}, managers alerted",
            data={**data, "assignee_id": new_owner, "previous_assignee_id": assignee},
        )
    _done(key)
