"""The ``webhooks`` table, one partition per endpoint plus one per event type:

- ``endpoint#<id>`` / ``endpoint``: the endpoint (url, event types, secrets, state);
- ``subscriptions`` / ``<type>#<endpoint id>``: a subscription (one Query of a small partition
  lists them all; the service caches it for a minute per instance);
- ``endpoint#<id>`` / ``message#<msg id>``: one event for that endpoint (payload, status, attempts);
- ``endpoint#<id>`` / ``attempt#<msg id>#<nn>``: one delivery attempt (the delivery log).

Message ids start with the time, so an endpoint's messages and attempts list in time order.
"""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    ListAttribute,
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)

from chalicelib.db import Model, meta


class Secret(MapAttribute):
    value = UnicodeAttribute()  # "whsec_" + base64 key
    expires_at = UnicodeAttribute(null=True)  # ISO time; None: current


class Endpoint(Model):
    Meta = meta("webhooks")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True, default="endpoint")
    endpoint_id = UnicodeAttribute()
    url = UnicodeAttribute()
    event_types = UnicodeSetAttribute()
    secrets = ListAttribute(of=Secret)
    enabled = BooleanAttribute(default=True)
    disabled_reason = UnicodeAttribute(null=True)
    failing_since = UnicodeAttribute(null=True)  # first failed message since the last success
    created_at = UnicodeAttribute()
    created_by = UnicodeAttribute()


class Subscription(Model):
    Meta = meta("webhooks")

    pk = UnicodeAttribute(hash_key=True)  # "subscriptions"
    sk = UnicodeAttribute(range_key=True)  # <event type>#<endpoint id>


class WebhookMessage(Model):
    Meta = meta("webhooks")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)  # message#<msg id>
    msg_id = UnicodeAttribute()
    event_type = UnicodeAttribute()
    payload = JSONAttribute()
    status = UnicodeAttribute(default="pending")  # pending | delivered | failed
    attempts = NumberAttribute(default=0)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()


class Attempt(Model):
    Meta = meta("webhooks")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)  # attempt#<msg id>#<nn>
    msg_id = UnicodeAttribute()
    attempt = NumberAttribute()
    at = UnicodeAttribute()
    ok = BooleanAttribute()
    response_code = NumberAttribute(null=True)
    latency_ms = NumberAttribute()
    error = UnicodeAttribute(null=True)
