"""``make cost``: AWS list-price cost per 1 M inbound messages, from the requests ``make bench``
measures (section 2, ``.local/bench-cost.json``) and a stated mix.

Every AWS request per message comes from the measurement (webhook steady state; router for a
message that opens a conversation and for one that continues it); what cannot be measured on moto
(durations, item sizes, SQS receives of the event source mapping, log volume) is an assumption,
printed with the result. Prices: us-east-1, on-demand list prices (see PRICES); replies going out
are not counted (per inbound message).

    python -m tests.bench.cost [bench.json] [--channel sms] [--messages-per-conversation 3]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.bench.env import REPO

MILLION = 1_000_000
TARGET_PER_MILLION = 10.0

#: US East (N. Virginia) list prices, USD.
PRICES = {
    "lambda_request": 0.20 / MILLION,
    "lambda_gb_second": 0.0000166667,  # x86_64
    "api_gateway_http_request": 1.00 / MILLION,  # HTTP API, first 300 M a month
    "sqs_fifo_request": 0.50 / MILLION,  # per 64 KB chunk
    "dynamodb_wru": 0.625 / MILLION,  # on-demand write request unit
    "dynamodb_rru": 0.125 / MILLION,  # on-demand read request unit
    "sfn_standard_transition": 25.0 / MILLION,
    "s3_put": 0.005 / 1000,
    "s3_get": 0.0004 / 1000,
    "cloudwatch_logs_gb": 0.50,  # ingestion
}


@dataclass(frozen=True)
class Mix:
    """What one inbound message stands for, on average (the stated assumptions)."""

    messages_per_conversation: float = 3.0  # the first opens a conversation, the rest continue it
    webhook_ms: float = 40.0  # billed duration of a warm webhook at 256 MB (verify + 1 SendMessage)
    webhook_mb: int = 256  # infra/app.yaml WebhookFunction MemorySize
    router_ms_per_message: float = 80.0  # billed router time per message in a batch, at 512 MB
    router_mb: int = 512  # .chalice/config.json lambda_memory_size
    router_batch: int = 10  # app.py on_sqs_message(batch_size=10)
    sqs_receives_per_batch: float = 2.0  # the event source mapping's long polls, one of them empty
    # infra/sla.asl.json: a clock stopped by the first reply (StopExecution) has entered one state
    # (WaitForDeadline); a breached one six (Wait, Read, Answered?, MarkBreached, EmitEscalation, Alert)
    sfn_transitions_answered: int = 1
    sfn_transitions_breached: int = 6
    breached_share: float = 0.05  # conversations whose first reply misses the deadline
    clockless_share: float = 0.0  # conversations that start no clock (closed by the bot); measured: 0
    attachment_share: float = 0.05  # messages carrying a file: 1 S3 PUT + 1 GET
    log_kb_per_message: float = 2.0  # webhook + router structured logs
    write_units_per_item: float = 1.0  # items up to 1 KB (message text is short in chat)


_BATCH = re.compile(r"(\w[\w/-]*) x(\d+)")


def capacity_units(request: str) -> tuple[float, float]:
    """(read units, write units) of one DynamoDB request named as the bench names it, e.g.
    ``GetItem identities``, ``BatchWriteItem [feed x2]``, ``TransactWriteItems [Put messages, ...]``.
    Reads are counted strongly consistent (1 RRU up to 4 KB), Queries as one page of small items."""
    operation = request.split(" ", 1)[0]
    if operation in ("GetItem", "Query"):
        return 1.0, 0.0
    if operation == "BatchGetItem":
        return float(sum(int(n) for _, n in _BATCH.findall(request))), 0.0
    if operation == "BatchWriteItem":
        return 0.0, float(sum(int(n) for _, n in _BATCH.findall(request)))
    if operation == "TransactWriteItems":
        items = request.count(",") + 1
        return 0.0, 2.0 * items  # transactions cost two units per item
    if operation == "TransactGetItems":
        return 2.0 * (request.count(",") + 1), 0.0
    if operation in ("PutItem", "UpdateItem", "DeleteItem"):
        return 0.0, 1.0
    return 0.0, 0.0  # DescribeTable and the like: not billed per unit


def per_message(channel_calls: dict[str, Any], mix: Mix) -> dict[str, float]:
    """USD per inbound message, by service."""
    steady = channel_calls["webhook, steady state"]
    new = channel_calls["router, new customer"]
    known = channel_calls["router, known customer (open conv.)"]
    opening = 1.0 / mix.messages_per_conversation

    def share(name: str) -> float:
        return sum(
            weight * calls["by_operation"].get(name, 0)
            for weight, calls in ((opening, new), (1 - opening, known))
        )

    rru = wru = 0.0
    for weight, calls in ((opening, new), (1 - opening, known)):
        for request in calls["dynamodb_requests"]:
            r, w = capacity_units(request)
            rru += weight * r
            wru += weight * w * mix.write_units_per_item
    webhook_sends = steady["by_operation"].get("sqs:SendMessage", 0)
    sqs_requests = webhook_sends + 2 * mix.sqs_receives_per_batch / mix.router_batch  # receives + deletes
    lambda_requests = 1 + 1 / mix.router_batch
    gb_seconds = mix.webhook_ms / 1000 * mix.webhook_mb / 1024 + mix.router_ms_per_message / 1000 * (
        mix.router_mb / 1024
    )
    p = PRICES
    return {
        "Lambda requests": lambda_requests * p["lambda_request"],
        "Lambda GB-s": gb_seconds * p["lambda_gb_second"],
        "API Gateway (HTTP API)": p["api_gateway_http_request"],
        "SQS FIFO": sqs_requests * p["sqs_fifo_request"],
        "DynamoDB writes": wru * p["dynamodb_wru"],
        "DynamoDB reads": rru * p["dynamodb_rru"],
        "Step Functions": share("stepfunctions:StartExecution")
        * (1 - mix.clockless_share)
        * (
            (1 - mix.breached_share) * mix.sfn_transitions_answered
            + mix.breached_share * mix.sfn_transitions_breached
        )
        * p["sfn_standard_transition"],
        "S3 (attachments)": mix.attachment_share * (p["s3_put"] + p["s3_get"]),
        "CloudWatch Logs": mix.log_kb_per_message / 1024 / 1024 * p["cloudwatch_logs_gb"],
    }


def render(costs: dict[str, float], mix: Mix, channel: str) -> str:
    total = sum(costs.values()) * MILLION
    lines = [
        f"Cost per 1 M inbound messages ({channel}, us-east-1 list prices), measured requests + this mix:",
        *(f"  {k}: {v}" for k, v in vars(mix).items()),
        "",
        f"  {'service':<24} {'USD / 1 M msgs':>15} {'share':>7}",
    ]
    for name, usd in sorted(costs.items(), key=lambda kv: -kv[1]):
        lines.append(f"  {name:<24} {usd * MILLION:>15.2f} {usd * MILLION / total:>7.1%}")
    verdict = "ok" if total <= TARGET_PER_MILLION else "MISS"
    lines.append(f"  {'total':<24} {total:>15.2f}   target <= {TARGET_PER_MILLION:.0f}: {verdict}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.cost", description=__doc__)
    parser.add_argument("bench", nargs="?", type=Path, default=REPO / ".local" / "bench-cost.json")
    parser.add_argument("--channel", default="sms")
    parser.add_argument("--messages-per-conversation", type=float, default=Mix.messages_per_conversation)
    parser.add_argument(
        "--clockless-share",
        type=float,
        default=Mix.clockless_share,
        help="what-if: share of conversations the bot closes without a clock (the code measured: 0)",
    )
    args = parser.parse_args(argv)
    calls = json.loads(args.bench.read_text())["aws_calls"]["channels"].get(args.channel)
    if not calls or calls.get("error"):
        print(f"no measured requests for {args.channel}: {calls and calls.get('error')}", file=sys.stderr)
        return 1
    mix = Mix(messages_per_conversation=args.messages_per_conversation, clockless_share=args.clockless_share)
    print(render(per_message(calls, mix), mix, args.channel))
    return 0


if __name__ == "__main__":
    sys.exit(main())
