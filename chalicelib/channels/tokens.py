"""Platform access tokens, shared by every Lambda of a stage.

WeChat-style APIs (WeChat, WeCom, Douyin, Weibo …) authenticate sends with a short-lived access
token fetched from a rate-limited endpoint, and fetching a new token retires the previous one after
a short grace period. So the senders of a stage must share one token per app, and only one of them
may refresh it at a time. Lookups go

    memory (this Lambda instance) → DynamoDB ``state`` table (every instance) → the platform,

and a refresh is guarded by a lease taken with a conditional write: after expiry a burst of cold
Lambdas makes one token request, the others wait briefly for its result (or keep using the old token
while it is still valid). The platform-specific part is only the ``fetch`` callable a channel passes.

Item layout in the state table (pk ``key``): ``token``, ``token_expires_at`` (epoch s),
``lease_owner``, ``lease_until`` (epoch s) and ``expires_at`` (the table's TTL, so dead apps'
items clean themselves up; TTL deletion is lazy, so expiry is always checked in code too).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import BotoCoreError
from botocore.exceptions import ClientError

from chalicelib.aws import client
from chalicelib.channels.transport import HttpCall
from chalicelib.channels.transport import HttpReply
from chalicelib.channels.transport import TokenError
from chalicelib.channels.transport import Transport
from chalicelib.config import settings
from chalicelib.observability import logger

STATE_TABLE = "state"
TTL_SLACK_SECONDS = 24 * 3600  # keep an expired item around a day: cheap, and handy when debugging


@dataclass(frozen=True)
class FetchedToken:
    """What a platform's token endpoint answered."""

    value: str
    expires_in: float  # seconds of validity, as the platform states them


@dataclass(frozen=True)
class _Entry:
    value: str
    expires_at: float

    def usable(self, now: float, margin: float = 0.0) -> bool:
        return self.expires_at - now > margin


def token_key(channel: str, app: str) -> str:
    """State-table key of an app's token. Keyed by the platform's app id rather than our account
    name: two accounts configured with the same app must share (not fight over) one token."""
    return f"token#{channel}#{app}"


@dataclass(frozen=True)
class TokenApi:
    """A platform API whose calls carry a shared access token (WeChat, WeCom, Douyin): which token
    an account's credentials use, how a new one is fetched, and how the platform says it refuses
    one. The channel supplies these; the call with its one retry is written here once."""

    key: Callable[[Mapping[str, str]], str]  # the credentials → the token's state-table key
    fetch: Callable[[Mapping[str, str], Transport], FetchedToken]
    rejected: Callable[[HttpReply], bool]  # the answer says the token is invalid or expired
    local_token: str  # what the local stack records in place of a token

    def call(self, creds: Mapping[str, str], http: Transport, build: Callable[[str], HttpCall]) -> HttpReply:
        """One call built by ``build(token)``. A token the platform rejects (revoked, or retired by
        another holder's refresh) is dropped and the call made once more with a fresh one. The
        local stack records the call with ``local_token`` and fetches nothing. Raises TokenError or
        TransportError."""
        if http.recording:
            return http.call(build(self.local_token))
        key = self.key(creds)

        def fetch() -> FetchedToken:
            return self.fetch(creds, http)

        token = TOKENS.get(key, fetch)
        reply = http.call(build(token))
        if self.rejected(reply):
            TOKENS.invalidate(key, token)
            token = TOKENS.get(key, fetch)
            reply = http.call(build(token))
        return reply


def _is_condition_failure(exc: ClientError) -> bool:
    return bool(exc.response.get("Error", {}).get("Code") == "ConditionalCheckFailedException")


