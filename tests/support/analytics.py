"""Run the analytics queue's consumer (``aggregator.handle_batch``) over what is waiting, as Lambda
would: real SQS records, partial batch failures left on the queue."""

from __future__ import annotations

from typing import Any


def pending_bodies() -> list[str]:
    """The bodies waiting on the analytics queue, received and deleted (nothing counted)."""
    from chalicelib import aws

    sqs, url = aws.client("sqs"), aws.queue_url("analytics")
    out: list[str] = []
    while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for m in got:
            out.append(m["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return out


def count_pending() -> dict[str, Any]:
    """Feed every waiting message to the consumer until the queue is empty; returns how many
    records were handled and which failed (failures stay on the queue, so this raises)."""
    from chalicelib import aws
    from chalicelib.analytics import aggregator
    from infra.local.sqs_runner import failed_ids, lambda_record

    sqs, url = aws.client("sqs"), aws.queue_url("analytics")
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    handled = 0
    while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get(
        "Messages", []
    ):
        event = {"Records": [lambda_record(m, queue_arn=arn, region="us-east-1") for m in got]}
        failed = failed_ids(aggregator.handle_batch(event), [m["MessageId"] for m in got])
        for m in got:
            if m["MessageId"] not in failed:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
        if failed:
            raise AssertionError(f"{len(failed)} analytics record(s) failed")
        handled += len(got)
    return {"records": handled}
