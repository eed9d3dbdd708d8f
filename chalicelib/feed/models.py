"""The ``feed`` table: one item per (audience, event).

``audience`` is ``agent#<id>``, ``group#<id>`` or ``supervisors``; ``event_id`` is the event's
time (UTC ISO-8601, milliseconds) + ``#`` + a random suffix, so a Query on one audience returns its
events in time order and two events never share a key. Items expire after a day (TTL): the feed
is a notification channel, not a history (the conversations and the audit trail are).
"""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.db import Model, meta


class FeedEvent(Model):
    Meta = meta("feed")

    audience = UnicodeAttribute(hash_key=True)
    event_id = UnicodeAttribute(range_key=True)
    kind = UnicodeAttribute()
    conversation_id = UnicodeAttribute(null=True)
    data = JSONAttribute(null=True)
    expires_at = NumberAttribute()  # TTL
