"""Webhook endpoints (admin), the fan-out of announced events to their subscribers, the delivery
log and replays. Sending and retrying live in ``delivery``."""

from __future__ import annotations

import json
import secrets as random
import threading
from datetime import timedelta
from typing import Any

from cachetools import TTLCache, cached

from chalicelib import events
from chalicelib.aws import client, queue_url
from chalicelib.errors import NotFound
from chalicelib.messages import iso, utcnow
from chalicelib.observability import logger
from chalicelib.webhooks import guard, signing
from chalicelib.webhooks.bodies import EVENT_TYPES
from chalicelib.webhooks.models import Attempt, Endpoint, Secret, Subscription, WebhookMessage

ROTATION_OVERLAP = timedelta(hours=24)  # the old secret still signs this long after a rotation
# Who hears an event type, per instance for a minute: every inbound message announces one, and
# subscriptions change rarely (a new endpoint hears events within a minute on other instances).
SUBSCRIBERS_SECONDS = 60
_SUBSCRIBERS: TTLCache[str, dict[str, tuple[str, ...]]] = TTLCache(maxsize=1, ttl=SUBSCRIBERS_SECONDS)
SUBSCRIPTIONS_KEY = "subscriptions"
_LOCK = threading.Lock()


@cached(cache=_SUBSCRIBERS, lock=_LOCK, key=lambda: "all")
def _subscriptions() -> dict[str, tuple[str, ...]]:
    """Every subscription, by event type (one Query of the small ``subscriptions`` partition, cached)."""
    table: dict[str, list[str]] = {}
    for sub in Subscription.query(SUBSCRIPTIONS_KEY):
        kind, _, endpoint_id = sub.sk.partition("#")
        table.setdefault(kind, []).append(endpoint_id)
    return {kind: tuple(ids) for kind, ids in table.items()}


def subscribers(event_type: str) -> tuple[str, ...]:
    """The endpoint ids subscribed to ``event_type``."""
    return _subscriptions().get(event_type, ())


def reset() -> None:
    """Forget the cached subscriptions (after a change here; tests)."""
    with _LOCK:
        _SUBSCRIBERS.clear()


def endpoint_key(endpoint_id: str) -> str:
    return f"endpoint#{endpoint_id}"


def new_msg_id() -> str:
    """Time-ordered: ``msg_<yyyymmddHHMMSSffffff>_<random>``."""
    return f"msg_{utcnow().strftime('%Y%m%d%H%M%S%f')}_{random.token_hex(6)}"


def get_endpoint(endpoint_id: str) -> Endpoint:
    try:
        return Endpoint.get(endpoint_key(endpoint_id), "endpoint")
    except Endpoint.DoesNotExist as exc:
        raise NotFound(f"webhook endpoint {endpoint_id}") from exc


def current_secrets(endpoint: Endpoint, now: str | None = None) -> list[str]:
    now = now or iso(utcnow())
    return [s.value for s in endpoint.secrets if s.expires_at is None or s.expires_at > now]


def create_endpoint(url: str, event_types: list[str], actor: str) -> dict[str, Any]:
    """Save an endpoint (its URL must pass the SSRF guard); the secret is shown only here."""
    guard.check_url(url)
    endpoint_id = f"whe_{random.token_hex(8)}"
    secret = signing.new_secret()
    endpoint = Endpoint(
        endpoint_key(endpoint_id),
        "endpoint",
        endpoint_id=endpoint_id,
        url=url,
        event_types=set(event_types),
        secrets=[Secret(value=secret)],
        created_at=iso(utcnow()),
        created_by=actor,
    )
    endpoint.save(condition=Endpoint.pk.does_not_exist())
    for kind in sorted(set(event_types)):
        Subscription(SUBSCRIPTIONS_KEY, f"{kind}#{endpoint_id}").save()
    reset()
    return {"endpoint_id": endpoint_id, "secret": secret, "url": url, "events": sorted(set(event_types))}


def _view(endpoint: Endpoint) -> dict[str, Any]:
    """An endpoint as the admin page shows it (never a secret)."""
    return {
        "endpoint_id": endpoint.endpoint_id,
        "url": endpoint.url,
        "events": sorted(endpoint.event_types or ()),
        "enabled": bool(endpoint.enabled),
        "disabled_reason": endpoint.disabled_reason,
        "failing_since": endpoint.failing_since,
        "created_at": endpoint.created_at,
        "created_by": endpoint.created_by,
    }


def list_endpoints() -> dict[str, Any]:
    """Every endpoint, newest first: their ids from one Query of the ``subscriptions`` partition
    (every endpoint has at least one), the endpoints by BatchGetItem."""
    ids = sorted({sub.sk.partition("#")[2] for sub in Subscription.query(SUBSCRIPTIONS_KEY)})
    found = list(Endpoint.batch_get([(endpoint_key(i), "endpoint") for i in ids])) if ids else []
    return {"items": [_view(e) for e in sorted(found, key=lambda e: e.created_at, reverse=True)]}


