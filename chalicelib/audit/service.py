"""Write and read audit records."""

from __future__ import annotations

import uuid
from typing import Any

from chalicelib.audit.models import AuditRecord
from chalicelib.messages import iso, utcnow


def record(subject: str, actor: str, action: str, details: dict[str, Any] | None = None) -> AuditRecord:
    item = AuditRecord(
        subject, f"{iso(utcnow())}#{uuid.uuid4().hex[:8]}", actor=actor, action=action, details=details
    )
    item.save()
    return item


def history(subject: str, limit: int = 100) -> list[AuditRecord]:
    return list(AuditRecord.query(subject, scan_index_forward=False, limit=limit))