class TokenCache:
    """Two-level token cache with a DynamoDB lease around refreshes.

    ``refresh_margin``: refresh when less than this is left, so a send never carries a token that
    expires in flight. ``lease_seconds``: how long a refresher owns the refresh; longer than one
    fetch (HTTP timeout included), so a crashed refresher only blocks others that long.
    ``wait_seconds``: how long a caller without a usable token waits for another's refresh before
    giving up with a retryable error (the message goes back to its queue).
    """

    def __init__(
        self,
        *,
        refresh_margin: float = 300.0,
        lease_seconds: float = 15.0,
        wait_seconds: float = 5.0,
        poll_seconds: float = 0.2,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.refresh_margin = refresh_margin
        self.lease_seconds = lease_seconds
        self.wait_seconds = wait_seconds
        self.poll_seconds = poll_seconds
        self.clock = clock
        self.sleep = sleep
        self._memory: dict[str, _Entry] = {}

    # ---- public --------------------------------------------------------------------------------
    def get(self, key: str, fetch: Callable[[], FetchedToken]) -> str:
        """A token with more than ``refresh_margin`` left, refreshing it (once across all
        instances) through ``fetch`` when needed. Raises TokenError."""
        cached = self._memory.get(key)
        if cached is not None and cached.usable(self.clock(), self.refresh_margin):
            return cached.value
        deadline = self.clock() + self.wait_seconds
        while True:
            shared = self._load(key)
            now = self.clock()
            if shared is not None and shared.usable(now, self.refresh_margin):
                self._memory[key] = shared
                return shared.value
            owner = self._take_lease(key, now)
            if owner is not None:
                return self._refresh(key, fetch, owner)
            if shared is not None and shared.usable(now):
                # Another instance is refreshing; the current token is still valid meanwhile.
                # Not kept in memory, so the next call picks up the refreshed one.
                return shared.value
            if now >= deadline:
                raise TokenError("access token refresh in progress elsewhere", retryable=True)
            self.sleep(self.poll_seconds)

    def invalidate(self, key: str, token: str) -> None:
        """The platform rejected ``token``: forget it here and in the shared copy, unless another
        instance has already replaced it (then its newer token stays)."""
        cached = self._memory.get(key)
        if cached is not None and cached.value == token:
            del self._memory[key]
        try:
            self._ddb().update_item(
                TableName=self._table(),
                Key={"key": {"S": key}},
                UpdateExpression="SET token_expires_at = :zero",
                ConditionExpression="#t = :bad",
                ExpressionAttributeNames={"#t": "token"},
                ExpressionAttributeValues={":zero": {"N": "0"}, ":bad": {"S": token}},
            )
        except ClientError as exc:
            if not _is_condition_failure(exc):
                raise TokenError(f"token store: {exc}", retryable=True) from exc
        except BotoCoreError as exc:
            raise TokenError(f"token store: {exc}", retryable=True) from exc

    def reset(self) -> None:
        """Forget this instance's memory (tests; the shared copy is untouched)."""
        self._memory.clear()

    # ---- DynamoDB ------------------------------------------------------------------------------
    @staticmethod
    def _ddb() -> Any:
        return client("dynamodb")

    @staticmethod
    def _table() -> str:
        return settings().table(STATE_TABLE)

    def _load(self, key: str) -> _Entry | None:
        try:
            item = (
                self._ddb()
                .get_item(TableName=self._table(), Key={"key": {"S": key}}, ConsistentRead=True)
                .get("Item")
            )
        except (ClientError, BotoCoreError) as exc:
            raise TokenError(f"token store: {exc}", retryable=True) from exc
        if not item or "token" not in item:
            return None
        return _Entry(item["token"]["S"], float(item.get("token_expires_at", {}).get("N", "0")))

    def _take_lease(self, key: str, now: float) -> str | None:
        """Become the one refresher, or None if another instance holds a live lease or the shared
        token was refreshed since we looked (the condition re-checks both atomically)."""
        owner = uuid.uuid4().hex
        try:
            self._ddb().update_item(
                TableName=self._table(),
                Key={"key": {"S": key}},
                UpdateExpression=(
                    "SET lease_owner = :me, lease_until = :until,"
                    " expires_at = if_not_exists(expires_at, :ttl)"
                ),
                ConditionExpression=(
                    "(attribute_not_exists(lease_until) OR lease_until < :now)"
                    " AND (attribute_not_exists(token_expires_at) OR token_expires_at < :stale)"
                ),
                ExpressionAttributeValues={
                    ":me": {"S": owner},
                    ":until": {"N": _num(now + self.lease_seconds)},
                    ":ttl": {"N": _num(now + TTL_SLACK_SECONDS)},
                    ":now": {"N": _num(now)},
                    ":stale": {"N": _num(now + self.refresh_margin)},
                },
            )
        except ClientError as exc:
            if _is_condition_failure(exc):
                return None
            raise TokenError(f"token store: {exc}", retryable=True) from exc
        except BotoCoreError as exc:
            raise TokenError(f"token store: {exc}", retryable=True) from exc
        return owner

    def _refresh(self, key: str, fetch: Callable[[], FetchedToken], owner: str) -> str:
        started = self.clock()
        try:
            fetched = fetch()
        except BaseException:
            self._release(key, owner)  # let the next caller try at once instead of after the lease
            raise
        entry = _Entry(fetched.value, started + fetched.expires_in)
        try:
            self._ddb().update_item(
                TableName=self._table(),
                Key={"key": {"S": key}},
                UpdateExpression=(
                    "SET #t = :t, token_expires_at = :exp, expires_at = :ttl REMOVE lease_owner, lease_until"
                ),
                ConditionExpression="lease_owner = :me",
                ExpressionAttributeNames={"#t": "token"},
                ExpressionAttributeValues={
                    ":t": {"S": entry.value},
                    ":exp": {"N": _num(entry.expires_at)},
                    ":ttl": {"N": _num(entry.expires_at + TTL_SLACK_SECONDS)},
                    ":me": {"S": owner},
                },
            )
        except ClientError as exc:
            if not _is_condition_failure(exc):
                raise TokenError(f"token store: {exc}", retryable=True) from exc
            # Our lease ran out and another instance took over: its token wins in the store. Ours
            # is still valid for this one call (the platform's grace period), just not shared.
            logger.warning("token lease lost during refresh", extra={"token_key": key})
            return entry.value
        except BotoCoreError as exc:
            raise TokenError(f"token store: {exc}", retryable=True) from exc
        self._memory[key] = entry
        return entry.value

    def _release(self, key: str, owner: str) -> None:
        try:
            self._ddb().update_item(
                TableName=self._table(),
                Key={"key": {"S": key}},
                UpdateExpression="REMOVE lease_owner, lease_until",
                ConditionExpression="lease_owner = :me",
                ExpressionAttributeValues={":me": {"S": owner}},
            )
        except (ClientError, BotoCoreError):
            logger.warning("token lease not released", extra={"token_key": key})


def _num(value: float) -> str:
    return f"{value:.3f}"


#: The process-wide cache every channel uses (one per Lambda instance).
TOKENS = TokenCache()


def reset() -> None:
    """Forget tokens held in memory (tests reset between moto states)."""
    TOKENS.reset()
