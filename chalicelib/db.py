"""PynamoDB plumbing shared by the capability packages: table naming and connection settings come
from ``config.settings()`` so the same models talk to moto locally and DynamoDB on AWS."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from chalicelib.config import settings


def meta(table: str) -> Any:
    """A PynamoDB ``Meta`` class for one of Omniflow's tables (``infra/data.yaml``)."""
    s = settings()
    attrs: dict[str, Any] = {
        "table_name": s.table(table),
        "region": s.region,
        "connect_timeout_seconds": 3,
        "read_timeout_seconds": 10,
        "max_retry_attempts": 3,
    }
    if s.endpoint_url:
        attrs["host"] = s.endpoint_url
    return type("Meta", (), attrs)


@lru_cache(maxsize=4)
def _connection(region: str, host: str | None) -> Any:
    from pynamodb.connection import Connection

    return Connection(region=region, host=host)


def transact_write() -> Any:
    """A PynamoDB ``TransactWrite`` on the configured endpoint (all-or-nothing multi-item writes).
    The connection (a botocore client) is made once per process: making one parses the service
    model, which costs more than the write itself."""
    from pynamodb.transactions import TransactWrite

    s = settings()
    return TransactWrite(connection=_connection(s.region, s.endpoint_url))


def to_json(model: Any) -> dict[str, Any]:
    """A PynamoDB model (or map attribute) as JSON-ready data: sets become sorted lists, maps dicts,
    absent attributes are left out."""
    from pynamodb.attributes import MapAttribute

    def plain(value: Any) -> Any:
        if isinstance(value, MapAttribute):
            return {k: plain(v) for k, v in value.as_dict().items()}
        if isinstance(value, (set, frozenset)):
            return sorted(value)
        if isinstance(value, list):
            return [plain(v) for v in value]
        if isinstance(value, dict):
            return {k: plain(v) for k, v in value.items()}
        return value

    return {
        name: plain(getattr(model, name))
        for name in model.get_attributes()
        if getattr(model, name) is not None
    }


def as_dict(value: Any) -> dict[str, Any]:
    """A map attribute's value as a plain dict (empty when absent)."""
    if value is None:
        return {}
    return dict(value.as_dict()) if hasattr(value, "as_dict") else dict(value)
