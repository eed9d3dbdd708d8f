"""Right of access and portability: ``GET /customers/{id}/export`` → one JSON document of
everything held about the customer (profile, identities, conversations and their messages,
tickets with their history, CSAT answers, tags, consents, the audit trail of their data). The
export itself is recorded in their audit trail (a view, ``what = "export"``).

A large customer (more than ``INLINE_CONVERSATIONS`` conversations, known from the customer's own
counter without reading them), or ``?mode=async``, is exported asynchronously: 202 ``{status:
"pending", export_id}``; the events consumer writes the document to the media bucket
(``exports/<customer_id>/<export_id>.json``, expiring after 7 days by a lifecycle rule) and
``GET /customers/{id}/exports/{export_id}`` answers ``{status: "done", url}`` (a presigned link)."""

from __future__ import annotations

import json
import uuid
from typing import Any

from chalicelib.audit import service as audit
from chalicelib.aws import client, queue_url
from chalicelib.config import settings
from chalicelib.db import as_dict, to_json
from chalicelib.errors import NotFound
from chalicelib.identity.models import Customer
from chalicelib.messages import iso, utcnow
from chalicelib.privacy.holdings import Holdings, collect

FORMAT = "omniflow.customer-export/1"
INLINE_CONVERSATIONS = 50  # more: exported asynchronously to S3
LINK_SECONDS = 900
CONSENT_PREFIX = "consent."  # customer attributes recording a consent (consent.marketing = "yes" …)


def document(held: Holdings) -> dict[str, Any]:
    """The export of ``held`` (pure)."""
    main = held.customers[-1] if held.customers else None
    attributes = as_dict(main.attributes) if main is not None and main.attributes is not None else {}
    return {
        "format": FORMAT,
        "customer_id": main.customer_id if main is not None else held.customer_id,
        "exported_at": iso(utcnow()),
        "profile": [to_json(c) for c in held.customers],
        "identities": [to_json(i) for i in held.identities],
        "conversations": [
            {**to_json(c), "messages": [to_json(m) for m in held.messages.get(c.conversation_id, [])]}
            for c in sorted(held.conversations, key=lambda c: c.created_at)
        ],
        "tickets": [
            {**to_json(t), "history": [to_json(e) for e in held.ticket_events.get(t.ticket_id, [])]}
            for t in held.tickets
        ],
        "csat": [
            {"ticket_id": t.ticket_id, "score": t.csat_score, "comment": t.csat_comment}
            for t in held.tickets
            if t.csat_score is not None
        ],
        "tags": sorted({tag for c in held.customers for tag in (c.tags or set())}),
        "consents": {
            k[len(CONSENT_PREFIX) :]: v for k, v in attributes.items() if k.startswith(CONSENT_PREFIX)
        },
        "audit": [to_json(r) for r in sorted(held.audit, key=lambda r: r.at)],
    }


def export(actor: str, customer_id: str, mode: str = "auto") -> tuple[int, dict[str, Any]]:
    """(200, the export) or, for a large customer or ``mode="async"``, (202, the pending job)."""
    try:
        customer = Customer.get(customer_id)
    except Customer.DoesNotExist as exc:
        raise NotFound(f"customer {customer_id}") from exc
    if mode == "async" or (mode == "auto" and int(customer.conversations_opened or 0) > INLINE_CONVERSATIONS):
        return 202, request_async(actor, customer_id)
    held = collect(customer_id)
    out = document(held)
    audit.viewed(actor, "export", held.customer_ids)
    return 200, out


def _job_key(customer_id: str, export_id: str) -> str:
    return f"export#{customer_id}#{export_id}"


def request_async(actor: str, customer_id: str) -> dict[str, Any]:
    export_id = uuid.uuid4().hex[:16]
    now = iso(utcnow())
    client("dynamodb").put_item(
        TableName=settings().table("state"),
        Item={
            "key": {"S": _job_key(customer_id, export_id)},
            "status": {"S": "pending"},
            "requested_at": {"S": now},
            "requested_by": {"S": actor},
        },
    )
    client("sqs").send_message(
        QueueUrl=queue_url("events"),
        MessageBody=json.dumps(
            {"type": "privacy.export", "customer_id": customer_id, "export_id": export_id}
        ),
    )
    audit.viewed(actor, "export", [customer_id], export_id=export_id)
    return {"customer_id": customer_id, "export_id": export_id, "status": "pending", "requested_at": now}


def object_key(customer_id: str, export_id: str) -> str:
    return f"exports/{customer_id}/{export_id}.json"


def handle_event(event: dict[str, Any]) -> None:
    """The events consumer's handler of ``privacy.export``: the document to S3, the job done."""
    from chalicelib.media import service as media

    customer_id, export_id = str(event["customer_id"]), str(event["export_id"])
    body = json.dumps(document(collect(customer_id, missing_ok=True)), ensure_ascii=False).encode()
    media.store_private(object_key(customer_id, export_id), body, "application/json")
    client("dynamodb").update_item(
        TableName=settings().table("state"),
        Key={"key": {"S": _job_key(customer_id, export_id)}},
        UpdateExpression="SET #s = :done, done_at = :now, size_bytes = :size",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={
            ":done": {"S": "done"},
            ":now": {"S": iso(utcnow())},
            ":size": {"N": str(len(body))},
        },
    )


def job(actor: str, customer_id: str, export_id: str) -> dict[str, Any]:
    """An asynchronous export's status; when done, a presigned link (its issue is audited)."""
    from chalicelib.media import service as media

    got = (
        client("dynamodb")
        .get_item(
            TableName=settings().table("state"),
            Key={"key": {"S": _job_key(customer_id, export_id)}},
            ConsistentRead=True,
        )
        .get("Item")
    )
    if got is None:
        raise NotFound(f"export {export_id}")
    out: dict[str, Any] = {"customer_id": customer_id, "export_id": export_id, "status": got["status"]["S"]}
    out["requested_at"] = got["requested_at"]["S"]
    if out["status"] == "done":
        out["done_at"] = got["done_at"]["S"]
        out["size_bytes"] = int(got["size_bytes"]["N"])
        out["url"] = media.presign(object_key(customer_id, export_id), LINK_SECONDS)
        out["expires_in"] = LINK_SECONDS
        audit.viewed(actor, "export_link", [customer_id], export_id=export_id)
    return out
