"""Customers and the identities that point at them.

``Identity`` items are the index of who is who: ``wechat#default#<openid>``, ``phone#+86…``,
``email#a@b.c``, ``unionid#…``. Each is claimed once with a conditional put, so two first messages
from the same person racing through two Lambdas still end at one customer.
"""

from __future__ import annotations

from typing import Any

from pynamodb.attributes import (
    MapAttribute,
    NumberAttribute,
    UnicodeAttribute,
    UnicodeSetAttribute,
)
from pynamodb.indexes import AllProjection, GlobalSecondaryIndex

from chalicelib.db import Model, meta


class Customer(Model):
    Meta = meta("customers")

    customer_id = UnicodeAttribute(hash_key=True)
    display_name = UnicodeAttribute(null=True)
    phones = UnicodeSetAttribute(null=True)
    emails = UnicodeSetAttribute(null=True)
    unionids = UnicodeSetAttribute(null=True)
    unverified_hints = MapAttribute[str, str](null=True)  # shown to agents, never used to link
    tags = UnicodeSetAttribute(null=True)
    # tags learned from what the customer said (chalicelib.insight): tag -> {confidence, source,
    # reasons}; a tag an agent removed is in suppressed_tags and never set again
    auto_tags = MapAttribute[str, Any](null=True)
    suppressed_tags = UnicodeSetAttribute(null=True)
    attributes = MapAttribute[str, str](null=True)
    open_conversation_id = UnicodeAttribute(null=True)
    last_channel = UnicodeAttribute(null=True)
    merged_into = UnicodeAttribute(null=True)  # set on a customer folded into another
    # Conversations opened for this customer, counted from their first; absent or > 1 when unknown
    # (customers from before the count, merges): 1 lets the conversation view skip its history Query.
    conversations_opened = NumberAttribute(null=True)
    created_at = UnicodeAttribute()
    updated_at = UnicodeAttribute(null=True)
    version = NumberAttribute(default=0)


class CustomerIndex(GlobalSecondaryIndex["Identity"]):
    class Meta:
        index_name = "by_customer"
        projection = AllProjection()

    customer_id = UnicodeAttribute(hash_key=True)
    identity_key = UnicodeAttribute(range_key=True)


class Identity(Model):
    Meta = meta("identities")

    identity_key = UnicodeAttribute(hash_key=True)
    customer_id = UnicodeAttribute()
    kind = UnicodeAttribute()  # channel | phone | email | unionid | external_id
    channel = UnicodeAttribute(null=True)  # for kind == "channel": where the customer can be reached
    account = UnicodeAttribute(null=True)
    user_id = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    by_customer = CustomerIndex()
