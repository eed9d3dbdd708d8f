"""The ``api_clients`` table: one item per machine client (``client_id``), holding its
configuration, the hash of its secret and its rate-limit token bucket, so one GetItem per request
answers whether it is enabled, what it may do and whether it has a token left. The ``by_kind``
index (``kind`` = ``client``, by creation time) lists clients for the admin page; it projects
only what the list shows, so a request's bucket write never touches it."""

from __future__ import annotations

from pynamodb.attributes import BooleanAttribute, NumberAttribute, UnicodeAttribute, UnicodeSetAttribute
from pynamodb.indexes import GlobalSecondaryIndex, IncludeProjection

from chalicelib.db import Model, meta

LISTED = ["client_id", "name", "scopes", "rate_limit", "enabled", "created_by", "secret_rotated_at"]


class _ByKind(GlobalSecondaryIndex["ApiClient"]):
    class Meta:
        index_name = "by_kind"
        projection = IncludeProjection(LISTED)

    kind = UnicodeAttribute(hash_key=True)
    created_at = UnicodeAttribute(range_key=True)


class ApiClient(Model):
    Meta = meta("api_clients")

    client_id = UnicodeAttribute(hash_key=True)  # cli_<hex>
    kind = UnicodeAttribute(default="client")
    name = UnicodeAttribute()
    scopes = UnicodeSetAttribute()
    rate_limit = NumberAttribute()  # requests per minute (the bucket holds one minute's worth)
    enabled = BooleanAttribute(default=True)
    secret_hash = UnicodeAttribute()  # sha256 hex of the secret (a random 256-bit value, not a password)
    secret_rotated_at = UnicodeAttribute(null=True)
    created_at = UnicodeAttribute()
    created_by = UnicodeAttribute()
    tokens = NumberAttribute(null=True)  # the bucket: tokens left at ``refilled_ms``
    refilled_ms = NumberAttribute(null=True)

    by_kind = _ByKind()
