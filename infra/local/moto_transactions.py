"""Local stack only: moto's TransactWriteItems without a copy of the whole table per item.

moto (5.x) makes a rollback copy of a table for **every** item of a TransactWriteItems
(``copy.deepcopy(table)``): with the analytics table (one transaction of ~10 items per counted fact,
thousands of bucket items and markers) that is seconds per fact, and the stack stops answering
while its queue consumer counts. ``install`` keeps moto's semantics — all items or none — by
saving only the items the transaction names and putting them back if it fails. A table with a
stream keeps moto's own copy (a failed transaction's stream records would otherwise stay).
"""

from __future__ import annotations

import copy
import threading
from typing import Any

_local = threading.local()


def install() -> None:
    from moto.dynamodb import models
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    if getattr(models, "_omniflow_item_snapshots", False):
        return

    class _Copy:
        """moto's module-level ``copy``: a table is not copied while a snapshot stands in for it."""

        @staticmethod
        def deepcopy(value: Any, memo: Any = None) -> Any:
            if isinstance(value, Table) and getattr(_local, "skip", False):
                return value
            return copy.deepcopy(value, memo)

    models.copy = _Copy  # type: ignore[assignment]
    original = models.DynamoDBBackend.transact_write_items

    def transact_write_items(self: Any, transact_items: list[dict[str, Any]]) -> None:
        saved: list[tuple[Any, Any, Any, Any]] = []
        streams = False
        for entry in transact_items:
            _, op = next(iter(entry.items()))
            table = self.tables.get(op.get("TableName") or "")
            if table is None:
                continue
            streams = streams or table.stream_shard is not None
            key = op.get("Key") or op.get("Item") or {}
            if table.hash_key_attr not in key:
                continue
            hash_value = DynamoType(key[table.hash_key_attr])
            range_value = DynamoType(key[table.range_key_attr]) if table.range_key_attr in key else None
            try:
                current = table.get_item(hash_value, range_value)
            except Exception:  # noqa: BLE001, S112 — a bad key: moto's own call below reports it
                continue
            saved.append((table, hash_value, range_value, copy.deepcopy(current)))
        if streams:
            return original(self, transact_items)
        _local.skip = True
        try:
            return original(self, transact_items)
        except Exception:
            for table, hash_value, range_value, item in reversed(saved):
                table.delete_item(hash_value, range_value)
                if item is not None:
                    if range_value is not None:
                        table.items[hash_value][range_value] = item
                    else:
                        table.items[hash_value] = item
            raise
        finally:
            _local.skip = False

    models.DynamoDBBackend.transact_write_items = transact_write_items  # type: ignore[method-assign]
    models._omniflow_item_snapshots = True  # type: ignore[attr-defined]
