"""PynamoDB plumbing shared by the capability packages: table naming and connection settings come
from ``config.settings()`` so the same models talk to moto locally and DynamoDB on AWS."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, TypeVar

from pynamodb.models import Model as PynamoModel
from pynamodb.transactions import TransactWrite

from chalicelib.config import settings

_M = TypeVar("_M", bound=PynamoModel)


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
    """A PynamoDB ``TransactWrite`` on the configured endpoint (all-or-nothing multi-item writes),
    kept in step with the identity map. The connection (a botocore client) is made once per
    process: making one parses the service model, which costs more than the write itself."""
    s = settings()
    return _MappedTransactWrite(connection=_connection(s.region, s.endpoint_url))


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


# ---- one read per fact: a per-invocation identity map ---------------------------------------------
# Within one request or one queued message no item is fetched twice. PynamoDB has no session, so
# models derive from ``Model`` below: inside ``identity_map()`` a GetItem (``get``, ``refresh``,
# ``batch_get``) answers from the items this invocation already read or wrote; every write updates
# the map with what DynamoDB stored (``save``: the item put; ``update``: its ALL_NEW attributes;
# ``delete``: gone), and a write that fails (a condition not met, or anything else) drops the item,
# so the retry that follows a conditional failure reads DynamoDB's answer, never ours. Writes always
# go to DynamoDB: the map never decides a condition. Each get answers a new model instance built
# from the stored attributes, so an unsaved change to one instance never leaks into another.
# Outside a scope (scripts, tests calling services directly) every call goes to DynamoDB.

ItemKey = tuple[str, Any, Any]  # (table, serialized hash key, serialized range key)


@dataclass(frozen=True)
class _Known:
    raw: dict[str, Any] | None  # the stored attributes; None: no such item
    strong: bool  # our own write or a consistent read (answers a consistent read too)


_known: ContextVar[dict[ItemKey, _Known] | None] = ContextVar("omniflow_identity_map", default=None)


@contextmanager
def identity_map() -> Iterator[None]:
    """One invocation's identity map (an API request, one queued message). Nested scopes start
    empty and give the outer one back on exit; the ContextVar is reset by token, so nothing leaks
    into the next warm invocation or test."""
    token = _known.set({})
    try:
        yield
    finally:
        _known.reset(token)


def _remember(key: ItemKey, raw: dict[str, Any] | None, strong: bool) -> None:
    known = _known.get()
    if known is not None:
        known[key] = _Known(copy.deepcopy(raw), strong)


def _forget(key: ItemKey) -> None:
    known = _known.get()
    if known is not None:
        known.pop(key, None)


def _recall(key: ItemKey, consistent: bool) -> _Known | None:
    known = _known.get()
    hit = known.get(key) if known is not None else None
    return hit if hit is not None and (hit.strong or not consistent) else None


def _instance_key(model: PynamoModel) -> ItemKey:
    hash_key, range_key = model._get_hash_range_key_serialized_values()
    return model.Meta.table_name, hash_key, range_key


class Model(PynamoModel):
    """PynamoDB's Model, answering repeated GetItems of one invocation from its identity map."""

    @classmethod
    def _item_key(cls, hash_key: Any, range_key: Any = None) -> ItemKey:
        hash_ser, range_ser = cls._serialize_keys(hash_key, range_key)
        return cls.Meta.table_name, hash_ser, range_ser

    @classmethod
    def get(
        cls: type[_M],
        hash_key: Any,
        range_key: Any | None = None,
        consistent_read: bool = False,
        attributes_to_get: Sequence[str] | None = None,
    ) -> _M:
        if _known.get() is None:
            return super().get(hash_key, range_key, consistent_read, attributes_to_get)
        key = cls._item_key(hash_key, range_key)  # type: ignore[attr-defined]
        hit = _recall(key, consistent_read)
        if hit is None:
            data = cls._get_connection().get_item(
                key[1], range_key=key[2], consistent_read=consistent_read, attributes_to_get=attributes_to_get
            )
            raw = (data or {}).get("Item") or None
            if attributes_to_get is None:  # a projection is not the item
                _remember(key, raw, consistent_read)
            hit = _Known(raw, consistent_read)
        if hit.raw is None:
            raise cls.DoesNotExist()
        return cls.from_raw_data(copy.deepcopy(hit.raw))

    @classmethod
    def batch_get(
        cls: type[_M],
        items: Iterable[Any],
        consistent_read: bool | None = None,
        attributes_to_get: Sequence[str] | None = None,
    ) -> Iterator[_M]:
        if _known.get() is None or attributes_to_get is not None:
            yield from super().batch_get(items, consistent_read, attributes_to_get)
            return
        ranged = cls._range_keyname is not None
        wanted: dict[ItemKey, Any] = {}
        for item in items:
            wanted[cls._item_key(*item) if ranged else cls._item_key(item)] = item  # type: ignore[attr-defined]
        missing: list[Any] = []
        for key, item in wanted.items():
            hit = _recall(key, bool(consistent_read))
            if hit is None:
                missing.append(item)
            elif hit.raw is not None:
                yield cls.from_raw_data(copy.deepcopy(hit.raw))
        if not missing:
            return
        found: set[ItemKey] = set()
        for model in super().batch_get(missing, consistent_read):
            key = _instance_key(model)
            found.add(key)
            _remember(key, model.serialize(null_check=False), bool(consistent_read))
            yield model
        for item in missing:  # every page was read (PynamoDB retries unprocessed keys): not there
            key = cls._item_key(*item) if ranged else cls._item_key(item)  # type: ignore[attr-defined]
            if key not in found:
                _remember(key, None, bool(consistent_read))

    def refresh(self, consistent_read: bool = False) -> None:
        key = _instance_key(self)
        hit = _recall(key, consistent_read)
        if hit is None:
            super().refresh(consistent_read)
            _remember(key, self.serialize(null_check=False), consistent_read)
            return
        if hit.raw is None:
            raise self.DoesNotExist("This item does not exist in the table.")
        self.deserialize(copy.deepcopy(hit.raw))

    def save(self, condition: Any | None = None, *, add_version_condition: bool = True) -> dict[str, Any]:
        key = _instance_key(self)
        try:
            data = super().save(condition, add_version_condition=add_version_condition)
        except Exception:
            _forget(key)
            raise
        _remember(key, self.serialize(null_check=False), True)
        return data

    def update(
        self, actions: list[Any], condition: Any | None = None, *, add_version_condition: bool = True
    ) -> Any:
        key = _instance_key(self)
        try:
            data = super().update(actions, condition, add_version_condition=add_version_condition)
        except Exception:
            _forget(key)
            raise
        _remember(key, data.get("Attributes"), True)
        return data

    def delete(self, condition: Any | None = None, *, add_version_condition: bool = True) -> Any:
        key = _instance_key(self)
        try:
            data = super().delete(condition, add_version_condition=add_version_condition)
        except Exception:
            _forget(key)
            raise
        _remember(key, None, True)
        return data