def set_enabled(endpoint_id: str, enabled: bool) -> dict[str, Any]:
    """Pause an endpoint (its messages fail instead of being sent) or resume it."""
    endpoint = get_endpoint(endpoint_id)
    actions = [Endpoint.enabled.set(enabled)]
    if enabled:
        actions += [Endpoint.disabled_reason.remove(), Endpoint.failing_since.remove()]
    else:
        actions.append(Endpoint.disabled_reason.set("disabled by an admin"))
    endpoint.update(actions=actions)
    return _view(endpoint)


def rotate_secret(endpoint_id: str) -> dict[str, Any]:
    """A new secret; the ones current until now keep signing for ``ROTATION_OVERLAP``."""
    endpoint = get_endpoint(endpoint_id)
    now = utcnow()
    until = iso(now + ROTATION_OVERLAP)
    kept = [
        Secret(value=s.value, expires_at=min(s.expires_at or until, until))
        for s in endpoint.secrets
        if s.expires_at is None or s.expires_at > iso(now)
    ]
    secret = signing.new_secret()
    endpoint.update(actions=[Endpoint.secrets.set([Secret(value=secret), *kept])])
    return {"endpoint_id": endpoint_id, "secret": secret, "previous_expires_at": until}


def on_announced(event: events.Announced) -> None:
    """Fan an announced event out: one message per subscribed, enabled endpoint, queued at once."""
    if event.type not in EVENT_TYPES:
        return
    for endpoint_id in subscribers(event.type):
        msg_id = new_msg_id()
        now = iso(utcnow())
        payload = {"type": event.type, "timestamp": now, "data": dict(event.data)}
        WebhookMessage(
            endpoint_key(endpoint_id),
            f"message#{msg_id}",
            msg_id=msg_id,
            event_type=event.type,
            payload=payload,
            created_at=now,
            updated_at=now,
        ).save()
        enqueue(endpoint_id, msg_id, attempt=1)


def enqueue(
    endpoint_id: str, msg_id: str, *, attempt: int, retry: int = 0, not_before: float = 0.0, delay: int = 0
) -> None:
    """Queue one delivery attempt: ``attempt`` numbers it in the log, ``retry`` is how many
    scheduled retries this run already used, ``not_before`` (epoch seconds) when it may be sent."""
    body = {
        "endpoint_id": endpoint_id,
        "msg_id": msg_id,
        "attempt": attempt,
        "retry": retry,
        "not_before": not_before,
    }
    client("sqs").send_message(
        QueueUrl=queue_url("webhooks"), MessageBody=json.dumps(body), DelaySeconds=max(0, min(delay, 900))
    )


def deliveries(endpoint_id: str, limit: int = 100) -> dict[str, Any]:
    """The endpoint's delivery log, newest first: its messages (status, attempts) and each attempt
    (time, response code, latency, error)."""
    get_endpoint(endpoint_id)
    key = endpoint_key(endpoint_id)
    messages = WebhookMessage.query(
        key, WebhookMessage.sk.startswith("message#"), scan_index_forward=False, limit=limit
    )
    attempts = Attempt.query(
        key, Attempt.sk.startswith("attempt#"), scan_index_forward=False, limit=limit * 8
    )
    by_msg: dict[str, list[dict[str, Any]]] = {}
    for a in attempts:
        by_msg.setdefault(a.msg_id, []).append(
            {
                "attempt": int(a.attempt),
                "at": a.at,
                "ok": a.ok,
                "response_code": int(a.response_code) if a.response_code is not None else None,
                "latency_ms": int(a.latency_ms),
                "error": a.error,
            }
        )
    return {
        "endpoint_id": endpoint_id,
        "messages": [
            {
                "msg_id": m.msg_id,
                "event_type": m.event_type,
                "status": m.status,
                "attempts": sorted(by_msg.get(m.msg_id, []), key=lambda x: x["attempt"]),
                "created_at": m.created_at,
            }
            for m in messages
        ],
    }


def replay(endpoint_id: str, msg_id: str | None = None) -> dict[str, Any]:
    """Queue one failed message again, or every failed one of the endpoint (fresh retry schedule)."""
    endpoint = get_endpoint(endpoint_id)
    key = endpoint_key(endpoint_id)
    if msg_id:
        try:
            found = [WebhookMessage.get(key, f"message#{msg_id}")]
        except WebhookMessage.DoesNotExist as exc:
            raise NotFound(f"webhook message {msg_id}") from exc
    else:  # an admin action, not a hot path: the endpoint's partition, failed ones only
        found = list(
            WebhookMessage.query(
                key,
                WebhookMessage.sk.startswith("message#"),
                filter_condition=WebhookMessage.status == "failed",
            )
        )
    queued = []
    for message in found:
        if message.status != "failed":
            continue
        message.update(
            actions=[WebhookMessage.status.set("pending"), WebhookMessage.updated_at.set(iso(utcnow()))]
        )
        enqueue(endpoint_id, message.msg_id, attempt=int(message.attempts) + 1)
        queued.append(message.msg_id)
    if queued and not endpoint.enabled:
        endpoint.update(
            actions=[
                Endpoint.enabled.set(True),
                Endpoint.disabled_reason.remove(),
                Endpoint.failing_since.remove(),
            ]
        )
    logger.info("webhook replay", extra={"endpoint_id": endpoint_id, "queued": len(queued)})
    return {"endpoint_id": endpoint_id, "queued": queued}
