"""Alert rules and their evaluation (issue 16).

``evaluate`` runs every minute (an EventBridge schedule in ``app.py``): each enabled rule's metric
is read over its window from the analytics buckets (``reports.value_over``: at most five Queries,
whatever the traffic) and compared with its threshold. Hysteresis: an ``ok`` rule fires once when
the value crosses ``threshold``; a ``firing`` rule resolves once when the value is back across
``clear`` (by default the threshold). Each change of state is a conditional write (``state`` as
read), so two overlapping evaluations never notify twice; then it is kept in the history and told
to the alerts SNS topic, the supervisors' console feed and the outgoing webhooks
(``events.Announced("alert.fired" | "alert.resolved")``). A window with no data has no value
(ratios, percentiles) and changes nothing.
"""

from __future__ import annotations

import json
import operator
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import DoesNotExist, UpdateError

from chalicelib import aws, events
from chalicelib.alerts.bodies import AlertRuleBody
from chalicelib.alerts.models import AlertEvent, AlertRule
from chalicelib.analytics import reports
from chalicelib.config import settings
from chalicelib.errors import NotFound
from chalicelib.messages import iso, utcnow
from chalicelib.observability import logger

HISTORY_DAYS = 180
OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


def view(rule: AlertRule) -> dict[str, Any]:
    return {
        "rule_id": rule.sk,
        "name": rule.name,
        "metric": rule.metric,
        "op": rule.op,
        "threshold": rule.threshold,
        "clear": rule.clear,
        "window_minutes": int(rule.window_minutes),
        "group": rule.group,
        "agent": rule.agent,
        "channel": rule.channel,
        "enabled": rule.enabled,
        "state": rule.state,
        "value": rule.value,
        "changed_at": rule.changed_at,
    }


def create(body: AlertRuleBody, actor: str) -> dict[str, Any]:
    rule = AlertRule(
        sk=f"alr_{uuid.uuid4().hex[:16]}",
        name=body.name,
        metric=body.metric,
        op=body.op,
        threshold=body.threshold,
        clear=body.threshold if body.clear is None else body.clear,
        window_minutes=body.window_minutes,
        group=body.group,
        agent=body.agent,
        channel=body.channel,
        enabled=body.enabled,
        created_by=actor,
        created_at=iso(utcnow()),
    )
    rule.save(condition=AlertRule.sk.does_not_exist())
    return view(rule)


def rules() -> list[AlertRule]:
    return list(AlertRule.query("rule"))


def listing() -> dict[str, Any]:
    return {"items": [view(r) for r in rules()]}


def delete(rule_id: str) -> None:
    try:
        AlertRule.get("rule", rule_id).delete()
    except DoesNotExist as exc:
        raise NotFound(f"alert rule {rule_id}") from exc


def history(limit: int = 50) -> dict[str, Any]:
    """Firings and resolutions, newest first."""
    items = AlertEvent.query("history", scan_index_forward=False, limit=limit)
    return {
        "items": [
            {
                "rule_id": e.rule_id,
                "name": e.name,
                "kind": e.kind,
                "metric": e.metric,
                "value": e.value,
                "threshold": e.threshold,
                "at": e.at,
            }
            for e in items
        ]
    }


def measure(rule: AlertRule, now: datetime) -> float | None:
    start = now - timedelta(minutes=int(rule.window_minutes))
    value = reports.value_over(
        rule.metric, start, now, group=rule.group, agent=rule.agent, channel=rule.channel
    )
    return None if value is None else float(value)


def decide(rule: AlertRule, value: float | None) -> str | None:
    """The rule's next state change (pure): "fired", "resolved" or None."""
    if value is None:
        return None
    if rule.state != "firing":
        return "fired" if OPS[rule.op](value, float(rule.threshold)) else None
    still = OPS[rule.op](value, float(rule.clear)) or (
        value == float(rule.clear) and rule.op in (">", "<")  # at the clear value: not yet back
    )
    return None if still else "resolved"


def evaluate(now: datetime | None = None) -> dict[str, int]:
    """Every enabled rule once (the minute schedule)."""
    now = now or utcnow()
    out = {"rules": 0, "fired": 0, "resolved": 0}
    for rule in rules():
        if not rule.enabled:
            continue
        out["rules"] += 1
        try:
            value = measure(rule, now)
            change = decide(rule, value)
            if change and _transition(rule, change, value, now):
                out[change] += 1
        except Exception:  # noqa: BLE001 — one broken rule never stops the others
            logger.exception("alert rule failed", extra={"rule_id": rule.sk})
    return out


def _transition(rule: AlertRule, change: str, value: float | None, now: datetime) -> bool:
    state = "firing" if change == "fired" else "ok"
    at = iso(now)
    try:
        rule.update(
            actions=[
                AlertRule.state.set(state),
                AlertRule.value.set(value) if value is not None else AlertRule.value.remove(),
                AlertRule.changed_at.set(at),
            ],
            condition=AlertRule.state == rule.state,
        )
    except UpdateError as exc:
        if getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException":
            return False  # another evaluation got there first
        raise
    AlertEvent(
        sk=f"{at}#{rule.sk}",
        rule_id=rule.sk,
        name=rule.name,
        kind=change,
        metric=rule.metric,
        value=value,
        threshold=rule.threshold,
        at=at,
        expires_at=int(time.time()) + HISTORY_DAYS * 86400,
    ).save()
    _notify(rule, change, value, at)
    return True


def _notify(rule: AlertRule, change: str, value: float | None, at: str) -> None:
    data = {
        "rule_id": rule.sk,
        "name": rule.name,
        "metric": rule.metric,
        "op": rule.op,
        "threshold": rule.threshold,
        "value": value,
        "window_minutes": int(rule.window_minutes),
        "filters": {
            k: v for k, v in (("group", rule.group), ("agent", rule.agent), ("channel", rule.channel)) if v
        },
        "at": at,
    }
    topic = settings().alerts_topic_arn
    if topic:
        try:
            aws.client("sns").publish(
                TopicArn=topic,
                Subject=f"Omniflow alert {change}: {rule.name}"[:100],
                Message=json.dumps({"type": f"alert.{change}"} | data, ensure_ascii=False),
            )
        except Exception:  # noqa: BLE001 — the feed and webhooks still hear it
            logger.exception("alert SNS publish failed", extra={"rule_id": rule.sk})
    from chalicelib.feed import service as feed

    feed.publish(f"alert.{change}", groups=[rule.group] if rule.group else (), data=data)
    events.publish(events.Announced(f"alert.{change}", data))
