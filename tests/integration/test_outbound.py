"""Replies: queued in order, sent once through the channel, failures visible to the agent."""

from __future__ import annotations

import json

import boto3
import pytest

from chalicelib.conversations.models import Message
from chalicelib.messages import CustomerHints
from chalicelib.outbound import service as outbound
from chalicelib.router import service as router
from tests.support.factories import inbound


def _queued(aws) -> list[dict]:
    sqs = boto3.client("sqs")
    got = sqs.receive_message(
        QueueUrl=aws["OMNIFLOW_OUTBOUND_QUEUE_URL"], MaxNumberOfMessages=10, AttributeNames=["All"]
    )
    return got.get("Messages", [])


def test_a_reply_goes_out_on_the_channel_the_customer_last_wrote_from(aws):
    phone = CustomerHints(phone="+15550100000", verified=("phone",))
    router.store(inbound("sms", "+15550100000", "sms first", hints=phone))
    cid = router.store(inbound("web", "v_9", "then web", hints=phone)).conversation.conversation_id
    message = outbound.reply(cid, "agent1", "Hello!", channel=None, may_take_over=False)
    assert (message.channel, message.channel_user_id, message.status) == ("web", "v_9", "queued")
    [queued] = _queued(aws)
    body = json.loads(queued["Body"])
    assert body["channel"] == "web" and body["text"] == "Hello!"
    assert queued["Attributes"]["MessageGroupId"] == cid


def test_the_agent_may_pick_another_channel_the_customer_is_known_on(aws):
    phone = CustomerHints(phone="+15550100001", verified=("phone",))
    router.store(inbound("sms", "+15550100001", "sms", hints=phone))
    cid = router.store(inbound("web", "v_10", "web", hints=phone)).conversation.conversation_id
    message = outbound.reply(cid, "agent1", "Texting you", channel="sms", may_take_over=False)
    assert (message.channel, message.channel_user_id) == ("sms", "+15550100001")
    with pytest.raises(outbound.NoSuchChannel):
        outbound.reply(cid, "agent1", "nope", channel="email", may_take_over=False)


def test_another_agents_conversation_cannot_be_answered_without_taking_over(aws):
    cid = router.store(inbound("sms", "+15550100002")).conversation.conversation_id
    outbound.reply(cid, "agent1", "mine now", channel=None, may_take_over=False)
    from chalicelib.conversations.service import NotAllowed

    with pytest.raises(NotAllowed):
        outbound.reply(cid, "agent2", "me too", channel=None, may_take_over=False)
    outbound.reply(cid, "supervisor", "stepping in", channel=None, may_take_over=True)


def test_delivery_records_the_request_in_the_local_stack_and_is_idempotent(aws, monkeypatch):
    monkeypatch.setenv("OMNIFLOW_OUTBOUND_MODE", "record")
    from tests.conftest import reset_caches

    reset_caches()
    cid = router.store(inbound("web", "v_11", "hi")).conversation.conversation_id
    message = outbound.reply(cid, "agent1", "hello visitor", channel=None, may_take_over=False)
    out = outbound.OutboundRecord.model_validate({**_sqs_record(_queued(aws)[0])}).body
    assert outbound.deliver(out).status == "sent"
    assert outbound.deliver(out) is None  # redelivered: already sent, nothing sent twice
    assert Message.get(cid, message.seq).status == "sent"


def test_a_transient_failure_is_retried_then_recorded_as_failed(aws, monkeypatch):
    from chalicelib.channels import web
    from chalicelib.messages import SendResult

    cid = router.store(inbound("web", "v_12", "hi")).conversation.conversation_id
    message = outbound.reply(cid, "agent1", "will fail", channel=None, may_take_over=False)
    monkeypatch.setattr(
        web.WebAdapter, "send", lambda *a: SendResult(status="failed", error="platform down", retryable=True)
    )
    out = outbound.OutboundRecord.model_validate(_sqs_record(_queued(aws)[0])).body
    with pytest.raises(outbound.SendLater):
        outbound.deliver(out, receive_count=1)
    assert Message.get(cid, message.seq).status == "retrying"
    result = outbound.deliver(out, receive_count=outbound.send_attempts())
    assert result is not None and result.status == "failed"
    stored = Message.get(cid, message.seq)
    assert (stored.status, stored.error) == ("failed", "platform down")


def _sqs_record(m: dict) -> dict:
    from tests.support.events import sqs_event

    m.setdefault("MessageAttributes", {})
    return sqs_event([m], "arn:aws:sqs:us-east-1:123456789012:omniflow-test-outbound.fifo")["Records"][0]
