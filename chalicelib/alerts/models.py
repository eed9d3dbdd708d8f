"""The ``alerts`` table: ``rule`` / ``<rule id>`` holds a rule and its state (ok | firing);
``history`` / ``<time>#<rule id>`` one firing or resolution (kept 180 days), so the history is one
Query, newest first."""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute

from chalicelib.db import Model, meta


class AlertRule(Model):
    Meta = meta("alerts")

    pk = UnicodeAttribute(hash_key=True, default="rule")
    sk = UnicodeAttribute(range_key=True)  # the rule id
    name = UnicodeAttribute()
    metric = UnicodeAttribute()  # one of chalicelib.analytics.reports.METRICS
    op = UnicodeAttribute()  # > >= < <=
    threshold = NumberAttribute()
    clear = NumberAttribute()  # the value back across which a firing alert resolves (hysteresis)
    window_minutes = NumberAttribute()
    group = UnicodeAttribute(null=True)
    agent = UnicodeAttribute(null=True)
    channel = UnicodeAttribute(null=True)
    enabled = BooleanAttribute(default=True)
    state = UnicodeAttribute(default="ok")  # ok | firing
    value = NumberAttribute(null=True)  # the last evaluated value
    changed_at = UnicodeAttribute(null=True)
    created_by = UnicodeAttribute()
    created_at = UnicodeAttribute()


class AlertEvent(Model):
    Meta = meta("alerts")

    pk = UnicodeAttribute(hash_key=True, default="history")
    sk = UnicodeAttribute(range_key=True)  # <ISO time>#<rule id>
    rule_id = UnicodeAttribute()
    name = UnicodeAttribute()
    kind = UnicodeAttribute()  # fired | resolved
    metric = UnicodeAttribute()
    value = NumberAttribute(null=True)
    threshold = NumberAttribute()
    at = UnicodeAttribute()
    expires_at = NumberAttribute()
