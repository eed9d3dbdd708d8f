"""Routing (C3): where a new conversation goes — routing rules (rules.py), then intent detection
(intent.py) — see placement.py. Who takes it is chalicelib.assignment's."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from chalicelib.messages import InboundMessage

if TYPE_CHECKING:
    from chalicelib.conversations.service import Placement
    from chalicelib.identity.models import Customer

PRESALES, AFTERSALES = "presales", "aftersales"

# After-sales words, Chinese and English: returns, refunds, repairs, deliveries, complaints.
_AFTERSALES = re.compile(
    r"退货|退款|换货|售后|维修|保修|坏了|损坏|破损|质量问题|物流|快递|没收到|未收到|还没到|投诉|"
    r"\b(refund|return|exchange|broken|damaged|repair|warranty|defect\w*|deliver\w*|parcel|"
    r"tracking|complain\w*|not (arrived|received))\b",
    re.IGNORECASE,
)


def place(msg: InboundMessage, customer: Customer) -> Placement:
    """Where a conversation opened by ``msg`` goes (see routing/placement.py)."""
    from chalicelib.routing.placement import place as _place

    return _place(msg, customer)


def initial_group(msg: InboundMessage) -> str:
    """The skill group a conversation opened by ``msg`` waits in. Pure."""
    return AFTERSALES if _AFTERSALES.search(msg.text or "") else PRESALES
