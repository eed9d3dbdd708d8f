"""Quality's items: the rule set in the ``config`` table (one item, kind ``quality-rules``, name
``default``, read with one GetItem and cached per instance); score cards, per-day score counters
and the review queue in the ``quality`` table (infra/data.yaml)."""

from __future__ import annotations

from pynamodb.attributes import (
    BooleanAttribute,
    JSONAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex
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


class _ByReview(GlobalSecondaryIndex["ScoreCard"]):
    class Meta:
        index_name = "by_review"
        projection = AllProjection()

    review_queue = UnicodeAttribute(hash_key=True)
    review_rank = UnicodeAttribute(range_key=True)


class ScoreCard(Model):
    """A closed conversation's quality: computed once from its messages when it closes."""

    Meta = meta("quality")

    pk = UnicodeAttribute(hash_key=True)  # "card#<conversation_id>"
    sk = UnicodeAttribute(range_key=True, default="card")
    conversation_id = UnicodeAttribute()
    agent_id = UnicodeAttribute(null=True)
    group_id = UnicodeAttribute(null=True)
    closed_at = UnicodeAttribute()
    day = UnicodeAttribute()  # the UTC day its scores count for
    score = NumberAttribute()  # 0..100
    replies = NumberAttribute(default=0)
    warnings = NumberAttribute(default=0)
    penalties = JSONAttribute(null=True)  # [{rule_id, kind, count, points}]
    first_response_seconds = NumberAttribute(null=True)
    greeting = BooleanAttribute(null=True)  # the first reply had the greeting the rules require
    closing = BooleanAttribute(null=True)  # the last reply had the closing line
    complaint = BooleanAttribute(default=False)
    csat = NumberAttribute(null=True)  # 1..5 when the customer answered a survey
    reasons = UnicodeSetAttribute(
        null=True
    )  # why it is up for review: low_score, complaint, negative_csat, sample
    review_queue = UnicodeAttribute(null=True)  # sparse: "pending" | "appealed"
    review_rank = UnicodeAttribute(null=True)  # "<score:03d>#<closed_at>": lowest first
    review = JSONAttribute(null=True)  # {by, at, scores, total, comment}
    appeal = JSONAttribute(null=True)  # {by, at, reason, decision?, decided_by?, decided_at?, comment?}
    appeal_state = UnicodeAttribute(null=True)  # pending | decided: one appeal per review

    by_review = _ByReview()


class AgentReview(Model):
    """A pointer to a reviewed card, under its agent (pk "reviews#<agent_id>", sk
    "<reviewed_at>#<conversation_id>"): the agent's own reviews, newest first, by one Query."""

    Meta = meta("quality")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    conversation_id = UnicodeAttribute()


class ScoreTotal(Model):
    """Counters of one agent or skill group for one UTC day, moved only by atomic ADD. pk "agent" /
    "group" with sk "<day>#<id>" (a period's report: one Query), and pk "agent#<id>" with sk
    "<day>" (one agent's own page: one Query)."""

    Meta = meta("quality")

    pk = UnicodeAttribute(hash_key=True)
    sk = UnicodeAttribute(range_key=True)
    conversations = NumberAttribute(default=0)
    score_sum = NumberAttribute(default=0)
    replies = NumberAttribute(default=0)
    warnings = NumberAttribute(default=0)
    first_response_sum = NumberAttribute(default=0)
    first_response_count = NumberAttribute(default=0)
    csat_sum = NumberAttribute(default=0)
    csat_count = NumberAttribute(default=0)
    reviewed = NumberAttribute(default=0)
    review_sum = NumberAttribute(default=0)
