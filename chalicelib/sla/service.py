"""Start and stop SLA executions; handle the events the state machine emits.

The execution name is the conversation id, so starting twice is harmless (Step Functions refuses a
second execution with the same name and input) and stopping needs no stored ARN.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from chalicelib import events
from chalicelib.aws import client
from chalicelib.config import settings
from chalicelib.conversations.models import Conversation
from chalicelib.events import ConversationAnswered
from chalicelib.observability import logger


def execution_arn(conversation_id: str) -> str:
    machine = settings().state_machine_arn
    return machine.replace(":stateMachine:", ":execution:") + f":{conversation_id}"


def start_first_response_clock(conversation: Conversation) -> None:
    """Watch the first-response deadline of a newly opened conversation."""
    if not settings().state_machine_arn or not conversation.first_response_due:
        return
    sfn = client("stepfunctions")
    try:
        sfn.start_execution(
            stateMachineArn=settings().state_machine_arn,
            name=conversation.conversation_id,
            input=json.dumps(
                {"conversation_id": conversation.conversation_id, "deadline": conversation.first_response_due}
            ),
        )
    except sfn.exceptions.ExecutionAlreadyExists:
        pass  # a redelivered message: the clock is already running


def stop_first_response_clock(conversation_id: str, reason: str) -> None:
    """The target was met (first reply) or is moot (closed): end the wait now, so no execution
    lingers and the breach branch can never run."""
    if not settings().state_machine_arn:
        return
    sfn = client("stepfunctions")
    try:
        sfn.stop_execution(executionArn=execution_arn(conversation_id), cause=reason)
    except (sfn.exceptions.ExecutionDoesNotExist, sfn.exceptions.InvalidArn):
        pass
    except sfn.exceptions.ClientError as exc:  # already finished
        logger.info("sla execution not stopped", extra={"reason": str(exc)[:200]})


def on_conversation_answered(event: ConversationAnswered) -> None:
    """Subscriber of ``ConversationAnswered`` (see ``chalicelib.bootstrap``)."""
    stop_first_response_clock(event.conversation_id, event.reason)


def handle_event(event: dict[str, Any]) -> None:
    """An event from a state machine: ``sla.breached`` (a conversation's first response) is recorded
    on the conversation and in its timeline, so the console shows it; ``sla.ticket`` (a ticket's
    warning or escalation level) is carried out by ``chalicelib.sla.escalation``."""
    from chalicelib.conversations import service as conversations

    if event.get("type") == "sla.ticket":
        from chalicelib.sla import escalation

        escalation.handle(event)
        return
    if event.get("type") != "sla.breached":
        logger.warning("unknown event type", extra={"type": event.get("type")})
        return
    conversation_id = str(event["conversation_id"])
    level = int(event.get("level", 1))
    if level == 1:
        events.publish(
            events.Announced(
                "sla.breached",
                {
                    "conversation_id": conversation_id,
                    "target": str(event.get("target", "first_response")),
                    "due": event.get("deadline"),
                },
            )
        )
    conversations.append_system_event(
        conversation_id,
        event=f"sla.breached.{event.get('target', 'first_response')}",
        text=f"First-response SLA breached (deadline {event.get('deadline')}); escalation level {level}",
        dedupe_key=f"sla#{conversation_id}#{event.get('target')}#{level}",
        count_as="sla_breached" if level == 1 else None,  # a conversation breaches once
    )


def handle_batch(
    event: dict[str, Any], also: Mapping[str, Callable[[dict[str, Any]], None]] | None = None
) -> dict[str, Any]:
    """The events queue handler body (partial batch failures: one bad event never blocks others).
    ``also`` maps other event types on the same queue to their handlers (given by the app, so this
    package names no capability above it), e.g. ``privacy.erase``."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    from chalicelib.db import identity_map

    @identity_map()  # one read per fact, per event
    def record_handler(record: Any) -> None:
        body = json.loads(record.body)
        other = (also or {}).get(str(body.get("type")))
        (other or handle_event)(body)

    return dict(
        process_partial_response(
            event=event, record_handler=record_handler, processor=BatchProcessor(event_type=EventType.SQS)
        )
    )
