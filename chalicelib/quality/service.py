"""Stored quality rules and the checks that read them.

Replies are checked against the saved set through a per-instance cache (one GetItem every
``CACHE_SECONDS`` at most); the phrase automaton is built once per version and kept while the
version does not move. Admins replace the whole set with optimistic concurrency; every change is
audited (subject ``quality-rules``). The decisions themselves are pure: ``chalicelib.quality.rules``.
"""

from __future__ import annotations

import json
import threading
import time
from datetime import datetime
from typing import Any

from cachetools import TTLCache, cached

from chalicelib.audit import service as audit
from chalicelib.conversations.models import Conversation
from chalicelib.errors import DomainError
from chalicelib.messages import iso, utcnow
from chalicelib.quality import scorecards
from chalicelib.quality.models import RULES_KIND, RULES_NAME, QualityRulesItem, ScoreCard
from chalicelib.quality.rules import (
    InvalidQualityRules,
    QualityRuleSet,
    QualityRulesUpdate,
    ReplyContext,
    Violation,
    check,
    dump,
)
from chalicelib.versions import VersionConflict, read_list_item, save_versioned

CACHE_SECONDS = 30
MAX_STORED_BYTES = 350_000  # DynamoDB items stop at 400 KB
AUDIT_SUBJECT = "quality-rules"


class QualityBlocked(DomainError):
    """The reply says something a ``block`` rule forbids: refused, nothing sent (422)."""

    status = 422
    code = "quality_blocked"


def _clock() -> float:
    return time.monotonic()


_CACHE: TTLCache[str, QualityRuleSet] = TTLCache(maxsize=1, ttl=CACHE_SECONDS, timer=lambda: _clock())
_LOCK = threading.Lock()
_LAST: dict[str, QualityRuleSet] = {}  # the last set read: its automaton survives a re-read of one version


def _read(consistent: bool) -> QualityRuleSet:
    return read_list_item(
        QualityRulesItem,
        (RULES_KIND, RULES_NAME),
        "rules",
        QualityRuleSet,
        consistent=consistent,
        invalid="stored quality rules are invalid; checking without rules",
    )


@cached(cache=_CACHE, lock=_LOCK, key=lambda: "rules")
def ruleset() -> QualityRuleSet:
    """The saved rule set as replies are checked against it (cached per instance)."""
    fresh = _read(consistent=False)
    last = _LAST.get("rules")
    if last is not None and last.version == fresh.version:
        return last
    _LAST["rules"] = fresh
    return fresh


def current() -> QualityRuleSet:
    """The saved rule set, read now (the admin's view)."""
    return _read(consistent=True)


def view(rule_set: QualityRuleSet) -> dict[str, Any]:
    return {
        "version": rule_set.version,
        "rules": dump(rule_set.rules),
        "updated_at": rule_set.updated_at,
        "updated_by": rule_set.updated_by,
    }


def save(update: QualityRulesUpdate, actor: str) -> QualityRuleSet:
    """Replace the whole rule set if ``update.version`` is still the saved one (else a 409)."""
    size = len(json.dumps(dump(update.rules), ensure_ascii=False).encode())
    if size > MAX_STORED_BYTES:
        raise InvalidQualityRules(f"rules take {size} bytes; at most {MAX_STORED_BYTES}")
    before = current()
    if before.version != update.version:
        raise VersionConflict(f"quality rules changed since version {update.version}: reload and retry")
    item = QualityRulesItem(
        RULES_KIND, RULES_NAME, rules=dump(update.rules), updated_at=iso(utcnow()), updated_by=actor
    )
    version = save_versioned(item, update.version, "quality rules")
    old = {r.rule_id: r for r in before.rules}
    new = {r.rule_id: r for r in update.rules}
    audit.record(
        AUDIT_SUBJECT,
        actor,
        "quality_rules.replace",
        {
            "version": version,
            "previous_version": update.version,
            "added": [i for i in new if i not in old],
            "removed": [i for i in old if i not in new],
            "changed": [i for i in new if i in old and new[i] != old[i]],
        },
    )
    reset()
    return QualityRuleSet(version=version, rules=update.rules, updated_at=item.updated_at, updated_by=actor)


def context_for(
    conversation: Conversation | None, *, closing: bool = False, at: datetime | None = None
) -> ReplyContext:
    """Where a reply stands in its conversation: first reply? how long the customer has waited?"""
    if conversation is None:
        return ReplyContext(closing=closing)
    first = conversation.first_responded_at is None
    waited = None
    if first and conversation.created_at:
        waited = ((at or utcnow()) - datetime.fromisoformat(conversation.created_at)).total_seconds()
    return ReplyContext(first_reply=first, closing=closing, waited_seconds=waited)


def check_text(text: str, context: ReplyContext | None = None) -> list[Violation]:
    """Violations of the saved rules in a draft reply."""
    return check(ruleset(), text, context)


def check_draft(text: str, conversation: Conversation | None, *, closing: bool = False) -> dict[str, Any]:
    """POST /quality/check: ``{violations: [{rule_id, severity, kind, start, end}]}``."""
    violations = check_text(text, context_for(conversation, closing=closing))
    return {"violations": [v.to_json() for v in violations]}


def screen_reply(conversation: Conversation, text: str, *, closing: bool = False) -> list[dict[str, Any]]:
    """The server-side guard before a reply is stored: a ``block`` violation raises
    ``QualityBlocked`` (nothing is sent); otherwise the ``warn`` violations, to record on the
    message."""
    violations = check_text(text, context_for(conversation, closing=closing))
    blocked = [v.to_json() for v in violations if v.severity == "block"]
    if blocked:
        raise QualityBlocked(
            f"the reply breaks quality rule {blocked[0]['rule_id']!r}",
            details={"violations": [v.to_json() for v in violations]},
        )
    return [v.to_json() for v in violations]


def reply_card(conversation: Conversation, violations: list[dict[str, Any]]) -> dict[str, Any]:
    """A reply's score card, stored with its message: the warnings it goes out with and how long
    the customer had waited (``conversation`` as it is before the reply)."""
    return scorecards.reply_card(conversation, violations, utcnow())


def on_conversation_closed(conversation: Conversation) -> ScoreCard:
    """Score a conversation that just closed (subscriber of the close)."""
    return scorecards.on_conversation_closed(conversation, ruleset())


def reset() -> None:
    """Forget the cached rule set (after a save here; tests)."""
    with _LOCK:
        _CACHE.clear()
        _LAST.clear()
