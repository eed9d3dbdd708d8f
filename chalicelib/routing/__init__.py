"""Routing (C3). This first version picks the skill group a new conversation queues in from the
first message's words; rules, intent models, priorities and capacity-based assignment extend it."""

from __future__ import annotations

import re

from chalicelib.messages import InboundMessage

PRESALES, AFTERSALES = "presales", "aftersales"

# After-sales words, Chinese and English: returns, refunds, repairs, deliveries, complaints.
_AFTERSALES = re.compile(
    r"退货|退款|换货|售后|维修|保修|坏了|损坏|破损|质量问题|物流|快递|没收到|未收到|还没到|投诉|"
    r"\b(refund|return|exchange|broken|damaged|repair|warranty|defect\w*|deliver\w*|parcel|"
    r"tracking|complain\w*|not (arrived|received))\b",
    re.IGNORECASE,
)


def initial_group(msg: InboundMessage) -> str:
    """The skill group a conversation opened by ``msg`` waits in. Pure."""
    return AFTERSALES if _AFTERSALES.search(msg.text or "") else PRESALES
