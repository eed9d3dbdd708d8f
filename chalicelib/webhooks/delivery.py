"""The ``webhooks`` queue's consumer: sign and POST one message, log the attempt, and on failure
queue the next attempt on the schedule (5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h). SQS delays are
at most 15 minutes, so a longer wait is a chain of re-queued messages, each carrying ``not_before``.
After the last retry the message goes to the dead-letter queue (replayable); an endpoint whose
messages have failed for ``DISABLE_AFTER`` is disabled and the admins are told (SNS alerts topic)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import requests

from chalicelib.aws import client, queue_url
from chalicelib.config import settings
from chalicelib.messages import iso
from chalicelib.observability import logger
from chalicelib.webhooks import guard, signing
from chalicelib.webhooks.models import Attempt, Endpoint, WebhookMessage
from chalicelib.webhooks.service import current_secrets, endpoint_key, enqueue

SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 36000)  # seconds before each retry
MAX_DELAY = 900  # SQS DelaySeconds limit
TIMEOUT = 10.0
DISABLE_AFTER = timedelta(days=5)


def now() -> float:
    """Epoch seconds (the tests move it, and moto's SQS clock with it)."""
    return time.time()


def handle_batch(event: dict[str, Any]) -> dict[str, Any]:
    """The webhooks queue handler body (partial batch failures: one bad record never blocks others)."""
    from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

    def record_handler(record: Any) -> None:
        deliver(json.loads(record.body))

    return dict(
        process_partial_response(
            event=event, record_handler=record_handler, processor=BatchProcessor(event_type=EventType.SQS)
        )
    )


def deliver(body: dict[str, Any]) -> str:
    """Process one queued attempt; returns what happened (waiting, delivered, retrying, failed, skipped)."""
    endpoint_id, msg_id = body["endpoint_id"], body["msg_id"]
    attempt, retry = int(body["attempt"]), int(body.get("retry", 0))
    wait = float(body.get("not_before", 0)) - now()
    if wait > 0:  # a long wait: hop through the queue again
        enqueue(
            endpoint_id,
            msg_id,
            attempt=attempt,
            retry=retry,
            not_before=body["not_before"],
            delay=int(wait + 0.999),
        )
        return "waiting"
    key = endpoint_key(endpoint_id)
    try:
        endpoint = Endpoint.get(key, "endpoint")
        message = WebhookMessage.get(key, f"message#{msg_id}")
    except (Endpoint.DoesNotExist, WebhookMessage.DoesNotExist):
        return "skipped"
    if message.status == "delivered":
        return "skipped"
    if not endpoint.enabled:
        _finish(endpoint, message, "failed")
        return "skipped"

    ok, code, error, latency = _post(endpoint, message)
    at_dt = datetime.fromtimestamp(now(), UTC)
    Attempt(
        key,
        f"attempt#{msg_id}#{attempt:03d}",
        msg_id=msg_id,
        attempt=attempt,
        at=iso(at_dt),
        ok=ok,
        response_code=code,
        latency_ms=latency,
        error=error,
    ).save()
    message.update(actions=[WebhookMessage.attempts.set(attempt)])
    if ok:
        _finish(endpoint, message, "delivered")
        if endpoint.failing_since:
            endpoint.update(actions=[Endpoint.failing_since.remove()])
        return "delivered"
    if not endpoint.failing_since:
        endpoint.update(actions=[Endpoint.failing_since.set(iso(at_dt))])
    if retry < len(SCHEDULE):
        delay = SCHEDULE[retry]
        enqueue(
            endpoint_id,
            msg_id,
            attempt=attempt + 1,
            retry=retry + 1,
            not_before=now() + delay,
            delay=min(delay, MAX_DELAY),
        )
        return "retrying"
    _finish(endpoint, message, "failed")
    client("sqs").send_message(QueueUrl=queue_url("webhooks-dlq"), MessageBody=json.dumps(body))
    _maybe_disable(endpoint, at_dt)
    return "failed"


def _post(endpoint: Endpoint, message: WebhookMessage) -> tuple[bool, int | None, str | None, int]:
    raw = json.dumps(message.payload, ensure_ascii=False, separators=(",", ":"))
    stamp = int(now())
    started = time.monotonic()
    try:
        guard.check_url(endpoint.url)
        response = requests.post(
            endpoint.url,
            data=raw.encode(),
            headers=signing.headers(current_secrets(endpoint), message.msg_id, stamp, raw),
            timeout=TIMEOUT,
            allow_redirects=False,  # a redirect could lead past the guard
        )
        latency = int((time.monotonic() - started) * 1000)
        return 200 <= response.status_code < 300, response.status_code, None, latency
    except guard.BlockedAddress as exc:
        return False, None, exc.message, 0
    except requests.RequestException as exc:
        return False, None, type(exc).__name__, int((time.monotonic() - started) * 1000)


def _finish(endpoint: Endpoint, message: WebhookMessage, status: str) -> None:
    message.update(
        actions=[
            WebhookMessage.status.set(status),
            WebhookMessage.updated_at.set(iso(datetime.now(UTC))),
        ]
    )


def _maybe_disable(endpoint: Endpoint, at: datetime) -> None:
    """Failing (no success) for DISABLE_AFTER: disable the endpoint and tell the admins."""
    since = endpoint.failing_since
    if not since or datetime.fromisoformat(since.replace("Z", "+00:00")) > at - DISABLE_AFTER:
        return
    endpoint.update(
        actions=[Endpoint.enabled.set(False), Endpoint.disabled_reason.set(f"failing since {since}")]
    )
    topic = settings().alerts_topic_arn
    if topic:
        client("sns").publish(
            TopicArn=topic,
            Subject="Omniflow webhook endpoint disabled",
            Message=json.dumps(
                {"endpoint_id": endpoint.endpoint_id, "failing_since": since, "by": endpoint.created_by}
            ),
        )
    logger.warning("webhook endpoint disabled", extra={"endpoint_id": endpoint.endpoint_id})
