"""Business events in, notices out (C12).

``receive`` records the event once per ``event_id`` (a conditional put: a resent event sends nothing
twice), finds the customer by id, phone, e-mail or channel id, picks the rule for its type, and
decides with ``policy.decide``: sent (stored in the customer's conversation and queued on the
outbound queue like an agent's reply), held until quiet hours end (released by the minute
schedule, ``release_due``, through the sparse ``by_due`` index), or suppressed with its reason.
``on_customer_message`` records SMS-style opt-outs (STOP / 退订 / TD) and opt-ins per channel.
Reads: GetItems and Queries on keys built for them; no Scan.
"""

from __future__ import annotations

import threading
import time
from datetime import datetime
from typing import Any

from cachetools import TTLCache, cached
from pynamodb.exceptions import DoesNotExist, PutError, UpdateError

from chalicelib import channels, events
from chalicelib.channels.credentials import account_credentials
from chalicelib.conversations import notices
from chalicelib.conversations import service as conversations
from chalicelib.db import as_dict
from chalicelib.errors import NotFound
from chalicelib.identity import service as identity
from chalicelib.identity.models import Customer, Identity
from chalicelib.messages import TemplateRef, iso, utcnow
from chalicelib.observability import logger
from chalicelib.orders import business
from chalicelib.outbound import service as outbound
from chalicelib.proactive import policy
from chalicelib.proactive.bodies import BusinessEventBody, EventCustomer
from chalicelib.proactive.models import BusinessEvent, DailyCount, OptOut, RuleSetItem
from chalicelib.proactive.rules import ProactiveRulesUpdate, Rule, RuleSet, render
from chalicelib.routing.placement import DEFAULT_GROUP
from chalicelib.versions import VersionConflict, save_versioned

CACHE_SECONDS = 30
RETRY_AFTER_SECONDS = 60  # an event left "received" by a crashed attempt is processed again after this
_CACHE: TTLCache[str, RuleSet] = TTLCache(maxsize=1, ttl=CACHE_SECONDS, timer=time.monotonic)
_LOCK = threading.Lock()


# ---- the rule set -------------------------------------------------------------------------------
def _read(consistent: bool) -> RuleSet:
    try:
        item = RuleSetItem.get("rules", "current", consistent_read=consistent)
    except DoesNotExist:
        return RuleSet()
    try:
        return RuleSet.model_validate(
            {
                "version": int(item.version),
                "rules": item.rules or [],
                "limits": item.settings or {},
                "updated_at": item.updated_at,
                "updated_by": item.updated_by,
            }
        )
    except ValueError:
        logger.warning("stored proactive rules are invalid; sending nothing")
        return RuleSet(version=int(item.version))


@cached(cache=_CACHE, lock=_LOCK, key=lambda: "rules")
def ruleset() -> RuleSet:
    return _read(consistent=False)


def current() -> RuleSet:
    return _read(consistent=True)


def view(rule_set: RuleSet) -> dict[str, Any]:
    return rule_set.model_dump(mode="json")


def save(update: ProactiveRulesUpdate, actor: str) -> RuleSet:
    """Replace the whole set if ``update.version`` is still the saved one (else 409)."""
    if current().version != update.version:
        raise VersionConflict(f"proactive rules changed since version {update.version}: reload and retry")
    item = RuleSetItem(
        rules=[r.model_dump(mode="json") for r in update.rules],
        settings=update.limits.model_dump(mode="json"),
        updated_at=iso(utcnow()),
        updated_by=actor,
    )
    save_versioned(item, update.version, "proactive rules")
    _CACHE.clear()
    return current()


# ---- events -------------------------------------------------------------------------------------
def event_view(rec: BusinessEvent) -> dict[str, Any]:
    return {
        "event_id": rec.event_id,
        "type": rec.type,
        "status": rec.status,
        "reason": rec.reason,
        "rule_id": rec.rule_id,
        "customer_id": rec.customer_id,
        "channel": rec.channel,
        "template": rec.template,
        "conversation_id": rec.conversation_id,
        "seq": int(rec.seq) if rec.seq is not None else None,
        "due_at": rec.due_at,
        "created_at": rec.created_at,
        "updated_at": rec.updated_at,
    }


def get_event(event_id: str) -> dict[str, Any]:
    try:
        return event_view(BusinessEvent.get(f"event#{event_id}", "event", consistent_read=True))
    except DoesNotExist as exc:
        raise NotFound(f"business event {event_id}") from exc


def _condition_failed(exc: Exception) -> bool:
    return getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException"


