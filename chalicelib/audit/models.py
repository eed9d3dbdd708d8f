"""Audit records: one item per action, keyed by subject (e.g. ``customer#cus_…``)."""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, UnicodeAttribute

from chalicelib.db import Model, meta


class AuditRecord(Model):
    Meta = meta("audit")

    subject = UnicodeAttribute(hash_key=True)
    at = UnicodeAttribute(range_key=True)  # ISO time + "#" + random suffix: unique and ordered
    actor = UnicodeAttribute()
    action = UnicodeAttribute()
    details = JSONAttribute(null=True)
