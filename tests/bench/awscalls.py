"""Section 2: AWS requests per inbound message, by operation.

Counted with botocore's ``before-call`` event on every session that carries Omniflow's calls:

- ``chalicelib.aws.session()``, the one boto3 session behind every ``chalicelib.aws.client`` (SQS,
  Secrets Manager, Step Functions, and PynamoDB);
- PynamoDB's: each ``pynamodb.connection.base.Connection`` makes its own botocore session per thread
  with ``get_session()`` (``db.transact_write()`` makes a new Connection each time), so that name is
  wrapped to hook every session PynamoDB creates.

A session's handlers are copied into each client when the client is made, so the hooks go in before
any client exists. As a cross-check, ``BaseClient._make_api_call`` is wrapped too: it sees every
call from any botocore client, so a call on a session nobody hooked shows up as a difference.

Scenarios, per channel: the webhook's first request on a fresh instance (nothing cached) and a
steady-state one; the router storing a new customer's first message, then the same customer's second
message (a known customer with an open conversation). Logical API calls are counted (a botocore
retry would not add one); moto never throttles, so there are none here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import boto3

from tests.bench.deliveries import Deliveries
from tests.bench.env import REGION, Stack, reset_caches
from tests.bench.report import Summary, heading, table, verdict
from tests.support.events import sqs_event

ROUTER_KNOWN_DYNAMODB_TARGET = 4
ROUTER_NEW_DYNAMODB_TARGET = 8
WEBHOOK_SQS_SENDS_TARGET = 1
WEBHOOK_AWS_CALLS_TARGET = 1  # the lean path: the SendMessage and nothing else
_HOOK_ID = "omniflow-bench-call-counter"


@dataclass
class Tally:
    """The calls seen in one window."""

    ops: Counter[tuple[str, str]] = field(default_factory=Counter)  # (service, operation)
    sources: Counter[str] = field(default_factory=Counter)  # which hooked session carried them
    botocore_calls: int = 0  # the cross-check: every botocore client call
    requests: list[str] = field(default_factory=list)  # each DynamoDB request by name, in order

    @property
    def hooked(self) -> int:
        return sum(self.ops.values())

    def count(self, service: str | None = None, operation: str | None = None) -> int:
        return sum(
            n
            for (s, o), n in self.ops.items()
            if (service is None or s == service) and (operation is None or o == operation)
        )

    def breakdown(self) -> str:
        return ", ".join(f"{s}:{o} x{n}" for (s, o), n in sorted(self.ops.items())) or "none"

    def as_json(self) -> dict[str, Any]:
        return {
            "total": self.hooked,
            "by_operation": {f"{s}:{o}": n for (s, o), n in sorted(self.ops.items())},
            "by_session": dict(self.sources),
            "botocore_calls": self.botocore_calls,
            "dynamodb_requests": list(self.requests),
        }


def _table(name: str) -> str:
    return name.rsplit("-", 1)[-1]  # omniflow-<stage>-messages -> messages


def request_name(operation: str, params: dict[str, Any]) -> str:
    """``GetItem customers``, ``TransactWriteItems [Put messages, Update conversations]``..."""
    if operation in ("TransactWriteItems", "TransactGetItems"):
        parts = [
            f"{kind} {_table(body.get('TableName', '?'))}"
            for item in params.get("TransactItems", [])
            for kind, body in item.items()
        ]
        return f"{operation} [{', '.join(parts)}]"
    if operation in ("BatchGetItem", "BatchWriteItem"):
        counts = {
            _table(t): len(v) if isinstance(v, list) else len(v.get("Keys", []))
            for t, v in params.get("RequestItems", {}).items()
        }
        return f"{operation} [{', '.join(f'{t} x{n}' for t, n in counts.items())}]"
    index = f"/{params['IndexName']}" if params.get("IndexName") else ""
    return f"{operation} {_table(params.get('TableName', '?'))}{index}"


class CallCounter:
    """botocore ``before-call`` hooks on the sessions Omniflow uses; counts only inside ``window()``."""

    def __init__(self) -> None:
        self._current: Tally | None = None
        self.installed = False

    def _hook(self, source: str) -> Callable[..., None]:
        def on_call(model: Any, **_: Any) -> None:
            if self._current is not None:
                self._current.ops[(model.service_model.service_name, model.name)] += 1
                self._current.sources[source] += 1

        return on_call

    def install(self) -> None:
        """Hook the shared boto3 session and every session PynamoDB will create; drop cached clients
        so they are made again from the hooked session."""
        if self.installed:
            return
        import botocore.client
        import pynamodb.connection.base as pynamodb_base

        from chalicelib import aws

        aws.session().events.register("before-call", self._hook("chalicelib.aws"), unique_id=_HOOK_ID)
        original_get_session = pynamodb_base.get_session

        def hooked_get_session(*args: Any, **kwargs: Any) -> Any:
            session = original_get_session(*args, **kwargs)
            session.register("before-call", self._hook("pynamodb"), unique_id=_HOOK_ID)
            return session

        pynamodb_base.get_session = hooked_get_session

        base_client: Any = botocore.client.BaseClient  # _make_api_call is private: not in the stubs
        original_call = base_client._make_api_call
        counter = self

        def counted_call(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
            if counter._current is not None:
                counter._current.botocore_calls += 1
                if client.meta.service_model.service_name == "dynamodb":
                    counter._current.requests.append(request_name(operation_name, api_params))
            return original_call(client, operation_name, api_params)

        base_client._make_api_call = counted_call
        reset_caches()
        self.installed = True

    @contextmanager
    def window(self) -> Iterator[Tally]:
        tally = Tally()
        self._current = tally
        try:
            yield tally
        finally:
            self._current = None


def verify_pynamodb_hook(counter: CallCounter) -> str | None:
    """One PynamoDB GetItem must be seen, and seen as PynamoDB's; None if so, else what went wrong."""
    from pynamodb.exceptions import DoesNotExist

    from chalicelib.identity.models import Customer

    with counter.window() as tally:
        try:
            Customer.get("cus_bench_hook_probe")
        except DoesNotExist:
            pass
    if tally.sources.get("pynamodb") == 1 and tally.count("dynamodb", "GetItem") == 1:
        return None
    return f"PynamoDB probe: hooks saw {tally.breakdown()} from {dict(tally.sources)}"


