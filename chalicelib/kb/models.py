"""The knowledge base's tables (infra/data.yaml).

- ``kb-articles``: one item per article (GetItem by ``article_id``), its current head version and,
  once published, the published snapshot with its unit vectors (float16) for the search index.
  ``by_index`` (partition ``index_part = "kb"``, sort ``index_seq``) lists every article that is or
  was published in the order the index changed: a searcher catches up with one Query from the
  sequence number it has (an archived article stays there, so its removal is seen too).
  ``by_status`` lists the articles of one status, most recently changed first (the editors' list).
- ``kb-versions``: every save of an article (``article_id``, ``version``): the whole content, who,
  when, what changed — diff and roll back read two of these.
- ``kb-stats``: usage counters, pre-aggregated by atomic ADD: partition ``period`` (``total`` or a
  day, ``2026-12-07``), sort ``article_id``; and the questions the KB had no answer for, partition
  ``miss#<day>``, sort ``<time>#<id>`` (expire after 90 days).
- ``config`` (shared): ``kb-index/default`` holds the index sequence (ADD 1 per change) and the
  synonyms' version; ``kb-synonyms/default`` the admins' synonym groups (versioned).
"""

from __future__ import annotations

from pynamodb.attributes import (
    BinaryAttribute,
    JSONAttribute,
    ListAttribute,
    NumberAttribute,
    UnicodeAttribute,
    VersionAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex, KeysOnlyProjection
from pynamodb.models import Model

from chalicelib.db import meta

INDEX_PART = "kb"
POINTER_KIND, POINTER_NAME = "kb-index", "default"
SYNONYMS_KIND, SYNONYMS_NAME = "kb-synonyms", "default"


class _ByIndex(GlobalSecondaryIndex["Article"]):
    class Meta:
        index_name = "by_index"
        projection = AllProjection()

    index_part = UnicodeAttribute(hash_key=True)
    index_seq = NumberAttribute(range_key=True)


class _ByStatus(GlobalSecondaryIndex["Article"]):
    class Meta:
        index_name = "by_status"
        projection = KeysOnlyProjection()

    status = UnicodeAttribute(hash_key=True)
    updated_at = UnicodeAttribute(range_key=True)


class Article(Model):
    Meta = meta("kb-articles")

    article_id = UnicodeAttribute(hash_key=True)
    title = UnicodeAttribute()
    body = UnicodeAttribute()  # Markdown
    language = UnicodeAttribute()  # zh-CN | zh-TW | en
    questions = ListAttribute(of=UnicodeAttribute, default=list)
    tags = ListAttribute(of=UnicodeAttribute, default=list)
    skill_groups = ListAttribute(of=UnicodeAttribute, default=list)
    channels = ListAttribute(of=UnicodeAttribute, default=list)  # empty: every channel
    status = UnicodeAttribute()  # draft | published | archived
    version = NumberAttribute()  # the head version; every save is conditional on it
    published_version = NumberAttribute(null=True)
    created_at = UnicodeAttribute()
    created_by = UnicodeAttribute()
    updated_at = UnicodeAttribute()
    updated_by = UnicodeAttribute()
    # the search index's view (set on publish, archive): what searchers load
    index_part = UnicodeAttribute(null=True)
    index_seq = NumberAttribute(null=True)
    published = JSONAttribute(null=True)  # {title, body, language, questions, channels, version}
    vectors = BinaryAttribute(null=True, legacy_encoding=False)  # float16 units x 512, row-major
    vectors_model = UnicodeAttribute(null=True)

    by_index = _ByIndex()
    by_status = _ByStatus()


class ArticleVersion(Model):
    Meta = meta("kb-versions")

    article_id = UnicodeAttribute(hash_key=True)
    version = NumberAttribute(range_key=True)
    content = JSONAttribute()  # title, body, language, questions, tags, skill_groups, channels, status
    action = UnicodeAttribute()  # create | update | publish | archive | rollback
    changes = ListAttribute(of=UnicodeAttribute, default=list)  # the fields that changed
    saved_at = UnicodeAttribute()
    saved_by = UnicodeAttribute()
    rolled_back_to = NumberAttribute(null=True)


class IndexPointer(Model):
    Meta = meta("config")

    kind = UnicodeAttribute(hash_key=True, default=POINTER_KIND)
    name = UnicodeAttribute(range_key=True, default=POINTER_NAME)
    seq = NumberAttribute(default=0)  # only ever changed by ADD
    synonyms_version = NumberAttribute(default=0)


class SynonymSet(Model):
    Meta = meta("config")

    kind = UnicodeAttribute(hash_key=True, default=SYNONYMS_KIND)
    name = UnicodeAttribute(range_key=True, default=SYNONYMS_NAME)
    groups = JSONAttribute()  # [[word, word, ...], ...]
    version = VersionAttribute()
    updated_at = UnicodeAttribute()
    updated_by = UnicodeAttribute()


class Stat(Model):
    Meta = meta("kb-stats")

    period = UnicodeAttribute(hash_key=True)  # "total" | "YYYY-MM-DD" | "miss#YYYY-MM-DD"
    key = UnicodeAttribute(range_key=True)  # article_id | "<time>#<id>" for a miss
    views = NumberAttribute(null=True)
    shown = NumberAttribute(null=True)  # listed in search results
    bot_answers = NumberAttribute(null=True)
    helpful = NumberAttribute(null=True)
    not_helpful = NumberAttribute(null=True)
    handoffs = NumberAttribute(null=True)
    # a miss
    question = UnicodeAttribute(null=True)
    language = UnicodeAttribute(null=True)
    channel = UnicodeAttribute(null=True)
    top_score = NumberAttribute(null=True)
    expires_at = NumberAttribute(null=True)


def stored_synonym_groups() -> tuple[int, list[list[str]]]:
    """The admins' synonym groups and their version (0, [] when none were saved): what a searcher
    builds its index with (here, below both, so the searcher need not import the service)."""
    from pynamodb.exceptions import DoesNotExist

    try:
        item = SynonymSet.get(SYNONYMS_KIND, SYNONYMS_NAME)
    except DoesNotExist:
        return 0, []
    return int(item.version), list(item.groups or [])
