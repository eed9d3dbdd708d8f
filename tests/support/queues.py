"""Reading what the code under test put on the SQS queues (moto), for assertions."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import boto3

from chalicelib.messages import InboundMessage, OutboundMessage


def drain(queue_url: str) -> list[dict[str, Any]]:
    """Receive and delete every message on the queue, in delivery order; [] when it is empty.

    FIFO queues hand out a group's next message only once the one before it is deleted, so this
    loops until a receive comes back empty, then checks that nothing is left in flight (a message
    received elsewhere and not deleted would otherwise go unnoticed).
    """
    sqs = boto3.client("sqs")
    found: list[dict[str, Any]] = []
    while batch := sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]
    ).get("Messages", []):
        for message in batch:
            found.append(message)
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
    left = sqs.get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    assert left == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}, left
    return found


def drain_inbound(env: Mapping[str, str]) -> list[InboundMessage]:
    """Everything the webhooks put on the inbound FIFO queue, as the router would read it."""
    return [InboundMessage.model_validate_json(m["Body"]) for m in drain(env["OMNIFLOW_INBOUND_QUEUE_URL"])]


def drain_outbound(env: Mapping[str, str]) -> list[OutboundMessage]:
    """Every reply waiting on the outbound FIFO queue, as the sender would read it."""
    return [OutboundMessage.model_validate_json(m["Body"]) for m in drain(env["OMNIFLOW_OUTBOUND_QUEUE_URL"])]
