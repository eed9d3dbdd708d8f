"""Inbound queue consumer.

For each normalized message: who is the customer (identity) → which conversation, in order and
exactly once (conversations) → where a new conversation goes (routing: rules, then intent) and who
takes it (assignment), and its first-response clock (sla); the console hears of it (feed). Where
the rules say ``bot_first``, the bot (chalicelib/bot) holds the conversation until it resolves it
or hands it to the queue.

Failures are reported per record (powertools' FIFO partial processor): a failed record and the
rest of *its* message group go back to the queue, other senders' messages carry on, and after
``maxReceiveCount`` deliveries the record is parked in the DLQ.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import Json

from chalicelib import channels, events, routing
from chalicelib.assignment import service as assignment
from chalicelib.assist import service as assist
from chalicelib.bot import service as bot
from chalicelib.conversations import service as conversations
from chalicelib.db import identity_map
from chalicelib.feed import service as feed
from chalicelib.identity import service as identity
from chalicelib.messages import InboundMessage
from chalicelib.observability import logger, metrics
from chalicelib.sla import service as sla
from chalicelib.tickets import service as tickets


class InboundRecord(SqsRecordModel):
    body: Json[InboundMessage]


def store(msg: InboundMessage, receive_count: int = 1) -> conversations.Stored | None:
    """Store one inbound message. None if a redelivery finds it already stored."""
    if receive_count > 1:
        where = conversations.stored_where(msg)
        if where is not None:
            # A duplicate. If the first attempt died after storing but before assigning a new
            # conversation, it still waits in its queue: offer it to the agents now; if the bot
            # holds it and had not answered yet, it answers now (once).
            assignment.offer_if_waiting(where[0])
            bot.on_redelivery(where[0], where[1], msg)
            return None
    if msg.type == "status" and msg.status is not None:
        conversations.record_delivery(msg.channel, msg.account, msg.status)
        return None
    resolution = identity.resolve(msg)
    stored = conversations.record_inbound(
        resolution.customer,
        msg,
        lambda: routing.place(msg, resolution.customer),
        mailbox=channels.get(msg.channel).mailbox,
    )
    if stored.duplicate:
        return stored
    conversation = stored.conversation
    if bot.holds(conversation):  # the bot answers first: nothing is offered to agents meanwhile
        if stored.new_conversation:
            bot.started(conversation, msg.channel)
        answered = bot.on_inbound(stored, msg)
        if answered or stored.new_conversation or not conversation.assignee_id:
            tickets.on_inbound(stored, msg, answer_status=not answered)
            if resolution.created:
                metrics.add_metric(name="CustomersCreated", unit=MetricUnit.Count, value=1)
            return stored
        # The bot let go (an agent had stepped in): the message is the agents', as below.
    if stored.new_conversation:
        sla.start_first_response_clock(conversation)
        assignment.entered_queue(conversation)
        if assignment.assign(conversation) is None:
            feed.publish(
                "conversation.queued",
                conversation_id=conversation.conversation_id,
                groups=[conversation.group_id],
                data={"channel": msg.channel},
            )
    else:
        feed.publish(
            "message.new",
            conversation_id=conversation.conversation_id,
            agents=[conversation.assignee_id] if conversation.assignee_id else (),
            groups=() if conversation.assignee_id else [conversation.group_id],
            supervisors=False,  # the busiest kind of event: supervisors follow queues, not every message
            data={"channel": msg.channel},
        )
    if stored.message is not None:
        assist.on_customer_message(conversation, stored.message)  # sentiment, anger, entities
    tickets.on_inbound(stored, msg)  # e-mail tickets, CSAT answers, customer replies, "status of my ticket?"
    if stored.message is not None and stored.message.direction == "in" and stored.message.text:
        events.publish(events.CustomerMessageStored(resolution.customer, stored.message))
    if resolution.created:
        metrics.add_metric(name="CustomersCreated", unit=MetricUnit.Count, value=1)
    return stored


@identity_map()  # one read per fact, per message
def _record_handler(record: InboundRecord) -> None:
    msg = record.body
    logger.set_correlation_id(msg.correlation_id or msg.dedupe_key)
    stored = store(msg, int(record.attributes.ApproximateReceiveCount))
    if stored is None or stored.duplicate:
        metrics.add_metric(name="DuplicatesSkipped", unit=MetricUnit.Count, value=1)
        return
    metrics.add_metric(name="MessagesStored", unit=MetricUnit.Count, value=1)
    logger.info(
        "stored",
        extra={
            "conversation_id": stored.conversation.conversation_id,
            "seq": stored.conversation.next_seq,
            "channel": msg.channel,
        },
    )


def route_batch(event: dict[str, Any]) -> dict[str, Any]:
    """The inbound SQS handler body: returns ``{"batchItemFailures": [...]}``."""
    processor = SqsFifoPartialProcessor(model=InboundRecord, skip_group_on_error=True)
    return dict(process_partial_response(event=event, record_handler=_record_handler, processor=processor))
