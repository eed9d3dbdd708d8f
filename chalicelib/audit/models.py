"""Audit records: one item per action, keyed by subject (e.g. ``customer#cus_…``). Append-only:
the code has no update path, and only erasure (``chalicelib.privacy``) deletes a subject's change
records. Views (``action = "view"``) carry ids only, never the customer's data. Each record expires
``RETENTION_DAYS`` after it was written (DynamoDB TTL on ``expires_at``)."""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib.db import Model, meta

RETENTION_DAYS = 3 * 365


class ByActor(GlobalSecondaryIndex["AuditRecord"]):
    """A supervisor's search by agent (or API client): one Query per page, newest first."""

    class Meta:
        index_name = "by_actor"
        projection = AllProjection()

    actor = UnicodeAttribute(hash_key=True)
    at = UnicodeAttribute(range_key=True)


class AuditRecord(Model):
    Meta = meta("audit")

    subject = UnicodeAttribute(hash_key=True)
    at = UnicodeAttribute(range_key=True)  # ISO time + "#" + random suffix: unique and ordered
    actor = UnicodeAttribute()  # an agent id, or "client#<id>" for an API client
    action = UnicodeAttribute()
    details = JSONAttribute(null=True)
    source_ip = UnicodeAttribute(null=True)  # where the request came from (API Gateway's sourceIp)
    user_agent = UnicodeAttribute(null=True)
    expires_at = NumberAttribute(null=True)  # epoch seconds: the retention TTL
    by_actor = ByActor()
