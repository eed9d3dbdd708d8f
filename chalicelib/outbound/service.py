"""Agent replies → outbound FIFO queue (one message group per conversation, so replies leave in
order) → the channel's send API → the message's delivery status.

Sending is idempotent: a redelivered record whose message is already sent is skipped. Transient
failures go back to the queue; after ``send_attempts`` tries, or on a permanent refusal (e.g. the
WeChat 48 h window closed), the message is marked ``failed`` with the reason, which the agent sees.
"""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import SqsFifoPartialProcessor, process_partial_response
from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import Json

from chalicelib import channels, events
from chalicelib.assignment import service as assignment
from chalicelib.aws import client, queue_url
from chalicelib.channels.base import ChannelAdapter
from chalicelib.channels.credentials import account_credentials
from chalicelib.channels.transport import TransportError, transport_for
from chalicelib.config import settings
from chalicelib.conversations import service as conversations
from chalicelib.conversations.models import Conversation, Message
from chalicelib.db import as_dict, identity_map
from chalicelib.errors import Invalid
from chalicelib.events import ConversationAnswered
from chalicelib.identity.service import get_customer, reachable_on
from chalicelib.messages import OutboundMessage, SendResult, TemplateRef, utcnow
from chalicelib.observability import logger, metrics


class OutboundRecord(SqsRecordModel):
    body: Json[OutboundMessage]


class SendLater(Exception):
    """A transient failure: the record goes back to the queue."""


class NoSuchChannel(Invalid):
    """The agent picked a channel on which the customer cannot be reached."""

    code = "no_such_channel"


def send_attempts() -> int:
    return int(os.environ.get("OMNIFLOW_SEND_ATTEMPTS", "4"))


def choose_target(conversation: Conversation, channel: str | None = None) -> tuple[str, str, str]:
    """Where a reply goes: the channel the customer last wrote from, unless the agent picks another
    channel the customer is known on (then their most recent identity there). When the last channel
    takes no written replies (a phone call), the most recent one in this conversation that does."""
    if (
        channel is None
        and conversation.last_channel
        and not channels.get(conversation.last_channel).can_reply
    ):
        recent = sorted(as_dict(conversation.inbound_at).items(), key=lambda kv: str(kv[1]), reverse=True)
        writable = [k.split("#", 1)[0] for k, _ in recent if channels.get(k.split("#", 1)[0]).can_reply]
        if not writable:
            raise NoSuchChannel(f"the customer wrote only on {conversation.last_channel}: pick a channel")
        channel = writable[0]
    if channel is None or channel == conversation.last_channel:
        if conversation.last_channel and conversation.last_channel_user_id:
            return (
                conversation.last_channel,
                conversation.last_account or "default",
                conversation.last_channel_user_id,
            )
        raise NoSuchChannel("the conversation has no reachable channel")
    ref = reachable_on(get_customer(conversation.customer_id).customer_id, channel)
    if ref is None or not ref.account or not ref.user_id:
        raise NoSuchChannel(f"the customer has no {channel} identity")
    return channel, ref.account, ref.user_id


class UnknownTemplate(Invalid):
    """The agent picked a template the channel account does not have."""

    code = "unknown_template"


def templates_for(adapter: ChannelAdapter, account: str) -> list[dict[str, Any]]:
    return adapter.templates(account_credentials(adapter.name, account))


def reply_rules(
    adapter: ChannelAdapter, account: str, template: TemplateRef | None
) -> conversations.ReplyRules:
    """The channel's reply limits; a template must be one of the account's approved templates."""
    if template is not None:
        known = {(t["name"], t.get("language", template.language)) for t in templates_for(adapter, account)}
        if (template.name, template.language) not in known:
            raise UnknownTemplate(
                f"{adapter.name} has no approved template {template.name!r} ({template.language})"
            )
    return conversations.ReplyRules(adapter.reply_window, adapter.replies_per_inbound, template is not None)


