"""Every table and bucket of ``infra/data.yaml`` with what it holds of a customer and its erasure
handler (tests/unit/test_privacy_registry.py fails when a table or bucket is missing here). A
handler deletes what it holds of ``Holdings`` (found by keys and indexes, never a Scan) and answers
how many items or objects it removed; ``None`` means the table holds nothing of a customer (ids
and counters only), said in ``holds``."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from chalicelib.aws import client
from chalicelib.config import settings
from chalicelib.privacy.holdings import Holdings

Eraser = Callable[[Holdings], int]
MISS_DAYS = 90  # unanswered questions expire after 90 days (kb-stats TTL): older days hold none


@dataclass(frozen=True)
class Rule:
    holds: str
    erase: Eraser | None = None


# ---- low-level helpers: keys only, batched -----------------------------------------------------------
def _delete_keys(table: str, keys: Iterable[dict[str, Any]]) -> int:
    """BatchWriteItem deletes, 25 a request, unprocessed ones retried."""
    ddb, name, done = client("dynamodb"), settings().table(table), 0
    pending = [{"DeleteRequest": {"Key": k}} for k in keys]
    while pending:
        chunk, pending = pending[:25], pending[25:]
        while chunk:
            left = ddb.batch_write_item(RequestItems={name: chunk}).get("UnprocessedItems", {}).get(name, [])
            done += len(chunk) - len(left)
            chunk = left
    return done


def _partition(table: str, hash_name: str, value: str, range_name: str | None = None) -> list[dict[str, Any]]:
    """Every item of one partition, whole (a Query, all pages)."""
    ddb, items, start = client("dynamodb"), [], None
    while True:
        kwargs: dict[str, Any] = {
            "TableName": settings().table(table),
            "KeyConditionExpression": "#h = :v",
            "ExpressionAttributeNames": {"#h": hash_name},
            "ExpressionAttributeValues": {":v": {"S": value}},
            "ConsistentRead": True,
        }
        if start:
            kwargs["ExclusiveStartKey"] = start
        page = ddb.query(**kwargs)
        items += page.get("Items", [])
        start = page.get("LastEvaluatedKey")
        if not start:
            return items


def _keys(items: Iterable[dict[str, Any]], *names: str) -> list[dict[str, Any]]:
    return [{n: item[n] for n in names} for item in items]


# ---- handlers ----------------------------------------------------------------------------------------
def _customers(held: Holdings) -> int:
    """Profiles are replaced by a tombstone (the id and when it was erased: the fact must stay)."""
    from chalicelib.messages import iso, utcnow

    ddb, now = client("dynamodb"), iso(utcnow())
    for cid in held.customer_ids:
        ddb.put_item(
            TableName=settings().table("customers"),
            Item={"customer_id": {"S": cid}, "created_at": {"S": now}, "erased_at": {"S": now}},
        )
    return len(held.customer_ids)


def _identities(held: Holdings) -> int:
    return _delete_keys("identities", [{"identity_key": {"S": i.identity_key}} for i in held.identities])


def _conversations(held: Holdings) -> int:
    return _delete_keys("conversations", [{"conversation_id": {"S": c}} for c in held.conversation_ids])


def _messages(held: Holdings) -> int:
    keys: list[dict[str, Any]] = []
    for cid in held.conversation_ids:
        items = _partition("messages", "conversation_id", cid)
        keys += _keys(items, "conversation_id", "seq")
        keys += [  # the dedupe markers (platform ids only, but they point at the messages)
            {"conversation_id": {"S": f"dedupe#{i['dedupe_key']['S']}"}, "seq": {"N": "0"}}
            for i in items
            if "dedupe_key" in i
        ]
    return _delete_keys("messages", keys)


def _tickets(held: Holdings) -> int:
    return _delete_keys("tickets", [{"ticket_id": {"S": t.ticket_id}} for t in held.tickets])


def _ticket_events(held: Holdings) -> int:
    keys = [
        k
        for t in held.tickets
        for k in _keys(_partition("ticket-events", "ticket_id", t.ticket_id), "ticket_id", "event_key")
    ]
    return _delete_keys("ticket-events", keys)


def _quality(held: Holdings) -> int:
    keys = [
        k for c in held.conversation_ids for k in _keys(_partition("quality", "pk", f"card#{c}"), "pk", "sk")
    ]
    return _delete_keys("quality", keys)


def _state(held: Holdings) -> int:
    """Bot sessions keep the customer's questions: ``bot#<conversation_id>``."""
    return _delete_keys("state", [{"key": {"S": f"bot#{c}"}} for c in held.conversation_ids])


def _kb_misses(held: Holdings) -> int:
    """Unanswered questions are the customer's words without an id: each day's misses since their
    first conversation (at most ``MISS_DAYS``) are read and those with their words removed."""
    texts = held.texts()
    if not texts or not held.conversations:
        return 0
    first = min(date.fromisoformat(c.created_at[:10]) for c in held.conversations)
    today = date.today()
    first = max(first, today - timedelta(days=MISS_DAYS))
    keys: list[dict[str, Any]] = []
    day = first
    while day <= today:
        items = _partition("kb-stats", "period", f"miss#{day.isoformat()}")
        keys += _keys(
            [i for i in items if i.get("question", {}).get("S", "").strip() in texts], "period", "key"
        )
        day += timedelta(days=1)
    return _delete_keys("kb-stats", keys)