@dataclass
class ChannelCalls:
    channel: str
    webhook_first: Tally | None = None
    webhook_steady: Tally | None = None
    router_new: Tally | None = None
    router_known: Tally | None = None
    error: str | None = None

    def windows(self) -> dict[str, Tally | None]:
        return {
            "webhook, 1st request of an instance": self.webhook_first,
            "webhook, steady state": self.webhook_steady,
            "router, new customer": self.router_new,
            "router, known customer (open conv.)": self.router_known,
        }


class _Harness:
    """The inbound queue as Lambda's event source mapping sees it (its calls are not counted: a
    separate, unhooked session, used only outside counting windows)."""

    def __init__(self, stack: Stack) -> None:
        self.sqs = boto3.session.Session(region_name=REGION).client("sqs")
        self.url = stack.env["OMNIFLOW_INBOUND_QUEUE_URL"]
        self.arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])[
            "Attributes"
        ]["QueueArn"]

    def purge(self) -> None:
        self.sqs.purge_queue(QueueUrl=self.url)

    def receive_all(self) -> list[dict[str, Any]]:
        got = self.sqs.receive_message(
            QueueUrl=self.url, MaxNumberOfMessages=10, AttributeNames=["All"], MessageAttributeNames=["All"]
        ).get("Messages", [])
        for m in got:
            self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])
        return [dict(m) for m in got]


def measure_channel(
    counter: CallCounter, harness: _Harness, deliveries: Deliveries, sender: str, seq_base: int
) -> ChannelCalls:
    from chalicelib.channels import pipeline
    from chalicelib.router import service as router

    result = ChannelCalls(deliveries.channel)
    harness.purge()
    first, second = deliveries.event(sender, seq_base), deliveries.event(sender, seq_base + 1)
    reset_caches()  # a new Lambda instance: no secret or client cached yet
    with counter.window() as result.webhook_first:
        replies = [pipeline.handle(first)]
    with counter.window() as result.webhook_steady:
        replies.append(pipeline.handle(second))
    if any(r["statusCode"] >= 300 for r in replies):
        result.error = f"webhook answered {[r['statusCode'] for r in replies]}: {replies[-1]['body'][:200]}"
        return result
    queued = harness.receive_all()
    if len(queued) != 2:
        result.error = f"expected 2 messages on the inbound queue, found {len(queued)}"
        return result
    for message, attr in zip(queued, ("router_new", "router_known"), strict=True):
        with counter.window() as tally:
            failures = router.route_batch(sqs_event([message], harness.arn))["batchItemFailures"]
        setattr(result, attr, tally)
        if failures:
            result.error = f"router reported a failure for the {attr.split('_')[1]} customer's message"
    return result


