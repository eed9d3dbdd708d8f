"""Move parked messages from a dead-letter queue back to the queue they came from.

    python -m infra.local.replay_dlq [--queue inbound|outbound|events] [--dry-run] [--stage local]

Nothing that a channel delivered may be silently lost: a message the router or sender could not
process waits in its DLQ until the bug is fixed, then this puts it back. Body, message attributes
and message group are preserved; FIFO messages get a fresh deduplication id (the original one is
still inside SQS's 5-minute deduplication window for a quick fix-and-replay). A message leaves the
DLQ only after it was accepted by the source queue, so a failure half-way loses nothing (at worst a
message is replayed twice, which the consumers' idempotency absorbs).

Stage ``local`` talks to the running local stack (``OMNIFLOW_AWS_ENDPOINT`` or ``.local/stack.json``);
any other stage talks to AWS with the usual credentials. ``StartMessageMoveTask`` would do the same
on AWS, but moto does not implement it, so one receive → send → delete loop serves both.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import uuid
from dataclasses import dataclass, field
from typing import Any

QUEUES = ("inbound", "outbound", "events")
FIFO = {"inbound", "outbound"}
RECEIVE_MAX = 10


@dataclass
class ReplayResult:
    queue: str
    dlq_url: str
    source_url: str
    moved: int = 0
    seen: list[dict[str, Any]] = field(default_factory=list)


def queue_names(stage: str, name: str) -> tuple[str, str]:
    """(dead-letter queue, source queue) names, as ``infra/data.yaml`` names them."""
    suffix = ".fifo" if name in FIFO else ""
    return f"omniflow-{stage}-{name}-dlq{suffix}", f"omniflow-{stage}-{name}{suffix}"


def _source_url(sqs: Any, dlq_url: str, fallback_name: str) -> str:
    """The queue whose redrive policy points at this DLQ (by name convention if SQS says none)."""
    sources = sqs.list_dead_letter_source_queues(QueueUrl=dlq_url).get("queueUrls") or []
    if len(sources) == 1:
        return str(sources[0])
    return str(sqs.get_queue_url(QueueName=fallback_name)["QueueUrl"])


def _attributes_for_send(message: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for name, attr in (message.get("MessageAttributes") or {}).items():
        out[name] = {k: v for k, v in attr.items() if v not in (None, [], "")}
    return out


def replay_queue(
    sqs: Any, stage: str, name: str, *, dry_run: bool = False, visibility: int = 60
) -> ReplayResult:
    """Replay one DLQ (or, with ``dry_run``, list what would move and leave it untouched)."""
    dlq_name, source_name = queue_names(stage, name)
    dlq_url = sqs.get_queue_url(QueueName=dlq_name)["QueueUrl"]
    result = ReplayResult(name, dlq_url, _source_url(sqs, dlq_url, source_name))
    fifo = dlq_name.endswith(".fifo")
    # Messages that fail again while we work come back to the DLQ later; do not chase them.
    limit = _depth(sqs, dlq_url)
    held: list[str] = []  # receipt handles to make visible again when we stop
    try:
        while len(result.seen) < limit:
            messages = (
                sqs.receive_message(
                    QueueUrl=dlq_url,
                    MaxNumberOfMessages=min(RECEIVE_MAX, limit - len(result.seen)),
                    WaitTimeSeconds=0,
                    VisibilityTimeout=visibility,
                    AttributeNames=["All"],
                    MessageSystemAttributeNames=["All"],
                    MessageAttributeNames=["All"],
                ).get("Messages")
                or []
            )
            if not messages:
                break
            held.extend(m["ReceiptHandle"] for m in messages)
            for message in messages:
                attrs = message.get("Attributes") or {}
                result.seen.append(
                    {
                        "message_id": message["MessageId"],
                        "group": attrs.get("MessageGroupId"),
                        "receive_count": attrs.get("ApproximateReceiveCount"),
                        "body": message.get("Body", ""),
                    }
                )
                if dry_run:
                    continue
                send: dict[str, Any] = {
                    "QueueUrl": result.source_url,
                    "MessageBody": message.get("Body", ""),
                    "MessageAttributes": _attributes_for_send(message),
                }
                if fifo:
                    send["MessageGroupId"] = attrs["MessageGroupId"]
                    send["MessageDeduplicationId"] = uuid.uuid4().hex
                if attrs.get("AWSTraceHeader"):
                    send["MessageSystemAttributes"] = {
                        "AWSTraceHeader": {"DataType": "String", "StringValue": attrs["AWSTraceHeader"]}
                    }
                sqs.send_message(**send)  # raises on failure: the message then stays in the DLQ
                sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
                held.remove(message["ReceiptHandle"])
                result.moved += 1
    finally:
        for handle in held:  # listed (dry run) or not moved (error): visible in the DLQ again at once
            sqs.change_message_visibility(QueueUrl=dlq_url, ReceiptHandle=handle, VisibilityTimeout=0)
    return result


def _depth(sqs: Any, url: str) -> int:
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
    return sum(int(attrs.get(n, "0")) for n in names)


def sqs_client(stage: str, endpoint: str | None = None, region: str | None = None) -> Any:
    """An SQS client for the stage: the local stack's moto for ``local``, AWS otherwise."""
    import boto3

    region = region or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    endpoint = endpoint or os.environ.get("OMNIFLOW_AWS_ENDPOINT") or None
    if stage == "local" and endpoint is None:
        from infra.local.stack import read_stack_info

        info = read_stack_info()
        if info is None:
            raise SystemExit(
                "no local stack is running (start it with `make dev`), or set OMNIFLOW_AWS_ENDPOINT"
            )
        endpoint = info["endpoint"]
    if endpoint:
        # moto accepts any credentials; never send real ones to it
        return boto3.client(
            "sqs",
            region_name=region,
            endpoint_url=endpoint,
            aws_access_key_id="local",
            aws_secret_access_key="local",
        )
    return boto3.client("sqs", region_name=region)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m infra.local.replay_dlq", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--queue", choices=QUEUES, action="append", help="DLQ to replay (default: all)")
    parser.add_argument("--dry-run", action="store_true", help="list what would be moved, move nothing")
    parser.add_argument("--stage", default=os.environ.get("OMNIFLOW_STAGE") or "local")
    parser.add_argument("--endpoint", help="SQS endpoint URL (default: OMNIFLOW_AWS_ENDPOINT or AWS)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)

    sqs = sqs_client(args.stage, args.endpoint)
    results = [replay_queue(sqs, args.stage, q, dry_run=args.dry_run) for q in args.queue or QUEUES]
    if args.json:
        print(json.dumps([r.__dict__ for r in results], ensure_ascii=False, indent=2))
        return 0
    for r in results:
        verb = "would move" if args.dry_run else "moved"
        print(f"{r.queue}: {verb} {len(r.seen) if args.dry_run else r.moved} message(s) → {r.source_url}")
        for m in r.seen:
            group = f" group={m['group']}" if m["group"] else ""
            print(f"  {m['message_id']}{group} receives={m['receive_count']} {m['body'][:120]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
