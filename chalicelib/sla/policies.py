"""SLA policies: which targets a ticket gets, chosen by conditions, and their storage.

Semantics: policies are tried in order; the first whose conditions all hold wins (lists mean "any
of"; a policy without conditions matches every ticket). The last policy of a saved set must have
no conditions: it is the default, so every ticket has a policy. With nothing saved yet,
``DEFAULT_POLICY`` applies.

Targets are minutes of the policy's calendar (business hours) or, without a calendar, of real
time (24/7). The clock pauses while the ticket is ``pending_customer`` (and ``on_hold`` when
``pause_on_hold``). A warning goes out when ``warning_percent`` of a target has elapsed; level 1
escalation at the deadline, level 2 ``escalation_minutes`` (of the same calendar) later.

Storage mirrors the routing rules: one versioned item in the ``config`` table, saved with optimistic
concurrency (``chalicelib.versions``), read through a per-instance cache of ``CACHE_SECONDS``.
``choose`` is pure."""

from __future__ import annotations

import threading
import time
from typing import Annotated, Any, Literal

from cachetools import TTLCache, cached
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from chalicelib.calendars.hours import NAME_PATTERN
from chalicelib.channels import ChannelName
from chalicelib.errors import Invalid
from chalicelib.messages import iso, utcnow
from chalicelib.sla.models import POLICIES_KIND, POLICIES_NAME, PolicySetItem

Priority = Literal["low", "normal", "high", "urgent"]
TARGETS: tuple[str, ...] = ("first_response", "next_response", "resolution")
MAX_POLICIES = 100
MAX_MINUTES = 60 * 24 * 366  # a year
POLICY_ID = r"^[a-z0-9][a-z0-9_-]{0,63}$"
CACHE_SECONDS = 30
AUDIT_SUBJECT = "sla-policies"
MINUTE = 60  # seconds in a policy minute (tests shrink it to run deadlines seconds away)


def _strip_lower(value: str) -> str:
    return value.strip().lower()


Label = Annotated[str, AfterValidator(_strip_lower), Field(min_length=1, max_length=64)]
Minutes = Annotated[int, Field(ge=1, le=MAX_MINUTES)]


class InvalidPolicies(Invalid):
    """A policy set that cannot be saved (unknown calendar or channel …): a 400."""


class PolicyMatch(BaseModel):
    """Conditions; every one present must hold. Lists mean "any of"; absent or empty = any."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    priorities: list[Priority] | None = Field(default=None, description="the ticket's priority is one of")
    tiers: list[Label] | None = Field(
        default=None, max_length=20, description="the customer's tier is one of"
    )
    channels: list[ChannelName] | None = Field(
        default=None, max_length=50, description="the ticket's channel is one of"
    )
    categories: list[Label] | None = Field(default=None, max_length=100, description="the category is one of")

    @field_validator("priorities", "tiers", "channels", "categories")
    @classmethod
    def _empty_is_absent(cls, value: list[str] | None) -> list[str] | None:
        return value or None  # [] would otherwise be a condition no ticket meets

    @property
    def unconditional(self) -> bool:
        return not (self.priorities or self.tiers or self.channels or self.categories)


class SlaTargets(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    first_response_minutes: Minutes | None = Field(default=None, description="first public reply by an agent")
    next_response_minutes: Minutes | None = Field(
        default=None, description="an agent's public reply after each customer reply"
    )
    resolution_minutes: Minutes | None = Field(default=None, description="solved")

    def seconds(self, target: str) -> int | None:
        minutes: int | None = getattr(self, f"{target}_minutes")
        return None if minutes is None else minutes * MINUTE


class SlaPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    policy_id: str = Field(pattern=POLICY_ID, description="lowercase letters, digits, - and _")
    name: str = Field(min_length=1, max_length=120)
    match: PolicyMatch = Field(default_factory=PolicyMatch)
    targets: SlaTargets
    calendar: str | None = Field(
        default=None, pattern=NAME_PATTERN, description="a business-hours calendar; none = 24/7"
    )
    warning_percent: int | None = Field(default=80, ge=1, le=99, description="warn at this much elapsed")
    pause_on_hold: bool = Field(default=False, description="on_hold pauses the clock like pending_customer")
    escalation_minutes: Minutes | None = Field(
        default=60, description="level 2 this long after a breach (calendar time); none = level 1 only"
    )

    @model_validator(mode="after")
    def _has_a_target(self) -> SlaPolicy:
        if all(self.targets.seconds(t) is None for t in TARGETS):
            raise ValueError(f"policy {self.policy_id!r} sets no target")
        return self


DEFAULT_POLICY = SlaPolicy(
    policy_id="default",
    name="Default (nothing configured)",
    targets=SlaTargets(first_response_minutes=240, next_response_minutes=480, resolution_minutes=3 * 24 * 60),
)


def _check_set(policies: list[SlaPolicy]) -> None:
    seen: set[str] = set()
    for policy in policies:
        if policy.policy_id in seen:
            raise ValueError(f"policy_id {policy.policy_id!r} appears twice")
        seen.add(policy.policy_id)
    if policies and not policies[-1].match.unconditional:
        raise ValueError("the last policy is the default: it must have no conditions")


class PolicySet(BaseModel):
    """The stored, ordered policies. ``version`` 0: nothing saved yet (``DEFAULT_POLICY`` applies)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = 0
    policies: list[SlaPolicy] = Field(default_factory=list, max_length=MAX_POLICIES)
    updated_at: str | None = None
    updated_by: str | None = None

    def get(self, policy_id: str | None) -> SlaPolicy | None:
        if policy_id == DEFAULT_POLICY.policy_id and not self.policies:
            return DEFAULT_POLICY
        return next((p for p in self.policies if p.policy_id == policy_id), None)


