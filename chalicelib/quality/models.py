"""The quality rule set in the ``config`` table: one item (kind ``quality-rules``, name
``default``) holding the whole list, read with one GetItem and cached per instance."""

from __future__ import annotations

from pynamodb.attributes import JSONAttribute, UnicodeAttribute, VersionAttribute
from pynamodb.models import Model

from chalicelib.db import meta

RULES_KIND, RULES_NAME = "quality-rules", "default"


class QualityRulesItem(Model):
    Meta = meta("config")

    kind = UnicodeAttribute(hash_key=True, default=RULES_KIND)
    name = UnicodeAttribute(range_key=True, default=RULES_NAME)
    rules = JSONAttribute()  # list of quality rules as JSON
    version = VersionAttribute()
    updated_at = UnicodeAttribute()
    updated_by = UnicodeAttribute()
