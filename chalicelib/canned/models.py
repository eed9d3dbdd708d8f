"""The canned-replies table.

Keyed by ``reply_id`` (GetItem for edit, delete and render); the ``by_scope`` index answers "my
personal ones", "one group's team ones" and "everyone's" with one Query each. ``scope_key`` is
``agent#<agent id>``, ``group#<group id>`` or ``all``. A reply may change scope (a personal reply
promoted to a team one) with a single conditional update, which a scope-keyed table could not do.
"""

from __future__ import annotations

from pynamodb.attributes import NumberAttribute, UnicodeAttribute, UnicodeSetAttribute
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib.db import Model, meta

PERSONAL, TEAM = "personal", "team"
ALL_GROUPS = "all"  # group_id of a team reply every agent may use


def scope_key(scope: str, *, owner_id: str | None = None, group_id: str | None = None) -> str:
    """The index partition a reply lives in. Pure."""
    if scope == PERSONAL:
        if not owner_id:
            raise ValueError("a personal reply needs its owner")
        return f"agent#{owner_id}"
    if not group_id:
        raise ValueError("a team reply needs a skill group (or 'all')")
    return ALL_GROUPS if group_id == ALL_GROUPS else f"group#{group_id}"


class _ByScope(GlobalSecondaryIndex["CannedReply"]):
    class Meta:
        index_name = "by_scope"
        projection = AllProjection()

    scope_key = UnicodeAttribute(hash_key=True)
    reply_id = UnicodeAttribute(range_key=True)


class CannedReply(Model):
    Meta = meta("canned-replies")

    reply_id = UnicodeAttribute(hash_key=True)
    scope_key = UnicodeAttribute()
    scope = UnicodeAttribute()  # personal | team
    owner_id = UnicodeAttribute(null=True)  # personal replies: the agent who owns it
    group_id = UnicodeAttribute(null=True)  # team replies: a skill group id, or "all"
    title = UnicodeAttribute()
    shortcut = UnicodeAttribute(null=True)  # "/refund"
    body = UnicodeAttribute()  # text with {{customer.name}}-style variables
    language = UnicodeAttribute(null=True)  # BCP 47: "zh-CN", "en"
    tags = UnicodeSetAttribute(null=True)
    use_count = NumberAttribute(default=0)  # only ever changed by an atomic ADD
    last_used_at = UnicodeAttribute(null=True)
    version = NumberAttribute(default=0)  # every edit is conditional on the version it read
    created_by = UnicodeAttribute()
    created_at = UnicodeAttribute()
    updated_by = UnicodeAttribute()
    updated_at = UnicodeAttribute()

    by_scope = _ByScope()
