"""Right to be forgotten: ``POST /customers/{id}/erasure`` records the request (``pending``) in the
state table (``erasure#<customer_id>``) and starts the erasure job on Step Functions
(``infra/erasure.asl.json``): it marks the request ``running`` and hands the customer id to the
events consumer, which runs ``run``: every table's and bucket's handler (``registry``), a tombstone
in place of the profile and in the audit trail, the request ``done`` with what each handler removed,
and ``customer.erased`` announced. ``GET`` the same path answers the request's status."""

from __future__ import annotations

import json
from typing import Any

from chalicelib import events
from chalicelib.audit import service as audit
from chalicelib.aws import client
from chalicelib.config import settings
from chalicelib.errors import NotFound
from chalicelib.identity.models import Customer
from chalicelib.messages import iso, utcnow
from chalicelib.observability import logger
from chalicelib.privacy.holdings import collect
from chalicelib.privacy.registry import BUCKETS, TABLES

PENDING, RUNNING, DONE = "pending", "running", "done"


def state_key(customer_id: str) -> str:
    return f"erasure#{customer_id}"


def _status_item(customer_id: str) -> dict[str, Any] | None:
    got = client("dynamodb").get_item(
        TableName=settings().table("state"), Key={"key": {"S": state_key(customer_id)}}, ConsistentRead=True
    )
    return got.get("Item")


def _view(customer_id: str, item: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"customer_id": customer_id, "status": item["status"]["S"]}
    for name in ("requested_at", "requested_by", "done_at"):
        if name in item:
            out[name] = item[name]["S"]
    if "erased" in item:
        out["erased"] = json.loads(item["erased"]["S"])
    return out


def status(customer_id: str) -> dict[str, Any]:
    """The erasure request's status: pending (requested), running, or done (with what was removed)."""
    item = _status_item(customer_id)
    if item is None:
        raise NotFound(f"erasure request for customer {customer_id}")
    return _view(customer_id, item)


def request(actor: str, customer_id: str) -> dict[str, Any]:
    """Record the request and start the job (a second request answers the first one's status)."""
    existing = _status_item(customer_id)
    if existing is not None:
        return _view(customer_id, existing)
    try:
        Customer.get(customer_id, consistent_read=True)
    except Customer.DoesNotExist as exc:
        raise NotFound(f"customer {customer_id}") from exc
    ddb, now = client("dynamodb"), iso(utcnow())
    try:
        ddb.put_item(
            TableName=settings().table("state"),
            Item={
                "key": {"S": state_key(customer_id)},
                "status": {"S": PENDING},
                "requested_at": {"S": now},
                "requested_by": {"S": actor},
            },
            ConditionExpression="attribute_not_exists(#k)",
            ExpressionAttributeNames={"#k": "key"},
        )
    except ddb.exceptions.ConditionalCheckFailedException:
        return status(customer_id)  # a concurrent request won
    audit.record(f"customer#{customer_id}", actor, "erasure.requested", None)
    start(customer_id)
    return {"customer_id": customer_id, "status": PENDING, "requested_at": now, "requested_by": actor}


def start(customer_id: str) -> None:
    """Start the Step Functions job (named after the customer: a customer is erased once)."""
    machine = settings().erasure_state_machine_arn
    if not machine:
        logger.warning("no erasure state machine configured; erasing in this request")
        run(customer_id)
        return
    sfn = client("stepfunctions")
    try:
        sfn.start_execution(
            stateMachineArn=machine,
            name=f"erasure-{customer_id}"[:80],
            input=json.dumps({"customer_id": customer_id, "state_key": state_key(customer_id)}),
        )
    except sfn.exceptions.ExecutionAlreadyExists:
        pass


def run(customer_id: str) -> dict[str, int]:
    """Erase the customer everywhere (the events consumer runs it for the job; idempotent: a
    redelivered message finds less, or nothing, left)."""
    held = collect(customer_id, missing_ok=True)
    erased: dict[str, int] = {}
    # The profile's tombstone last: until then a retry still finds what the others key on.
    for name, rule in [*TABLES.items(), *BUCKETS.items()]:
        if rule.erase is not None and name != "customers":
            erased[name] = rule.erase(held)
    erased["customers"] = TABLES["customers"].erase(held) if TABLES["customers"].erase else 0
    now = iso(utcnow())
    for cid in held.customer_ids or [customer_id]:
        audit.record(f"customer#{cid}", "system", "customer.erased", {"request": customer_id})
    client("dynamodb").update_item(
        TableName=settings().table("state"),
        Key={"key": {"S": state_key(customer_id)}},
        UpdateExpression="SET #s = :done, done_at = :now, erased = :erased",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={
            ":done": {"S": DONE},
            ":now": {"S": now},
            ":erased": {"S": json.dumps(erased)},
        },
    )
    events.publish(
        events.Announced(
            "customer.erased",
            {"customer_id": customer_id, "customer_ids": held.customer_ids, "erased_at": now},
        )
    )
    logger.info("customer erased", extra={"customer_id": customer_id, "erased": erased})
    return erased


def handle_event(event: dict[str, Any]) -> None:
    """The events consumer's handler of ``privacy.erase`` (sent by the erasure job)."""
    run(str(event["customer_id"]))
