"""Stored routing rules: the router reads them through a per-instance cache (one GetItem every
``CACHE_SECONDS`` at most), admins replace the whole ordered list with optimistic concurrency, and
a dry run shows what a message would get. Every change is audited (subject ``routing-rules``).
The decisions themselves are pure: ``chalicelib.routing.rules``."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping
from typing import Any

from cachetools import TTLCache, cached

from chalicelib import channels
from chalicelib.agents import service as agents
from chalicelib.audit import service as audit
from chalicelib.calendars import service as calendar_store
from chalicelib.calendars.hours import BusinessHours
from chalicelib.messages import iso, utcnow
from chalicelib.routing.models import RULES_KIND, RULES_NAME, RuleSetItem
from chalicelib.routing.rules import (
    Decision,
    DryRun,
    InvalidRules,
    RoutingContext,
    Rule,
    RuleSet,
    RuleSetUpdate,
    check_references,
    decide,
    dump,
    referenced,
    wants_sentiment,
)
from chalicelib.versions import VersionConflict, read_list_item, save_versioned

CACHE_SECONDS = 30
MAX_STORED_BYTES = 300_000  # DynamoDB items stop at 400 KB
AUDIT_SUBJECT = "routing-rules"


def _clock() -> float:
    return time.monotonic()


_CACHE: TTLCache[str, RuleSet] = TTLCache(maxsize=1, ttl=CACHE_SECONDS, timer=lambda: _clock())
_LOCK = threading.Lock()


def _read(consistent: bool) -> RuleSet:
    # A hand-edited set that no longer validates: routing carries on without rules (intent
    # detection places every conversation) rather than failing messages.
    return read_list_item(
        RuleSetItem,
        (RULES_KIND, RULES_NAME),
        "rules",
        RuleSet,
        consistent=consistent,
        invalid="stored routing rules are invalid; routing without rules",
    )


@cached(cache=_CACHE, lock=_LOCK, key=lambda: "rules")
def ruleset() -> RuleSet:
    """The saved rule set, cached per Lambda instance for ``CACHE_SECONDS`` (the router's read)."""
    return _read(consistent=False)


def calendars() -> Mapping[str, BusinessHours]:
    """Every calendar by name, cached per instance: what business-hours conditions evaluate."""
    return calendar_store.all_calendars()


def current() -> RuleSet:
    """The saved rule set, read now (the admin's view)."""
    return _read(consistent=True)


def view(rule_set: RuleSet) -> dict[str, Any]:
    return {
        "version": rule_set.version,
        "rules": dump(rule_set.rules),
        "updated_at": rule_set.updated_at,
        "updated_by": rule_set.updated_by,
    }


def validate(rules: list[Rule]) -> None:
    """What a save checks beyond the models: known channels, skill groups and calendars (one
    BatchGetItem each), and a size that fits one item. Raises ``InvalidRules``."""
    groups, calendar_names = referenced(rules)
    check_references(
        rules,
        channels=set(channels.CHANNELS),
        groups={g.group_id for g in agents.get_groups(sorted(groups))},
        calendars=set(calendar_store.fetch(calendar_names)),
    )
    size = len(json.dumps(dump(rules), ensure_ascii=False).encode())
    if size > MAX_STORED_BYTES:
        raise InvalidRules(f"rules take {size} bytes; at most {MAX_STORED_BYTES}")


def _changes(before: list[Rule], after: list[Rule]) -> dict[str, Any]:
    old = {r.rule_id: r for r in before}
    new = {r.rule_id: r for r in after}
    kept_old = [i for i in old if i in new]
    kept_new = [i for i in new if i in old]
    return {
        "added": [i for i in new if i not in old],
        "removed": [i for i in old if i not in new],
        "changed": [i for i in kept_new if new[i] != old[i]],
        "reordered": kept_old != kept_new,
    }


def save(update: RuleSetUpdate, actor: str) -> RuleSet:
    """Replace the whole rule set if ``update.version`` is still the saved one (else
    ``VersionConflict``, a 409). Validated, audited, and seen at once by this instance."""
    validate(update.rules)
    before = current()
    if before.version != update.version:
        # Fail before writing; the write's own condition still guards a change in between.
        raise VersionConflict(f"routing rules changed since version {update.version}: reload and retry")
    item = RuleSetItem(
        RULES_KIND, RULES_NAME, rules=dump(update.rules), updated_at=iso(utcnow()), updated_by=actor
    )
    version = save_versioned(item, update.version, "routing rules")
    audit.record(
        AUDIT_SUBJECT,
        actor,
        "routing_rules.replace",
        {"version": version, "previous_version": update.version, **_changes(before.rules, update.rules)},
    )
    reset()
    return RuleSet(version=version, rules=update.rules, updated_at=item.updated_at, updated_by=actor)


def dry_run(request: DryRun) -> dict[str, Any]:
    """What a message would get: the saved rules (read now) or a draft, and the stored calendars."""
    rules = request.rules if request.rules is not None else current().rules
    if request.rules is not None:
        validate(request.rules)
    at = request.at or utcnow()
    mood = None
    if request.text and wants_sentiment(rules):
        from chalicelib.assist import sentiment

        mood = sentiment.analyse(request.text)
    context = RoutingContext(
        text=request.text,
        channel=request.channel,
        account=request.account,
        tier=request.tier,
        tags=request.tags,
        at=at,
        sentiment=mood.label if mood else None,
        risk=mood.risk if mood else None,
    )
    _, names = referenced(rules)
    decision: Decision = decide(rules, context, calendar_store.fetch(names))
    return {"decision": decision.model_dump(mode="json"), "at": iso(at)}


def reset() -> None:
    """Forget the cached rule set (after a save here; tests)."""
    with _LOCK:
        _CACHE.clear()
