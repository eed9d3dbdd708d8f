"""Assist's counters in the ``assist`` table (infra/data.yaml)."""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute
from pynamodb.models import Model

from chalicelib.db import meta


class SuggestionCount(Model):
    """How often suggestions were shown to agents and used by them, moved only by atomic ADD.
    pk "suggestions" with sk "<day>#<kind>" (the period's totals: one Query); pk "<kind>#<id>"
    with sk "<day>" (one article's or canned reply's own figures)."""

    Meta = meta("assist")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    shown = NumberAttribute(default=0)
    used = NumberAttribute(default=0)
