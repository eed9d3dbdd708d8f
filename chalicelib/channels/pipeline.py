"""The webhook pipeline, written once for every channel:

    size limit → channel known? → credentials → handshake → verify → parse/normalize
    → dedupe (powertools idempotency, DynamoDB) → SQS FIFO ``inbound`` → the platform's acknowledgement

Each function in ``functions/`` is ``handler = pipeline.lambda_handler("<channel>")``. The local
stack calls the same handlers with real API Gateway HTTP API (v2) events.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Callable
from functools import lru_cache
from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

from chalicelib import channels
from chalicelib.aws import client
from chalicelib.aws import queue_url
from chalicelib.channels.base import BadRequest
from chalicelib.channels.base import NotFound
from chalicelib.channels.base import PayloadTooLarge
from chalicelib.channels.base import Response
from chalicelib.channels.base import RetryLater
from chalicelib.channels.base import WebhookError
from chalicelib.channels.base import WebhookRequest
from chalicelib.channels.credentials import account_credentials
from chalicelib.config import MAX_BODY_BYTES
from chalicelib.config import settings
from chalicelib.messages import InboundMessage
from chalicelib.observability import logger
from chalicelib.observability import metrics
from chalicelib.observability import tracer

DEDUPE_TTL_SECONDS = 7 * 24 * 3600  # longer than any platform's retry window
_IDEMPOTENCY_CONFIG = IdempotencyConfig(
    event_key_jmespath="dedupe_key", expires_after_seconds=DEDUPE_TTL_SECONDS, use_local_cache=True
)


def register_lambda_context(context: Any) -> None:
    """Tell the dedupe (powertools idempotency) about this invocation, so a delivery whose
    invocation dies mid-way is retried once it times out instead of being blocked as "in
    progress" for the whole dedupe TTL. Every Lambda that calls ``enqueue_once`` calls this."""
    _IDEMPOTENCY_CONFIG.register_lambda_context(context)


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


@lru_cache(maxsize=1)
def _idempotent_enqueue() -> Callable[..., dict[str, Any]]:
    """``enqueue(message=...)`` wrapped by powertools idempotency on the message's dedupe key."""
    from aws_lambda_powertools.utilities.idempotency import DynamoDBPersistenceLayer
    from aws_lambda_powertools.utilities.idempotency import idempotent_function

    persistence = DynamoDBPersistenceLayer(
        table_name=settings().table("idempotency"), boto3_client=client("dynamodb")
    )

    @idempotent_function(
        data_keyword_argument="message", persistence_store=persistence, config=_IDEMPOTENCY_CONFIG
    )
    def enqueue(message: dict[str, Any]) -> dict[str, Any]:
        body = message["body"]
        result = client("sqs").send_message(
            QueueUrl=queue_url("inbound"),
            MessageBody=body,
            MessageGroupId=message["group_id"],
            MessageDeduplicationId=hashlib.sha256(message["dedupe_key"].encode()).hexdigest(),
            MessageAttributes={
                "correlation_id": {"DataType": "String", "StringValue": message["correlation_id"]}
            },
        )
        return {"sqs_message_id": result["MessageId"]}

    return enqueue


def enqueue_once(msg: InboundMessage) -> None:
    """Put a message on the inbound queue unless this delivery was already accepted (then the
    saved result is returned by powertools and nothing is sent)."""
    from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyAlreadyInProgressError

    correlation_id = msg.correlation_id or msg.dedupe_key
    payload = {
        "dedupe_key": msg.dedupe_key,
        "group_id": msg.group_id,
        "correlation_id": correlation_id,
        "body": msg.model_copy(update={"correlation_id": correlation_id}).model_dump_json(),
    }
    try:
        _idempotent_enqueue()(message=payload)
    except IdempotencyAlreadyInProgressError as exc:
        raise RetryLater("this delivery is being processed") from exc


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
        for msg in messages:
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
        register_lambda_context(context)
        return handle(event, expected_channel=channel)

    handler.__name__ = f"{channel}_webhook"
    return handler