def receive(body: BusinessEventBody, actor: str) -> dict[str, Any]:
    """Record the event once, keep it on the customer's timeline and act on it; a resend answers
    what became of the first (``duplicate``)."""
    received = utcnow()
    now = iso(received)
    customer = _find_customer(body.customer)
    if customer is not None:
        business.keep(
            customer.customer_id, body.event_id, body.type, body.when(received), body.as_data(), actor
        )
    rec = BusinessEvent(
        f"event#{body.event_id}",
        event_id=body.event_id,
        type=body.type,
        customer_id=customer.customer_id if customer else None,
        data={**body.as_data(), **({"_language": body.language} if body.language else {})},
        status="received",
        created_at=now,
        updated_at=now,
        created_by=actor,
    )
    try:
        rec.save(condition=BusinessEvent.pk.does_not_exist())
    except PutError as exc:
        if not _condition_failed(exc):
            raise
        rec = BusinessEvent.get(f"event#{body.event_id}", "event", consistent_read=True)
        if not _stale(rec):
            return {**event_view(rec), "duplicate": True}
        if not _claim(rec):  # another attempt picked it up at the same moment
            return {**event_view(rec), "duplicate": True}
    _process(rec, customer)
    return {**event_view(rec), "duplicate": False}


def _stale(rec: BusinessEvent) -> bool:
    if rec.status != "received":
        return False
    age = (utcnow() - datetime.fromisoformat(rec.updated_at)).total_seconds()
    return age > RETRY_AFTER_SECONDS


def _claim(rec: BusinessEvent) -> bool:
    try:
        rec.update(
            actions=[BusinessEvent.updated_at.set(iso(utcnow()))],
            condition=BusinessEvent.updated_at == rec.updated_at,
        )
        return True
    except UpdateError as exc:
        if _condition_failed(exc):
            return False
        raise


def _find_customer(who: EventCustomer) -> Customer | None:
    keys: list[str] = []
    if who.customer_id:
        try:
            return identity.get_customer(who.customer_id)
        except KeyError:
            pass
    if who.phone:
        keys += [f"phone#{who.phone}", f"sms#default#{who.phone}", f"whatsapp#default#{who.phone[1:]}"]
    if who.email:
        keys += [f"email#{who.email.strip().lower()}", f"email#default#{who.email.strip().lower()}"]
    for channel, user_id in (who.channel_ids or {}).items():
        keys.append(f"{channel}#default#{user_id}")
    for key in keys:
        try:
            found = Identity.get(key)
        except DoesNotExist:
            continue
        try:
            return identity.get_customer(found.customer_id)
        except KeyError:
            continue
    return None


def _finish(rec: BusinessEvent, status: str, **fields: Any) -> None:
    rec.status, rec.updated_at = status, iso(utcnow())
    for name, value in fields.items():
        setattr(rec, name, value)
    if status != "held":
        rec.held_key = None
        rec.due_at = None
    rec.save()


def _language(rec: BusinessEvent, rule: Rule) -> str:
    data = rec.data or {}
    wanted = data.get("_language")
    if wanted in rule.template:
        return str(wanted)
    return next(iter(rule.template))


def _process(rec: BusinessEvent, customer: Customer | None, now: datetime | None = None) -> None:
    now = now or utcnow()
    rules = ruleset()
    if customer is None:
        _finish(rec, "suppressed", reason="unknown_customer")
        return
    rule = rules.rule_for(rec.type)
    if rule is None:
        _finish(rec, "suppressed", reason=f"no_rule: no enabled rule for {rec.type}")
        return
    data = {k: v for k, v in (rec.data or {}).items() if not k.startswith("_")}
    try:
        text = render(rule.template[_language(rec, rule)], data)
    except KeyError as exc:
        _finish(rec, "suppressed", rule_id=rule.rule_id, reason=f"missing_data: {exc.args[0]}")
        return
    zone = as_dict(customer.attributes).get("timezone")
    day = policy.local_day(now, rules.limits, zone)
    sent_today = _sent_on(customer.customer_id, day)
    candidates, addresses = _candidates(customer)
    decision = policy.decide(rule, candidates, now, rules.limits, sent_today=sent_today, zone=zone)
    if decision.action == "hold":
        assert decision.due_at is not None
        _finish(
            rec,
            "held",
            rule_id=rule.rule_id,
            reason=decision.reason,
            held_key="held",
            due_at=iso(decision.due_at),
        )
        return
    if decision.action == "suppress" or decision.channel is None:
        _finish(rec, "suppressed", rule_id=rule.rule_id, reason=decision.reason)
        return
    target = addresses[decision.channel]
    adapter = channels.get(decision.channel)
    conversation, message = notices.store_notice(
        customer, target, text, group_id=DEFAULT_GROUP, mailbox=adapter.mailbox
    )
    template = (
        TemplateRef(name=decision.template, language=_language(rec, rule)) if decision.template else None
    )
    outbound.enqueue(conversation, message, target, text, notices.AUTHOR, template=template)
    _count(customer.customer_id, day)
    _finish(
        rec,
        "sent",
        rule_id=rule.rule_id,
        reason=None,
        channel=decision.channel,
        template=decision.template,
        conversation_id=conversation.conversation_id,
        seq=int(message.seq),
    )
    events.publish(
        events.Announced(
            "notice.sent",
            {
                "event_id": rec.event_id,
                "type": rec.type,
                "customer_id": customer.customer_id,
                "channel": decision.channel,
                "conversation_id": conversation.conversation_id,
            },
        )
    )


