"""The routing rule set in the ``config`` table: one item (kind ``routing-rules``, name
``default``) holding the whole ordered list, so the router reads it with one GetItem."""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, UnicodeAttribute, VersionAttribute

from chalicelib.db import Model, meta

RULES_KIND, RULES_NAME = "routing-rules", "default"


class RuleSetItem(Model):
    Meta = meta("config")

    kind = UnicodeAttribute(hash_key=True, default=RULES_KIND)
    name = UnicodeAttribute(range_key=True, default=RULES_NAME)
    rules = JSONAttribute()  # list of Rule as JSON, in evaluation order
    version = VersionAttribute()
    updated_at = UnicodeAttribute()
    updated_by = UnicodeAttribute()