class PolicySetUpdate(BaseModel):
    """PUT /admin/sla-policies: the whole ordered list (the last one the unconditional default) and
    the version it replaces."""

    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=0, description="the version read (0 when none was saved yet)")
    policies: list[SlaPolicy] = Field(min_length=1, max_length=MAX_POLICIES)

    @model_validator(mode="after")
    def _valid_set(self) -> PolicySetUpdate:
        _check_set(self.policies)
        return self


class TicketFacts(BaseModel):
    """What policy conditions look at."""

    model_config = ConfigDict(frozen=True)

    priority: str = "normal"
    tier: str | None = None
    channel: str | None = None
    category: str | None = None


def matches(match: PolicyMatch, facts: TicketFacts) -> bool:
    def lower(value: str | None) -> str | None:
        return value.strip().lower() if value else None

    checks: list[tuple[list[str] | None, str | None]] = [
        (list(match.priorities) if match.priorities else None, facts.priority),
        (match.tiers, lower(facts.tier)),
        (match.channels, facts.channel),
        (match.categories, lower(facts.category)),
    ]
    return all(allowed is None or value in allowed for allowed, value in checks)


def choose(policies: list[SlaPolicy], facts: TicketFacts) -> SlaPolicy:
    """The first policy whose conditions hold; ``DEFAULT_POLICY`` when none does (only possible
    for an empty set: a saved set ends with an unconditional policy)."""
    return next((p for p in policies if matches(p.match, facts)), DEFAULT_POLICY)


def uses_tiers(policies: list[SlaPolicy]) -> bool:
    """Whether choosing needs the customer's tier (a GetItem on the customer)."""
    return any(p.match.tiers for p in policies)


# ---- storage ---------------------------------------------------------------------------------------
def _clock() -> float:
    return time.monotonic()


_CACHE: TTLCache[str, PolicySet] = TTLCache(maxsize=1, ttl=CACHE_SECONDS, timer=lambda: _clock())
_LOCK = threading.Lock()


def _read(consistent: bool) -> PolicySet:
    # A hand-edited set that no longer validates: the built-in default applies rather than
    # failing every ticket change.
    from chalicelib.versions import read_list_item

    return read_list_item(
        PolicySetItem,
        (POLICIES_KIND, POLICIES_NAME),
        "policies",
        PolicySet,
        consistent=consistent,
        invalid="stored SLA policies are invalid; using the default",
    )


@cached(cache=_CACHE, lock=_LOCK, key=lambda: "policies")
def policy_set() -> PolicySet:
    """The saved policies, cached per Lambda instance for ``CACHE_SECONDS``."""
    return _read(consistent=False)


def current() -> PolicySet:
    """The saved policies, read now (the admin's view)."""
    return _read(consistent=True)


def view(policies: PolicySet) -> dict[str, Any]:
    return {
        "version": policies.version,
        "policies": [p.model_dump(mode="json") for p in policies.policies],
        "default": DEFAULT_POLICY.model_dump(mode="json") if not policies.policies else None,
        "updated_at": policies.updated_at,
        "updated_by": policies.updated_by,
    }


def validate(policies: list[SlaPolicy]) -> None:
    """What a save checks beyond the models: known channels and calendars. Raises InvalidPolicies."""
    from chalicelib import channels
    from chalicelib.calendars import service as calendar_store

    known_channels = set(channels.CHANNELS)
    for policy in policies:
        for channel in policy.match.channels or ():
            if channel not in known_channels:
                raise InvalidPolicies(f"policy {policy.policy_id!r}: unknown channel {channel!r}")
    names = {p.calendar for p in policies if p.calendar}
    missing = sorted(names - set(calendar_store.fetch(names)))
    if missing:
        raise InvalidPolicies(
            f"unknown calendar(s): {', '.join(missing)} (create them under /admin/calendars)"
        )


def save(update: PolicySetUpdate, actor: str) -> PolicySet:
    """Replace the whole policy set if ``update.version`` is still the saved one (else
    ``VersionConflict``, a 409). Validated, audited, seen at once by this instance (others within
    ``CACHE_SECONDS``). Tickets pick up new policies at their next change."""
    from chalicelib.audit import service as audit
    from chalicelib.versions import VersionConflict, save_versioned

    validate(update.policies)
    before = current()
    if before.version != update.version:
        raise VersionConflict(f"SLA policies changed since version {update.version}: reload and retry")
    item = PolicySetItem(
        POLICIES_KIND,
        POLICIES_NAME,
        policies=[p.model_dump(mode="json") for p in update.policies],
        updated_at=iso(utcnow()),
        updated_by=actor,
    )
    version = save_versioned(item, update.version, "SLA policies")
    audit.record(
        AUDIT_SUBJECT,
        actor,
        "sla_policies.replace",
        {
            "version": version,
            "previous_version": update.version,
            "policies": [p.policy_id for p in update.policies],
        },
    )
    reset()
    return PolicySet(version=version, policies=update.policies, updated_at=item.updated_at, updated_by=actor)


def reset() -> None:
    """Forget the cached policies (after a save here; tests)."""
    with _LOCK:
        _CACHE.clear()
