"""moto's ``TransactWriteItems`` backs up every table a transaction touches with ``copy.deepcopy``
before writing, so its cost grows with the tables (the router writes each message in one
transaction: a thousand messages made the thousandth write copy the whole messages table), and a
rollback puts the old table objects back, dropping what other threads wrote meanwhile (the local
stack's moto server is threaded). DynamoDB does neither.

``install()`` keeps moto's own transaction logic and replaces only the backup: the items the
transaction names are copied before, and put back (or deleted) when it is cancelled. Used by the
tests' ``aws`` fixture, the local stack and the bench. Idempotent.
"""

from __future__ import annotations

import copy
import threading
from typing import Any

_state = threading.local()
_installed = False


class _CopyUnlessTable:
    """Stands in for the ``copy`` module inside moto's DynamoDB models: while a transaction runs on
    this thread, ``deepcopy`` of a table answers the table itself (the backup is per item, here)."""

    def __getattr__(self, name: str) -> Any:
        return getattr(copy, name)

    @staticmethod
    def deepcopy(value: Any, memo: Any = None) -> Any:
        from moto.dynamodb.models.table import Table

        if getattr(_state, "active", False) and isinstance(value, Table):
            return value
        return copy.deepcopy(value, memo)


def _key_of(backend: Any, op_type: str, op: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    name = op.get("TableName")
    if not name or name not in backend.tables:
        return None
    if op_type != "Put":
        return name, op["Key"]
    table = backend.tables[name]
    attrs = op["Item"]
    if table.hash_key_attr not in attrs:
        return None
    key = {table.hash_key_attr: attrs[table.hash_key_attr]}
    if table.range_key_attr is not None:
        if table.range_key_attr not in attrs:
            return None
        key[table.range_key_attr] = attrs[table.range_key_attr]
    return name, key


def install() -> None:
    global _installed
    if _installed:
        return
    from moto.dynamodb import models

    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        before: list[tuple[str, dict[str, Any], dict[str, Any] | None]] = []
        for item in transact_items:
            if len(item) != 1:
                continue  # moto refuses it before writing anything
            op_type, op = next(iter(item.items()))
            found = _key_of(self, op_type, op)
            if found is None:
                continue
            name, key = found
            try:
                current = self.get_item(name, key)
            except Exception:  # noqa: BLE001, S112 — a bad key: moto's own checks answer it
                continue
            before.append((name, key, copy.deepcopy(current.to_json()["Attributes"]) if current else None))
        _state.active = True
        try:
            original(self, transact_items)
        except Exception:
            for name, key, attrs in reversed(before):
                if attrs is None:
                    if self.get_item(name, key) is not None:
                        self.delete_item(name, key)
                else:
                    self.put_item(name, attrs)
            raise
        finally:
            _state.active = False

    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    models.copy = _CopyUnlessTable()  # type: ignore[assignment]
    _installed = True
