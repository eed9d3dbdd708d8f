"""The webhook pipeline, written once for every channel:

    size limit → channel known? → credentials → handshake → verify → parse/normalize
    → ONE ``SendMessage`` to SQS FIFO ``inbound`` → the platform's acknowledgement

The lean path: no DynamoDB on the webhook. A platform's retry is absorbed twice over without it:
the FIFO queue drops a send whose deduplication id (a hash of the platform's message id) it saw in
the last five minutes, and the router's conditional dedupe marker (``conversations.record_inbound``)
stores a later retry — after the FIFO window — once. So 1 AWS call per message.

Each function in ``functions/`` is ``handler = pipeline.lambda_handler("<channel>")``. The local
stack calls the same handlers with real API Gateway HTTP API (v2) events.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit

from chalicelib import channels
from chalicelib.aws import client
from chalicelib.aws import queue_url
from chalicelib.channels.base import BadRequest
from chalicelib.channels.base import NotFound
from chalicelib.channels.base import PayloadTooLarge
from chalicelib.channels.base import Response
from chalicelib.channels.base import WebhookError
from chalicelib.channels.base import WebhookRequest
from chalicelib.channels.credentials import account_credentials
from chalicelib.config import MAX_BODY_BYTES
from chalicelib.config import settings
from chalicelib.messages import InboundMessage
from chalicelib.observability import logger
from chalicelib.observability import metrics
from chalicelib.observability import tracer


def request_from_event(event: dict[str, Any]) -> WebhookRequest:
    """Build a WebhookRequest from an HTTP API v2 event. Raises 404/413/400 on bad shapes."""
    raw_path: str = event.get("rawPath") or "/"
    parts = [p for p in raw_path.split("/") if p]
    if len(parts) < 2 or parts[0] != "webhooks":
        raise NotFound("no such webhook")
    body_text = event.get("body") or ""
    if len(body_text) > MAX_BODY_BYTES * 4 // 3 + 4:  # cheap early refusal before decoding
        raise PayloadTooLarge(f"body over {MAX_BODY_BYTES} bytes")
    try:
        body = (
            base64.b64decode(body_text, validate=True) if event.get("isBase64Encoded") else body_text.encode()
        )
    except (ValueError, TypeError) as exc:
        raise BadRequest("body is not valid base64") from exc
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(f"body over {MAX_BODY_BYTES} bytes")
    headers = {k.lower(): v for k, v in (event.get("headers") or {}).items()}
    ctx = event.get("requestContext") or {}
    http = ctx.get("http") or {}
    query = dict(event.get("queryStringParameters") or {})
    raw_query = event.get("rawQueryString") or ""
    base = settings().public_url or f"https://{headers.get('host') or ctx.get('domainName', 'localhost')}"
    url = f"{base}{raw_path}" + (f"?{raw_query}" if raw_query else "")
    return WebhookRequest(
        method=(http.get("method") or "GET").upper(),
        channel=parts[1],
        path_parts=tuple(parts[2:]),
        headers=headers,
        query=query,
        body=body,
        url=url,
        source_ip=http.get("sourceIp", ""),
    )


def deduplication_id(dedupe_key: str) -> str:
    """The FIFO deduplication id of a message: its dedupe key (channel, account and the platform's
    message id) hashed to SQS's 128-character limit."""
    return hashlib.sha256(dedupe_key.encode()).hexdigest()


def enqueue_once(msg: InboundMessage) -> None:
    """Put a message on the inbound queue: one ``SendMessage``, deduplicated by the FIFO queue for
    five minutes and by the router's dedupe marker after that (see the module docstring)."""
    correlation_id = msg.correlation_id or msg.dedupe_key
    client("sqs").send_message(
        QueueUrl=queue_url("inbound"),
        MessageBody=msg.model_copy(update={"correlation_id": correlation_id}).model_dump_json(),
        MessageGroupId=msg.group_id,
        MessageDeduplicationId=deduplication_id(msg.dedupe_key),
        MessageAttributes={"correlation_id": {"DataType": "String", "StringValue": correlation_id}},
    )


def handle(event: dict[str, Any], expected_channel: str | None = None) -> dict[str, Any]:
    """Run one webhook request through the pipeline; always returns an HTTP API response."""
    try:
        req = request_from_event(event)
        if expected_channel is not None and req.channel != expected_channel:
            raise NotFound(f"unknown channel {req.channel!r}")
        adapter = channels.get(req.channel)
        logger.append_keys(channel=req.channel)
        creds = account_credentials(req.channel, adapter.account_of(req))
        special = adapter.route(req, creds) or adapter.handshake(req, creds)
        if special is not None:
            return special.to_event()
        adapter.verify(req, creds)
        messages = list(adapter.parse(req, creds))
        for msg in [] if adapter.enqueues_itself else messages:
            logger.set_correlation_id(msg.dedupe_key)
            enqueue_once(msg)
        metrics.add_metric(name="MessagesAccepted", unit=MetricUnit.Count, value=len(messages))
        return adapter.acknowledge(req, messages).to_event()
    except WebhookError as exc:
        logger.info("webhook refused", extra={"status": exc.status, "reason": exc.code})
        metrics.add_metric(name="WebhookRefused", unit=MetricUnit.Count, value=1)
        return Response.json({"error": exc.code, "message": exc.message}, exc.status).to_event()
    except Exception:  # noqa: BLE001 — infrastructure failure: the platform must retry, no trace out
        logger.exception("webhook failed")
        metrics.add_metric(name="WebhookErrors", unit=MetricUnit.Count, value=1)
        return Response.json({"error": "unavailable", "message": "try again"}, 503).to_event()


def lambda_handler(channel: str) -> Callable[[dict[str, Any], Any], dict[str, Any]]:
    """The Lambda entry point for one channel's webhook function."""

    @logger.inject_lambda_context(clear_state=True)
    @metrics.log_metrics
    @tracer.capture_lambda_handler(capture_response=False)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        return handle(event, expected_channel=channel)

    handler.__name__ = f"{channel}_webhook"
    return handler
