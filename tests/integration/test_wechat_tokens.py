"""The shared access-token cache WeChat sends through (``chalicelib/channels/tokens.py``), on moto:
one refresh across many Lambda instances, waiting for another's refresh, taking over a dead one."""

from __future__ import annotations

import threading
import time
from typing import Any

import boto3
import pytest

from chalicelib.channels.tokens import FetchedToken, TokenCache, TokenError, token_key

KEY = token_key("wechat", "wx0demo0omniflow01")
TABLE = "omniflow-test-state"
NOW = 1_800_000_000.0


class Fetcher:
    """A platform token endpoint that counts its calls."""

    def __init__(self, *values: str, expires_in: float = 7200.0, delay: float = 0.0) -> None:
        self.values = list(values)
        self.expires_in = expires_in
        self.delay = delay
        self.calls = 0
        self._lock = threading.Lock()

    def __call__(self) -> FetchedToken:
        with self._lock:
            self.calls += 1
            value = self.values.pop(0)
        if self.delay:
            time.sleep(self.delay)  # a slow platform, so concurrent callers really overlap
        return FetchedToken(value, self.expires_in)


def instance(now: float = NOW, **kwargs) -> TokenCache:
    """A Lambda instance's cache (own memory, shared table) on a fixed clock."""
    return TokenCache(clock=lambda: now, **kwargs)


def put_item(**attrs: str | float) -> None:
    item = {"key": {"S": KEY}}
    for name, value in attrs.items():
        item[name] = {"S": value} if isinstance(value, str) else {"N": str(value)}
    boto3.client("dynamodb").put_item(TableName=TABLE, Item=item)


def get_item() -> dict:
    return boto3.client("dynamodb").get_item(TableName=TABLE, Key={"key": {"S": KEY}}, ConsistentRead=True)[
        "Item"
    ]


def test_a_token_fetched_by_one_instance_is_used_by_another_without_fetching(aws):
    fetch = Fetcher("T1")
    assert instance().get(KEY, fetch) == "T1"
    assert instance(NOW + 60).get(KEY, fetch) == "T1"
    assert fetch.calls == 1
    item = get_item()
    assert item["token"]["S"] == "T1"
    assert float(item["token_expires_at"]["N"]) == NOW + 7200
    assert float(item["expires_at"]["N"]) > NOW + 7200  # the table's TTL outlives the token
    assert "lease_owner" not in item and "lease_until" not in item


class AtomicRequests:
    """DynamoDB applies each request, conditional writes included, atomically. moto in-process does
    not when threads call it at once (two conditional lease writes were both seen to succeed), so
    this restores that one guarantee with a lock around each request. Our code between requests
    (the slow fetch included) still runs concurrently."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        def request(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                return method(*args, **kwargs)

        return request


def test_many_cold_instances_at_once_fetch_one_token(aws, monkeypatch):
    dynamodb = AtomicRequests(boto3.client("dynamodb"))
    monkeypatch.setattr(TokenCache, "_ddb", staticmethod(lambda: dynamodb))
    fetch = Fetcher("T1", "T2", "T3", "T4", "T5", "T6", "T7", "T8", delay=0.3)
    start = threading.Barrier(8)
    results: list[str] = []
    errors: list[BaseException] = []

    def cold_lambda() -> None:
        cache = TokenCache(poll_seconds=0.05)
        start.wait()
        try:
            results.append(cache.get(KEY, fetch))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=cold_lambda) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)

    assert errors == []
    assert fetch.calls == 1
    assert results == ["T1"] * 8


def test_an_instance_waits_for_the_refresh_another_instance_is_doing(aws):
    put_item(lease_owner="other-lambda", lease_until=NOW + 15)

    def sleep(_: float) -> None:  # meanwhile, the other instance finishes its refresh
        put_item(token="THEIRS", token_expires_at=NOW + 7200)

    fetch = Fetcher("MINE")
    assert instance(sleep=sleep).get(KEY, fetch) == "THEIRS"
    assert fetch.calls == 0


def test_while_another_instance_refreshes_the_old_token_is_used_if_still_valid(aws):
    put_item(token="OLD", token_expires_at=NOW + 120, lease_owner="other-lambda", lease_until=NOW + 15)
    fetch = Fetcher("MINE")
    assert instance().get(KEY, fetch) == "OLD"
    assert fetch.calls == 0


def test_a_crashed_refresher_is_taken_over_once_its_lease_ends(aws):
    put_item(token="EXPIRED", token_expires_at=NOW - 1, lease_owner="crashed-lambda", lease_until=NOW - 0.001)
    fetch = Fetcher("NEW")
    assert instance().get(KEY, fetch) == "NEW"
    assert fetch.calls == 1
    assert get_item()["token"]["S"] == "NEW"


def test_waiting_gives_up_with_a_retryable_error(aws):
    put_item(lease_owner="stuck-lambda", lease_until=NOW + 15)
    clock = [NOW]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    cache = TokenCache(clock=lambda: clock[0], sleep=sleep, wait_seconds=2, poll_seconds=0.5)
    with pytest.raises(TokenError) as info:
        cache.get(KEY, Fetcher("MINE"))
    assert info.value.retryable
    assert clock[0] - NOW == pytest.approx(2.0)


def test_a_failed_fetch_releases_the_lease_and_propagates(aws):
    def failing() -> FetchedToken:
        raise TokenError("invalid appsecret", retryable=False)

    with pytest.raises(TokenError):
        instance().get(KEY, failing)
    assert "lease_owner" not in get_item()
    assert instance().get(KEY, Fetcher("T1")) == "T1"


def test_invalidate_forces_a_refresh_everywhere(aws):
    first, second = instance(), instance()
    assert first.get(KEY, Fetcher("T1")) == "T1"
    assert second.get(KEY, Fetcher("unused")) == "T1"
    first.invalidate(KEY, "T1")
    assert first.get(KEY, Fetcher("T2")) == "T2"
    second.reset()  # memory is per instance; the state table tells the rest
    assert second.get(KEY, Fetcher("unused")) == "T2"


def test_invalidating_an_already_replaced_token_keeps_the_newer_one(aws):
    slow = instance()
    assert slow.get(KEY, Fetcher("T1")) == "T1"
    put_item(token="T2", token_expires_at=NOW + 7200)  # another instance refreshed meanwhile
    slow.invalidate(KEY, "T1")
    assert get_item()["token"]["S"] == "T2"
    assert slow.get(KEY, Fetcher("unused")) == "T2"
