"""How a conversation reads to the console and the API (the fields that are bookkeeping stay
inside). Used by the workspace, tickets and the routes."""

from __future__ import annotations

from typing import Any

from chalicelib.conversations.models import Conversation
from chalicelib.db import to_json
from chalicelib.identity import service as identity
from chalicelib.identity.models import Customer


def conversation_summary(c: Conversation, customer: Customer | None = None) -> dict[str, Any]:
    data = to_json(c)
    for internal in (
        "queue_key",
        "queue_rank",
        "dequeued_from",
        "owner_key",
        "next_seq",
        "last_reply_context",
        "sla_execution_arn",
    ):
        data.pop(internal, None)
    data["channels"] = sorted(c.channels or [])
    if customer is not None:
        data["customer"] = {
            "customer_id": customer.customer_id,
            "display_name": customer.display_name,
            "contact": identity.contact_of(customer),  # shown when there is no name
        }
    return data
