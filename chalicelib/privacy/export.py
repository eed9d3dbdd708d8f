"""Right of access and portability: ``GET /customers/{id}/export`` → one JSON document of
everything held about the customer (profile, identities, conversations and their messages,
tickets with their history, CSAT answers, tags, consents, the audit trail of their data). The
export itself is recorded in their audit trail (a view, ``what = "export"``)."""

from __future__ import annotations

from typing import Any

from chalicelib.audit import service as audit
from chalicelib.db import as_dict, to_json
from chalicelib.messages import iso, utcnow
from chalicelib.privacy.holdings import Holdings, collect

FORMAT = "omniflow.customer-export/1"
CONSENT_PREFIX = "consent."  # customer attributes recording a consent (consent.marketing = "yes" …)


def document(held: Holdings) -> dict[str, Any]:
    """The export of ``held`` (pure)."""
    main = held.customers[-1] if held.customers else None
    attributes = as_dict(main.attributes) if main is not None and main.attributes is not None else {}
    return {
        "format": FORMAT,
        "customer_id": main.customer_id if main is not None else held.customer_id,
        "exported_at": iso(utcnow()),
        "profile": [to_json(c) for c in held.customers],
        "identities": [to_json(i) for i in held.identities],
        "conversations": [
            {**to_json(c), "messages": [to_json(m) for m in held.messages.get(c.conversation_id, [])]}
            for c in sorted(held.conversations, key=lambda c: c.created_at)
        ],
        "tickets": [
            {**to_json(t), "history": [to_json(e) for e in held.ticket_events.get(t.ticket_id, [])]}
            for t in held.tickets
        ],
        "csat": [
            {"ticket_id": t.ticket_id, "score": t.csat_score, "comment": t.csat_comment}
            for t in held.tickets
            if t.csat_score is not None
        ],
        "tags": sorted({tag for c in held.customers for tag in (c.tags or set())}),
        "consents": {
            k[len(CONSENT_PREFIX) :]: v for k, v in attributes.items() if k.startswith(CONSENT_PREFIX)
        },
        "audit": [to_json(r) for r in sorted(held.audit, key=lambda r: r.at)],
    }


def export(actor: str, customer_id: str) -> dict[str, Any]:
    """The customer's export; recorded in their audit trail."""
    held = collect(customer_id)
    out = document(held)
    audit.viewed(actor, "export", held.customer_ids)
    return out
