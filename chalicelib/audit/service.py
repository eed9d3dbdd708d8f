"""Write and read audit records: changes (``record``) and views (``viewed``: every read of a
customer, a conversation, an attachment or an export). Each record says who (the principal's id),
when, what, and from where: the source IP and user agent of the request being served, which the
HTTP glue states once per request with ``request_origin``."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from chalicelib.audit.models import RETENTION_DAYS, AuditRecord
from chalicelib.messages import iso, utcnow

VIEW = "view"


@dataclass(frozen=True)
class Origin:
    source_ip: str | None
    user_agent: str | None


_origin: ContextVar[Origin | None] = ContextVar("omniflow_audit_origin", default=None)


@contextmanager
def request_origin(source_ip: str | None, user_agent: str | None) -> Iterator[None]:
    """Records written inside carry this origin (one API request)."""
    token = _origin.set(Origin(source_ip or None, (user_agent or "")[:256] or None))
    try:
        yield
    finally:
        _origin.reset(token)


def _new(subject: str, actor: str, action: str, details: dict[str, Any] | None) -> AuditRecord:
    origin = _origin.get()
    return AuditRecord(
        subject,
        f"{iso(utcnow())}#{uuid.uuid4().hex[:8]}",
        actor=actor,
        action=action,
        details=details,
        source_ip=origin.source_ip if origin else None,
        user_agent=origin.user_agent if origin else None,
        expires_at=int(time.time()) + RETENTION_DAYS * 86400,
    )


def record(subject: str, actor: str, action: str, details: dict[str, Any] | None = None) -> AuditRecord:
    item = _new(subject, actor, action, details)
    item.save()
    return item


def viewed(actor: str, what: str, customer_ids: Sequence[str], **ids: str) -> list[AuditRecord]:
    """``actor`` looked at ``what`` (customer, conversation, attachment, export …) of these
    customers: one record per customer in their trail, written in one request (a PutItem, or one
    BatchWriteItem when a view shows several customers). ``ids`` name what was seen (ids only,
    never content). Reads nothing."""
    items = [_new(f"customer#{c}", actor, VIEW, {"what": what, **ids}) for c in dict.fromkeys(customer_ids)]
    if len(items) == 1:
        items[0].save()
    elif items:
        with AuditRecord.batch_write() as batch:
            for item in items:
                batch.save(item)
    return items


def history(subject: str, limit: int = 100) -> list[AuditRecord]:
    return list(AuditRecord.query(subject, scan_index_forward=False, limit=limit))


def by_actor(
    actor: str, limit: int = 50, start: dict[str, Any] | None = None
) -> tuple[list[AuditRecord], dict[str, Any] | None]:
    """What one agent (or API client) did and looked at, newest first: one Query on by_actor from
    ``start`` (the previous page's last key); answers the page and its last key."""
    page = AuditRecord.by_actor.query(actor, scan_index_forward=False, limit=limit, last_evaluated_key=start)
    items = list(page)
    return items, page.last_evaluated_key
