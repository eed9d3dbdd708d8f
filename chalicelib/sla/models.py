"""SLA storage: the policy set in the ``config`` table (one item, kind ``sla-policies``, read with
one GetItem) and the pre-aggregated report counters in the ``sla-stats`` table.

A counter item is keyed ``period`` = ``"<by>#<UTC day>"`` (by: policy | group | agent) and ``key`` =
the policy, group or agent id, so a report for a day range is one Query per day and dimension.
Counters only ever move by atomic ADD."""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, NumberAttribute, UnicodeAttribute, VersionAttribute

from chalicelib.db import Model, meta

POLICIES_KIND, POLICIES_NAME = "sla-policies", "default"


class PolicySetItem(Model):
    Meta = meta("config")

    kind = UnicodeAttribute(hash_key=True, default=POLICIES_KIND)
    name = UnicodeAttribute(range_key=True, default=POLICIES_NAME)
    policies = JSONAttribute()  # list of SlaPolicy as JSON, in evaluation order
    version = VersionAttribute()
    updated_at = UnicodeAttribute()
    updated_by = UnicodeAttribute()


class SlaStat(Model):
    Meta = meta("sla-stats")

    period = UnicodeAttribute(hash_key=True)  # "<by>#<YYYY-MM-DD>"
    key = UnicodeAttribute(range_key=True)  # policy id, group id or agent id ("-" for none)
    met = NumberAttribute(null=True)
    breached = NumberAttribute(null=True)
    first_response_met = NumberAttribute(null=True)
    first_response_breached = NumberAttribute(null=True)
    next_response_met = NumberAttribute(null=True)
    next_response_breached = NumberAttribute(null=True)
    resolution_met = NumberAttribute(null=True)
    resolution_breached = NumberAttribute(null=True)