def _webhooks(held: Holdings) -> int:
    """Outgoing events about the customer (their payloads name the customer or a conversation)."""
    endpoints = {i["sk"]["S"].rsplit("#", 1)[-1] for i in _partition("webhooks", "pk", "subscriptions")}
    marks = [*held.customer_ids, *held.conversation_ids]
    keys: list[dict[str, Any]] = []
    for endpoint_id in sorted(endpoints):
        for item in _partition("webhooks", "pk", f"endpoint#{endpoint_id}"):
            if item["sk"]["S"].startswith("message#") and any(m in json.dumps(item) for m in marks):
                keys.append({"pk": item["pk"], "sk": item["sk"]})
    return _delete_keys("webhooks", keys)


def _business_events(held: Holdings) -> int:
    """What the company's systems reported about them (their partition)."""
    return _delete_keys(
        "business_events",
        [
            k
            for cid in held.customer_ids
            for k in _keys(_partition("business_events", "customer_id", cid), "customer_id", "sk")
        ],
    )


def _proactive(held: Holdings) -> int:
    """Business events about them (their data, what was sent), their opt-outs and daily counts."""
    ddb, keys = client("dynamodb"), []
    for cid in held.customer_ids:
        for prefix in ("optout#", "cap#"):
            keys += _keys(_partition("proactive", "pk", f"{prefix}{cid}"), "pk", "sk")
        start = None
        while True:
            kwargs: dict[str, Any] = {
                "TableName": settings().table("proactive"),
                "IndexName": "by_customer",
                "KeyConditionExpression": "customer_id = :c",
                "ExpressionAttributeValues": {":c": {"S": cid}},
            }
            if start:
                kwargs["ExclusiveStartKey"] = start
            page = ddb.query(**kwargs)
            keys += _keys(page.get("Items", []), "pk", "sk")
            start = page.get("LastEvaluatedKey")
            if not start:
                break
    return _delete_keys("proactive", keys)


_AUDIT_KEPT = {"view", "erasure.requested", "customer.erased"}  # ids only: the fact of erasure


def _audit(held: Holdings) -> int:
    """Changes to the customer's record carry values (tags, attributes): removed. Views carry ids
    only and stay (who looked at the data is part of the fact of erasure)."""
    keys = [
        {"subject": {"S": r.subject}, "at": {"S": r.at}} for r in held.audit if r.action not in _AUDIT_KEPT
    ]
    return _delete_keys("audit", keys)


def _media(held: Holdings) -> int:
    """Files the customer sent (``media/<conversation_id>/…``) and their exports."""
    bucket = settings().media_bucket
    if not bucket:
        return 0
    s3, done = client("s3"), 0
    prefixes = [f"media/{c}/" for c in held.conversation_ids] + [f"exports/{c}/" for c in held.customer_ids]
    for prefix in prefixes:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            objects = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if objects:
                s3.delete_objects(Bucket=bucket, Delete={"Objects": objects, "Quiet": True})
                done += len(objects)
    return done


_NOTHING = "nothing of a customer's: "
TABLES: dict[str, Rule] = {
    "customers": Rule("the profile: names, phones, e-mails, tags, attributes → a tombstone", _customers),
    "identities": Rule("channel user ids, phones, e-mails (in the keys)", _identities),
    "conversations": Rule("conversations: channel user id, preview of the last message", _conversations),
    "messages": Rule("messages (text, attachments, channel user id) and their dedupe markers", _messages),
    "tickets": Rule("tickets they asked for, sub-tickets, CSAT answers", _tickets),
    "ticket-events": Rule("those tickets' history (comments, replies, changes)", _ticket_events),
    "quality": Rule("score cards of their conversations", _quality),
    "state": Rule("bot sessions of their conversations (their questions)", _state),
    "kb-stats": Rule("unanswered questions (their words, no id)", _kb_misses),
    "webhooks": Rule("outgoing event payloads about them", _webhooks),
    "audit": Rule("changes to their record (values); views (ids only) stay", _audit),
    "business_events": Rule("what the company's systems reported about them", _business_events),
    "proactive": Rule("business events about them, their opt-outs and daily notice counts", _proactive),
    "api_clients": Rule(_NOTHING + "machine clients of the API and their rate limits"),
    "feed": Rule(_NOTHING + "console notifications carry ids and channel names, expire in a day"),
    "agents": Rule(_NOTHING + "agents' profiles"),
    "skill-groups": Rule(_NOTHING + "skill groups"),
    "sla-stats": Rule(_NOTHING + "anonymous SLA counters"),
    "bot-stats": Rule(_NOTHING + "anonymous bot counters"),
    "queues": Rule(_NOTHING + "queue counters and agents' seats"),
    "config": Rule(_NOTHING + "admins' settings (rules, calendars, flows)"),
    "idempotency": Rule(_NOTHING + "request fingerprints, expiring"),
    "canned-replies": Rule(_NOTHING + "agents' canned replies"),
    "kb-articles": Rule(_NOTHING + "knowledge-base articles"),
    "kb-versions": Rule(_NOTHING + "knowledge-base article versions"),
    "assist": Rule(_NOTHING + "anonymous suggestion counters"),
    "analytics": Rule(_NOTHING + "counters per channel, group and agent; event markers (ids), 14 days"),
    "alerts": Rule(_NOTHING + "admins' alert rules and their history (metric values)"),
}
BUCKETS: dict[str, Rule] = {
    "media": Rule(
        "files they sent (media/<conversation_id>/…) and their exports (exports/<customer_id>/…)", _media
    ),
}
