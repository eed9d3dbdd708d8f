"""Nothing lost: a thousand messages across channels, with random failures injected in the
router (before storing, and after storing but before acknowledging), are each stored exactly once
and in order per conversation — or parked in the DLQ, replayed, and then stored exactly once."""

from __future__ import annotations

import hashlib
import json
import os
import random
import threading
from collections import defaultdict

import boto3
import pytest

from chalicelib.conversations import service as conversations
from chalicelib.identity.models import Identity
from chalicelib.messages import InboundMessage, identity_key, utcnow
from infra.local.replay_dlq import replay_queue, sqs_client
from infra.local.sqs_runner import SqsRunner

CHANNELS = ("wechat", "sms", "email", "web")
SENDERS_PER_CHANNEL = int(os.environ.get("STRESS_SENDERS", "25"))
MESSAGES_PER_SENDER = 10  # 4 × 25 × 10 = 1,000 messages
FAILURE_RATE = 0.08


class InjectedFailure(Exception):
    pass


def enqueue_as_the_webhooks_do(messages: list[InboundMessage], queue_url: str) -> None:
    """The inbound queue as the webhooks fill it (same body, group and deduplication id as
    ``pipeline.enqueue_once``), ten per call: moto's SQS walks the whole queue on every call, so
    one call per message would make this test quadratic. The webhooks' own dedupe is tested per
    channel; this test is about the router."""
    sqs = boto3.client("sqs")
    for start in range(0, len(messages), 10):
        entries = [
            {
                "Id": str(i),
                "MessageBody": m.model_copy(update={"correlation_id": m.dedupe_key}).model_dump_json(),
                "MessageGroupId": m.group_id,
                "MessageDeduplicationId": hashlib.sha256(m.dedupe_key.encode()).hexdigest(),
            }
            for i, m in enumerate(messages[start : start + 10])
        ]
        assert not sqs.send_message_batch(QueueUrl=queue_url, Entries=entries).get("Failed")


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_thousand_messages_with_random_router_failures_are_stored_exactly_once_in_order(aws, monkeypatch):
    rng = random.Random(20261122)
    lock = threading.Lock()
    failures = {"before": 0, "after": 0}
    real_record = conversations.record_inbound

    def flaky_record(*args, **kwargs):
        with lock:
            roll = rng.random()
        if roll < FAILURE_RATE / 2:
            failures["before"] += 1
            raise InjectedFailure("router crashed before storing")
        stored = real_record(*args, **kwargs)
        if roll < FAILURE_RATE:
            failures["after"] += 1
            raise InjectedFailure("router crashed after storing, before acknowledging")
        return stored

    monkeypatch.setattr(conversations, "record_inbound", flaky_record)

    senders = [(ch, f"{ch}-user-{i}") for ch in CHANNELS for i in range(SENDERS_PER_CHANNEL)]
    batch: list[InboundMessage] = []
    for n in range(MESSAGES_PER_SENDER):
        for channel, user in senders:
            batch.append(
                InboundMessage(
                    channel=channel,
                    channel_user_id=user,
                    text=f"{user} #{n:02d}",
                    platform_message_id=f"{user}-{n}",
                    sent_at=utcnow(),
                )
            )
    enqueue_as_the_webhooks_do(batch, aws["OMNIFLOW_INBOUND_QUEUE_URL"])

    import app as app_module

    runner = SqsRunner(app_module.app, stage="test", wait_seconds=0)
    [inbound] = [c for c in runner.consumers if c.queue_name.startswith("omniflow-test-inbound")]
    runner.drain(timeout=600)
    sqs = sqs_client("test")
    replay = replay_queue(sqs, "test", "inbound")
    parked = {json.loads(m["body"])["text"] for m in replay.seen}
    monkeypatch.setattr(conversations, "record_inbound", real_record)
    runner.drain(timeout=300)

    assert failures["before"] > 0 and failures["after"] > 0, failures
    texts_by_sender: dict[str, list[str]] = defaultdict(list)
    for channel, user in senders:
        customer_id = Identity.get(identity_key(channel, "default", user)).customer_id
        for conversation in conversations.conversations_of(customer_id):
            for message in conversations.messages_of(conversation.conversation_id):
                texts_by_sender[user].append(message.text)
    # A message that failed at every one of its receives (maxReceiveCount: its own crashes, or its
    # group skipped behind a failed one) was parked in the DLQ while its sender's later messages
    # went on; replayed, it is stored once — after them. Every other message is stored in order.
    assert replay.moved == len(parked)
    for _channel, user in senders:
        expected = [f"{user} #{n:02d}" for n in range(MESSAGES_PER_SENDER)]
        stored = texts_by_sender[user]
        assert sorted(stored) == expected, (user, stored)  # every message exactly once
        in_order = [t for t in stored if t not in parked]
        assert in_order == [t for t in expected if t not in parked], (user, stored, sorted(parked))
    assert runner.queue_depths([inbound])[inbound.queue_name] == 0