def reply(
    conversation_id: str,
    agent_id: str,
    text: str,
    *,
    channel: str | None,
    may_take_over: bool,
    template: TemplateRef | None = None,
    quality: dict[str, Any] | None = None,
) -> Message:
    """Queue an agent's reply (``quality``: its quality score card, kept on the message). Raises
    KeyError, NoSuchChannel, UnknownTemplate, conversations.NotAllowed, ReplyWindowClosed or
    ReplyLimitReached."""
    conversation = conversations.get(conversation_id)
    target = choose_target(conversation, channel)
    adapter = channels.get(target[0])
    if not adapter.can_reply:
        raise NoSuchChannel(f"agents cannot write on {target[0]}")
    if template is not None and not text:
        text = f"[template {template.name}] " + " / ".join(template.params)
    try:
        conversation, message, first = conversations.append_reply(
            conversation_id,
            agent_id,
            text,
            target,
            may_take_over=may_take_over,
            mailbox=adapter.mailbox,
            rules=reply_rules(adapter, target[1], template),
            known=conversation,
            quality=quality,
        )
    except conversations.ReplyWindowClosed as exc:  # the agent's way out: the account's templates
        exc.details["templates"] = templates_for(adapter, exc.account)
        raise
    assignment.took_by_reply(conversation, agent_id)  # a reply to a waiting conversation takes it
    enqueue(conversation, message, target, text, agent_id, template=template)
    if first:
        events.publish(ConversationAnswered(conversation_id, "first response sent"))
    return message


def enqueue(
    conversation: Conversation,
    message: Message,
    target: tuple[str, str, str],
    text: str,
    author_id: str,
    *,
    template: TemplateRef | None = None,
) -> None:
    """Put a stored outbound message on the outbound FIFO queue (one message group per conversation,
    deduplicated by its place); if that fails, the message is marked failed and the error raised."""
    out = OutboundMessage(
        message_id=f"{conversation.conversation_id}#{message.seq}",
        conversation_id=conversation.conversation_id,
        seq=int(message.seq),
        customer_id=conversation.customer_id,
        channel=target[0],
        account=target[1],
        channel_user_id=target[2],
        text=text,
        template=template,
        agent_id=author_id,
        reply_context=as_dict(message.reply_context),
        created_at=utcnow(),
    )
    try:
        client("sqs").send_message(
            QueueUrl=queue_url("outbound"),
            MessageBody=out.model_dump_json(),
            MessageGroupId=conversation.conversation_id,
            MessageDeduplicationId=out.message_id.replace("#", "-"),
            MessageAttributes={"correlation_id": {"DataType": "String", "StringValue": out.message_id}},
        )
    except Exception:
        conversations.set_status(
            conversation.conversation_id, int(message.seq), "failed", error="could not be queued"
        )
        raise


def deliver(out: OutboundMessage, receive_count: int = 1) -> SendResult | None:
    """Send one queued reply through its channel and record the outcome. None if already sent."""
    current = Message.get(out.conversation_id, out.seq, consistent_read=True)
    if current.status in ("sent", "sent_local"):
        return None
    adapter = channels.get(out.channel)
    http = transport_for(settings().outbound_mode, settings().stand_ins.get(out.channel))
    try:
        result = adapter.send(out, account_credentials(out.channel, out.account), http)
    except TransportError as exc:
        result = SendResult(status="failed", error=str(exc), retryable=True)
    if result.status == "failed" and result.retryable and receive_count < send_attempts():
        conversations.set_status(
            out.conversation_id, out.seq, "retrying", error=result.error, attempts=receive_count
        )
        raise SendLater(result.error or "transient failure")
    recorded = getattr(http, "calls", None)
    conversations.set_status(
        out.conversation_id,
        out.seq,
        result.status,
        error=result.error,
        attempts=receive_count,
        platform_message_id=result.platform_message_id,
        platform_ref=conversations.platform_ref(out.channel, out.account, result.platform_message_id)
        if result.platform_message_id
        else None,
        outbound_request=recorded[-1].redacted() if recorded else None,
    )
    metrics.add_metric(name=f"Outbound_{result.status}", unit=MetricUnit.Count, value=1)
    return result


@identity_map()  # one read per fact, per message
def _record_handler(record: OutboundRecord) -> None:
    out = record.body
    logger.set_correlation_id(out.message_id)
    result = deliver(out, int(record.attributes.ApproximateReceiveCount))
    if result is not None:
        logger.info(
            "outbound", extra={"status": result.status, "channel": out.channel, "error": result.error}
        )


def send_batch(event: dict[str, Any]) -> dict[str, Any]:
    """The outbound SQS handler body."""
    processor = SqsFifoPartialProcessor(model=OutboundRecord, skip_group_on_error=True)
    return dict(process_partial_response(event=event, record_handler=_record_handler, processor=processor))