def _sent_on(customer_id: str, day: str) -> int:
    try:
        return int(DailyCount.get(f"cap#{customer_id}", day).sent or 0)
    except DoesNotExist:
        return 0


def _count(customer_id: str, day: str) -> None:
    DailyCount(f"cap#{customer_id}", day).update(
        actions=[DailyCount.sent.add(1), DailyCount.expires_at.set(int(time.time()) + 2 * 86400)]
    )


def _candidates(
    customer: Customer,
) -> tuple[list[policy.Candidate], dict[str, tuple[str, str, str]]]:
    """The customer's channels, preferred first, then the most recent, then the others (newest
    identity first), with what the policy needs. One Query of identities, one of opt-outs, one of
    the latest conversations (their last inbound time per channel)."""
    refs = sorted(
        (i for i in identity.identities_of(customer.customer_id) if i.kind == "channel" and i.channel),
        key=lambda i: i.created_at,
        reverse=True,
    )
    addresses: dict[str, tuple[str, str, str]] = {}
    for ref in refs:
        if ref.channel and ref.account and ref.user_id and ref.channel not in addresses:
            addresses[ref.channel] = (ref.channel, ref.account, ref.user_id)
    opted_out = {o.sk for o in OptOut.query(f"optout#{customer.customer_id}")}
    last_inbound: dict[str, datetime] = {}
    for c in conversations.conversations_of(customer.customer_id, limit=3):
        for key, at in as_dict(c.inbound_at).items():
            channel = key.split("#", 1)[0]
            seen = datetime.fromisoformat(str(at))
            if channel not in last_inbound or seen > last_inbound[channel]:
                last_inbound[channel] = seen
    preferred = as_dict(customer.attributes).get("preferred_channel")
    order = [c for c in (preferred, customer.last_channel) if c and c in addresses]
    order += [c for c in addresses if c not in order]
    out: list[policy.Candidate] = []
    for name in order:
        try:
            adapter = channels.get(name)
        except NotFound:  # a channel no longer built in
            logger.warning("notice skips an unknown channel", extra={"channel": name})
            continue
        account = addresses[name][1]
        templates: frozenset[str] = frozenset()
        if adapter.reply_window is not None:
            try:
                templates = frozenset(
                    t["name"] for t in adapter.templates(account_credentials(name, account))
                )
            except NotFound:  # no such account any more: no templates
                templates = frozenset()
        out.append(
            policy.Candidate(
                channel=name,
                can_send=adapter.can_reply,
                opted_out=name in opted_out,
                window_seconds=adapter.reply_window,
                last_inbound_at=last_inbound.get(name),
                templates=templates,
            )
        )
    return out, addresses


def release_due(limit: int = 100) -> int:
    """Process the held notices whose quiet hours have ended (the minute schedule)."""
    now = utcnow()
    released = 0
    for rec in BusinessEvent.by_due.query("held", BusinessEvent.due_at <= iso(now), limit=limit):
        try:
            rec.update(
                actions=[BusinessEvent.held_key.remove(), BusinessEvent.updated_at.set(iso(now))],
                condition=(BusinessEvent.held_key == "held") & (BusinessEvent.due_at == rec.due_at),
            )
        except UpdateError as exc:
            if _condition_failed(exc):
                continue  # another instance released it
            raise
        customer = identity.get_customer(rec.customer_id) if rec.customer_id else None
        _process(rec, customer, now)
        released += 1
    return released


# ---- opt-out keywords ---------------------------------------------------------------------------
def on_customer_message(event: events.CustomerMessageStored) -> None:
    """STOP / 退订 / TD on a channel: nothing more goes there until START / 订阅."""
    message = event.message
    word = policy.keyword(getattr(message, "text", None))
    if word is None:
        return
    customer_id = event.customer.customer_id
    channel = str(message.channel)
    if word == "stop":
        OptOut(f"optout#{customer_id}", channel, keyword=str(message.text)[:24], at=iso(utcnow())).save()
    else:
        try:
            OptOut(f"optout#{customer_id}", channel).delete()
        except DoesNotExist:
            pass


def reset() -> None:
    """Forget the cached rule set (tests; an admin's save clears it on its own instance)."""
    _CACHE.clear()
