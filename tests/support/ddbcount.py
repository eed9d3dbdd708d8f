"""DynamoDB requests and the distinct items they touch, counted at botocore's one door.

``BaseClient._make_api_call`` sees every call of every botocore client (PynamoDB's connections,
``chalicelib.aws`` clients, powertools' idempotency layer), with its parameters and its parsed
answer. An item is named by its table and its primary key: a GetItem, PutItem, UpdateItem or
DeleteItem touches the item at its ``Key``/``Item`` key (found or not), a BatchGetItem,
BatchWriteItem or Transact* call every item it names, a Query or Scan every item it returns (its
base-table key, which every index projects). Used by ``make bench`` (section "DynamoDB requests
per API action") and by the integration test that keeps every action at requests <= items.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

ItemId = tuple[str, str]  # (table, canonical JSON of the primary key)


@dataclass
class DynamoTally:
    """What one window saw."""

    requests: Counter[str] = field(default_factory=Counter)  # operation -> count
    items: set[ItemId] = field(default_factory=set)
    reads: Counter[ItemId] = field(default_factory=Counter)  # GetItem/BatchGetItem per item
    trail: list[str] = field(default_factory=list)  # each request and the items it named, in order

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    @property
    def distinct(self) -> int:
        return len(self.items)

    def reread(self) -> dict[ItemId, int]:
        """Items fetched by key more than once in the window."""
        return {item: n for item, n in self.reads.items() if n > 1}

    def breakdown(self) -> str:
        return ", ".join(f"{op} x{n}" for op, n in sorted(self.requests.items())) or "none"


class DynamoCounter:
    """Wraps ``BaseClient._make_api_call`` while installed; counts only inside ``window()``."""

    def __init__(self) -> None:
        self._current: DynamoTally | None = None
        self._schemas: dict[str, list[str]] = {}
        self._original: Any = None

    def install(self) -> None:
        import botocore.client

        if self._original is not None:
            return
        base: Any = botocore.client.BaseClient  # _make_api_call is private: not in the stubs
        original = self._original = base._make_api_call
        counter = self

        def counted(client: Any, operation_name: str, api_params: dict[str, Any]) -> Any:
            response = original(client, operation_name, api_params)
            tally = counter._current
            if tally is not None and client.meta.service_model.service_name == "dynamodb":
                tally.requests[operation_name] += 1
                before = set(tally.items)
                counter._observe(client, tally, operation_name, api_params, response)
                named = sorted(tally.items - before) or ["(no new item)"]
                consistent = " consistent" if api_params.get("ConsistentRead") else ""
                tally.trail.append(f"{operation_name}{consistent} {api_params.get('TableName', '')} {named}")
            return response

        base._make_api_call = counted

    def uninstall(self) -> None:
        import botocore.client

        if self._original is not None:
            base: Any = botocore.client.BaseClient
            base._make_api_call = self._original
            self._original = None

    @contextmanager
    def window(self) -> Iterator[DynamoTally]:
        tally = DynamoTally()
        self._current = tally
        try:
            yield tally
        finally:
            self._current = None

    # ---- naming items ----------------------------------------------------------------------------
    def _key_names(self, client: Any, table: str) -> list[str]:
        if table not in self._schemas:
            saved, self._current = self._current, None  # the lookup itself is not counted
            try:
                schema = client.describe_table(TableName=table)["Table"]["KeySchema"]
            finally:
                self._current = saved
            self._schemas[table] = sorted(k["AttributeName"] for k in schema)
        return self._schemas[table]

    def _item(self, client: Any, table: str, item: dict[str, Any]) -> ItemId:
        names = self._key_names(client, table)
        return table, json.dumps({n: item.get(n) for n in names}, sort_keys=True)

    def _observe(
        self, client: Any, tally: DynamoTally, op: str, params: dict[str, Any], response: dict[str, Any]
    ) -> None:
        table = params.get("TableName", "")
        if op == "GetItem":
            item = self._item(client, table, params["Key"])
            tally.items.add(item)
            tally.reads[item] += 1
        elif op in ("UpdateItem", "DeleteItem"):
            tally.items.add(self._item(client, table, params["Key"]))
        elif op == "PutItem":
            tally.items.add(self._item(client, table, params["Item"]))
        elif op in ("Query", "Scan"):
            for found in response.get("Items", []):
                tally.items.add(self._item(client, table, found))
        elif op == "BatchGetItem":
            for name, spec in params.get("RequestItems", {}).items():
                for key in spec.get("Keys", []):
                    item = self._item(client, name, key)
                    tally.items.add(item)
                    tally.reads[item] += 1
        elif op == "BatchWriteItem":
            for name, requests in params.get("RequestItems", {}).items():
                for r in requests:
                    key = r["PutRequest"]["Item"] if "PutRequest" in r else r["DeleteRequest"]["Key"]
                    tally.items.add(self._item(client, name, key))
        elif op in ("TransactWriteItems", "TransactGetItems"):
            for entry in params.get("TransactItems", []):
                for kind, spec in entry.items():
                    key = spec["Item"] if kind == "Put" else spec["Key"]
                    item = self._item(client, spec["TableName"], key)
                    tally.items.add(item)
                    if kind == "Get":
                        tally.reads[item] += 1