def run(stack: Stack, builders: dict[str, Deliveries], seq_base: int, summary: Summary) -> dict[str, Any]:
    print(heading("2. AWS requests per inbound message (botocore before-call hooks)"))
    counter = CallCounter()
    counter.install()
    probe = verify_pynamodb_hook(counter)
    print(f"  PynamoDB hook check: {'ok, a PynamoDB GetItem was counted' if probe is None else probe}")
    harness = _Harness(stack)
    results: list[ChannelCalls] = []
    for channel, d in builders.items():
        try:
            results.append(measure_channel(counter, harness, d, f"calls-{channel}-{seq_base}", seq_base))
        except Exception as exc:  # one broken channel must not hide the others' figures
            results.append(ChannelCalls(channel, error=f"{type(exc).__name__}: {exc}"[:300]))

    rows: list[list[Any]] = []
    scans = 0
    unseen = 0
    out: dict[str, Any] = {"pynamodb_hook_check": probe or "ok", "channels": {}}
    for r in results:
        out["channels"][r.channel] = {"error": r.error} | {
            name: (t.as_json() if t else None) for name, t in r.windows().items()
        }
        for name, t in r.windows().items():
            if t is None:
                continue
            scans += t.count(operation="Scan")
            unseen += t.botocore_calls - t.hooked
            target, ok = "", None
            if name.startswith("webhook, steady"):
                target, ok = f"AWS calls == {WEBHOOK_AWS_CALLS_TARGET}", t.hooked == WEBHOOK_AWS_CALLS_TARGET
            elif name.startswith("webhook"):
                sends = t.count("sqs", "SendMessage") + t.count("sqs", "SendMessageBatch")
                target, ok = f"SQS sends == {WEBHOOK_SQS_SENDS_TARGET}", sends == WEBHOOK_SQS_SENDS_TARGET
            elif name.startswith("router, new"):
                ddb = t.count("dynamodb")
                target, ok = f"DynamoDB <= {ROUTER_NEW_DYNAMODB_TARGET}", ddb <= ROUTER_NEW_DYNAMODB_TARGET
            elif name.startswith("router, known"):
                ddb = t.count("dynamodb")
                target, ok = (
                    f"DynamoDB <= {ROUTER_KNOWN_DYNAMODB_TARGET}",
                    ddb <= ROUTER_KNOWN_DYNAMODB_TARGET,
                )
            rows.append(
                [
                    r.channel,
                    name,
                    t.hooked,
                    t.count("dynamodb"),
                    t.count("sqs"),
                    t.hooked - t.count("dynamodb") - t.count("sqs"),
                    target,
                    verdict(ok),
                    t.breakdown(),
                ]
            )
        if r.error:
            rows.append([r.channel, "error", "", "", "", "", "", "error", r.error])
    print(
        table(
            ["channel", "scenario", "calls", "ddb", "sqs", "other", "target", "verdict", "by operation"],
            rows,
            right=(2, 3, 4, 5),
        )
    )
    print("  DynamoDB requests of the router, by name (first channel measured):")
    for r in results[:1]:
        for label, t in (("new customer", r.router_new), ("known customer", r.router_known)):
            if t is not None:
                print(f"    {r.channel}, {label}: {len(t.requests)} request(s)")
                for n, request in enumerate(t.requests, 1):
                    print(f"      {n}. {request}")
    print(f"  Scan: {scans}  (target 0: {verdict(scans == 0)})")
    if unseen:
        print(f"  WARNING: {unseen} botocore call(s) went through a session the hooks do not cover")
    else:
        print("  cross-check: every botocore call in the windows was seen by the hooks")
    out.update(scans=scans, unhooked_calls=unseen)

    for r in results:
        if r.error:
            summary.add(f"requests {r.channel}", False, r.error)
            continue
        steady, known, new = r.webhook_steady, r.router_known, r.router_new
        if steady is not None:
            sends = steady.count("sqs", "SendMessage") + steady.count("sqs", "SendMessageBatch")
            summary.add(
                f"webhook {r.channel} AWS calls/message",
                steady.hooked == WEBHOOK_AWS_CALLS_TARGET,
                f"{steady.hooked} (== 1): {sends} SQS send(s), {steady.count('dynamodb')} DynamoDB",
            )
        if new is not None:
            ddb = new.count("dynamodb")
            summary.add(
                f"router {r.channel} new customer DynamoDB",
                ddb <= ROUTER_NEW_DYNAMODB_TARGET,
                f"{ddb} (<= {ROUTER_NEW_DYNAMODB_TARGET})",
            )
        if known is not None:
            ddb = known.count("dynamodb")
            summary.add(
                f"router {r.channel} known customer DynamoDB",
                ddb <= ROUTER_KNOWN_DYNAMODB_TARGET,
                f"{ddb} (<= {ROUTER_KNOWN_DYNAMODB_TARGET})",
            )
    summary.add("Scans anywhere", scans == 0, f"Scan: {scans} (0)")
    if probe is not None or unseen:
        summary.add("call counting covers every session", False, probe or f"{unseen} unhooked calls")
    return out
