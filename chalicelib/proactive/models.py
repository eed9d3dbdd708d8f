"""The ``proactive`` table, one item per fact:

- ``event#<event_id>`` / ``event``: a business event and what became of it (``status``: sent, held,
  suppressed; the channel, the conversation and message it went out as, or the reason). The
  conditional put of this item is what makes a resent event send nothing twice. Held notices carry
  ``held_key = "held"`` and ``due_at``: the sparse ``by_due`` index lists the ones due, so the
  minute schedule reads only what it releases.
- ``optout#<customer_id>`` / ``<channel>``: the customer texted STOP / 退订 / TD on that channel.
- ``cap#<customer_id>`` / ``<yyyy-mm-dd>``: notices sent that day (atomic ADD, TTL 2 days).
- ``rules`` / ``current``: the admins' versioned rule set.
"""

from __future__ import annotations

from pynamodb.attributes import (
    JSONAttribute,
    NumberAttribute,
    UnicodeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection

from chalicelib.db import Model, meta


class ByDue(GlobalSecondaryIndex["BusinessEvent"]):
    class Meta:
        index_name = "by_due"
        projection = AllProjection()

    held_key = UnicodeAttribute(hash_key=True)
    due_at = UnicodeAttribute(range_key=True)


class ByCustomer(GlobalSecondaryIndex["BusinessEvent"]):
    """Sparse: events about a known customer (erasure finds them without a Scan)."""

    class Meta:
        index_name = "by_customer"
        projection = KeysOnlyProjection()

    customer_id = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class BusinessEvent(Model):
    Meta = meta("proactive")

    pk = UnicodeAttribute(hash_key=True)  # event#<event_id>
    sk = UnicodeAttribute(range_key=True, default="event")
    event_id = UnicodeAttribute()
    type = UnicodeAttribute()
    customer_id = UnicodeAttribute(null=True)
    data = JSONAttribute(null=True)  # the event's data (placeholders of the template)
    status = UnicodeAttribute()  # sent | held | suppressed
    reason = UnicodeAttribute(null=True)  # why it is held or suppressed
    rule_id = UnicodeAttribute(null=True)
    channel = UnicodeAttribute(null=True)
    conversation_id = UnicodeAttribute(null=True)
    seq = NumberAttribute(null=True)
    template = UnicodeAttribute(null=True)  # sent as this approved template (outside a window)
    held_key = UnicodeAttribute(null=True)  # "held" while waiting for the end of quiet hours
    due_at = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    created_by = UnicodeAttribute(null=True)

    by_due = ByDue()
    by_customer = ByCustomer()


class OptOut(Model):
    Meta = meta("proactive")

    pk = UnicodeAttribute(hash_key=True)  # optout#<customer_id>
    sk = UnicodeAttribute(range_key=True)  # <channel>
    keyword = UnicodeAttribute()
    at = UnicodeAttribute()


class DailyCount(Model):
    Meta = meta("proactive")

    pk = UnicodeAttribute(hash_key=True)  # cap#<customer_id>
    sk = UnicodeAttribute(range_key=True)  # yyyy-mm-dd (the customer's local day)
    sent = NumberAttribute(default=0)
    expires_at = NumberAttribute(null=True)  # TTL


class RuleSetItem(Model):
    Meta = meta("proactive")

    pk = UnicodeAttribute(hash_key=True, default="rules")
    sk = UnicodeAttribute(range_key=True, default="current")
    rules = JSONAttribute()
    settings = JSONAttribute(null=True)
    updated_at = UnicodeAttribute(null=True)
    updated_by = UnicodeAttribute(null=True)
    version = VersionAttribute()