class _MappedTransactWrite(TransactWrite):
    """A TransactWrite that tells the identity map what it did: after a commit the items it put are
    known as put, those it deleted as gone, those it updated are forgotten (a transaction returns
    no new attributes); after a failure every item it named is forgotten."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._named: list[tuple[str, ItemKey, PynamoModel | None]] = []

    def condition_check(
        self, model_cls: Any, hash_key: Any, range_key: Any = None, condition: Any = None
    ) -> None:
        super().condition_check(model_cls, hash_key, range_key, condition)
        hash_ser, range_ser = model_cls._serialize_keys(hash_key, range_key)
        self._named.append(("check", (model_cls.Meta.table_name, hash_ser, range_ser), None))

    def delete(self, model: Any, condition: Any = None, *, add_version_condition: bool = True) -> None:
        super().delete(model, condition, add_version_condition=add_version_condition)
        self._named.append(("delete", _instance_key(model), model))

    def save(self, model: Any, condition: Any = None, return_values: str | None = None) -> None:
        super().save(model, condition, return_values)
        self._named.append(("save", _instance_key(model), model))

    def update(
        self,
        model: Any,
        actions: list[Any],
        condition: Any = None,
        return_values: str | None = None,
        *,
        add_version_condition: bool = True,
    ) -> None:
        super().update(model, actions, condition, return_values, add_version_condition=add_version_condition)
        self._named.append(("update", _instance_key(model), model))

    def _commit(self) -> Any:
        try:
            response = super()._commit()
        except Exception:
            for _, key, _model in self._named:
                _forget(key)
            raise
        for kind, key, model in self._named:
            if kind == "save" and model is not None:  # its local version was bumped by the commit
                _remember(key, model.serialize(null_check=False), True)
            elif kind == "delete":
                _remember(key, None, True)
            elif kind == "update":
                _forget(key)
        return response
