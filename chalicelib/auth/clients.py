"""Machine clients of the API (C15): an admin creates one (name, scopes, rate limit) and sees its
secret once (only its hash is kept); the client exchanges it for a short-lived token
(``tokens.issue``, OAuth 2 client credentials) and calls the same routes as people, limited to the
routes that declare one of its scopes. Each request costs one GetItem (enabled? scopes? tokens
left?) and one conditional UpdateItem (the token bucket), so disabling a client or narrowing its
scopes takes effect on its next request, not when its token expires."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets as random
import time
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib import errors
from chalicelib.auth import tokens
from chalicelib.auth.bodies import SCOPES
from chalicelib.auth.models import ApiClient
from chalicelib.auth.principal import AuthError, Forbidden, Principal
from chalicelib.messages import iso, utcnow
from chalicelib.observability import logger

CLIENT_ROLE = "supervisor"  # what a client sees inside the routes its scopes open (every group)
BUCKET_RETRIES = 5


class InvalidClient(errors.Unauthorized):
    """Unknown client, wrong secret or a disabled client at the token endpoint (OAuth 2)."""

    code = "invalid_client"


class InvalidScope(errors.Invalid):
    """A token request asked for a scope the client does not hold (OAuth 2)."""

    code = "invalid_scope"


class RateLimited(errors.TooManyRequests):
    """The client used its requests for now; ``retry_after`` (seconds) says when one is free."""


def now_ms() -> int:
    """Milliseconds since the epoch (tests move it)."""
    return int(time.time() * 1000)


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _view(c: ApiClient) -> dict[str, Any]:
    return {
        "client_id": c.client_id,
        "name": c.name,
        "scopes": sorted(c.scopes or ()),
        "rate_limit": int(c.rate_limit),
        "enabled": bool(c.enabled),
        "created_at": c.created_at,
        "created_by": c.created_by,
        "secret_rotated_at": c.secret_rotated_at,
    }


def get(client_id: str) -> ApiClient:
    try:
        return ApiClient.get(client_id, consistent_read=True)
    except ApiClient.DoesNotExist as exc:
        raise errors.NotFound(f"API client {client_id}") from exc


def create(name: str, scopes: list[str], rate_limit: int, actor: str) -> dict[str, Any]:
    """Save a client; the answer carries its secret, shown only here."""
    client_id, secret = f"cli_{random.token_hex(8)}", f"ofs_{random.token_urlsafe(32)}"
    c = ApiClient(
        client_id,
        name=name,
        scopes=set(scopes),
        rate_limit=rate_limit,
        secret_hash=_hash(secret),
        created_at=iso(utcnow()),
        created_by=actor,
        tokens=rate_limit,
        refilled_ms=now_ms(),
    )
    c.save(condition=ApiClient.client_id.does_not_exist())
    logger.info("api client created", extra={"client_id": client_id, "by": actor})
    return {**_view(c), "client_secret": secret}


def list_clients() -> dict[str, Any]:
    """Every client, newest first (one Query of the ``by_kind`` index)."""
    found = ApiClient.by_kind.query("client", scan_index_forward=False)
    return {"items": [_view(c) for c in found]}


def set_enabled(client_id: str, enabled: bool, actor: str) -> dict[str, Any]:
    c = get(client_id)
    c.update(actions=[ApiClient.enabled.set(enabled)])
    logger.info(
        "api client " + ("enabled" if enabled else "disabled"), extra={"client_id": client_id, "by": actor}
    )
    return _view(c)


def rotate(client_id: str, actor: str) -> dict[str, Any]:
    """A new secret; the old one stops working at once (tokens already issued run out within
    ``tokens.TOKEN_SECONDS``)."""
    c = get(client_id)
    secret = f"ofs_{random.token_urlsafe(32)}"
    c.update(
        actions=[ApiClient.secret_hash.set(_hash(secret)), ApiClient.secret_rotated_at.set(iso(utcnow()))]
    )
    logger.info("api client secret rotated", extra={"client_id": client_id, "by": actor})
    return {**_view(c), "client_secret": secret}


def exchange(client_id: str | None, secret: str | None, scope: str | None = None) -> dict[str, Any]:
    """OAuth 2 client credentials: the client's id and secret → an access token."""
    if not client_id or not secret:
        raise InvalidClient("client_id and client_secret are required")
    try:
        c = ApiClient.get(client_id)
    except ApiClient.DoesNotExist as exc:
        raise InvalidClient("unknown client or wrong secret") from exc
    if not hmac.compare_digest(c.secret_hash, _hash(secret)):
        raise InvalidClient("unknown client or wrong secret")
    if not c.enabled:
        raise InvalidClient("this client is disabled")
    held = set(c.scopes or ())
    asked = set(scope.split()) if scope else held
    if not asked <= held:
        raise InvalidScope(f"not granted: {' '.join(sorted(asked - held))}")
    return {
        "access_token": tokens.issue(client_id, sorted(asked)),
        "token_type": "Bearer",
        "expires_in": tokens.TOKEN_SECONDS,
        "scope": " ".join(sorted(asked)),
    }


def take(c: ApiClient) -> None:
    """Take one token from the client's bucket (capacity ``rate_limit``, refilled at
    ``rate_limit`` per minute), or raise :class:`RateLimited` with the seconds until one is free.
    The write is conditional on the bucket being as read, so concurrent requests never spend the
    same token; a lost race reads again."""
    for _ in range(BUCKET_RETRIES):
        capacity, at = float(c.rate_limit), now_ms()
        per_ms = capacity / 60000.0
        last = int(c.refilled_ms) if c.refilled_ms is not None else at
        held = capacity if c.tokens is None else float(c.tokens)
        available = min(capacity, held + max(0, at - last) * per_ms)
        if available < 1.0:
            raise RateLimited(
                "rate limit reached",
                details={"retry_after": max(1, math.ceil((1.0 - available) / per_ms / 1000))},
            )
        condition = (  # the bucket exactly as read: a concurrent take changed its tokens, if not its time
            ApiClient.tokens.does_not_exist()
            if c.tokens is None
            else (ApiClient.tokens == c.tokens) & (ApiClient.refilled_ms == last)
        )
        try:
            c.update(
                actions=[ApiClient.tokens.set(available - 1.0), ApiClient.refilled_ms.set(max(at, last))],
                condition=condition,
            )
            return
        except UpdateError as exc:
            if exc.cause_response_code != "ConditionalCheckFailedException":
                raise
            c = get(c.client_id)
    raise RateLimited("rate limit reached", details={"retry_after": 1})


def authenticate(token: str, scope: str | None) -> Principal:
    """A client's request: a valid token, a route open to clients (``scope``) that both the token
    and the client's current configuration grant, an enabled client, a token left in its bucket."""
    claims = tokens.verify(token)
    if scope is None:
        raise Forbidden("this route is not open to API clients")
    if scope not in set(str(claims.get("scope", "")).split()):
        raise Forbidden(f"requires scope {scope}")
    try:
        c = ApiClient.get(str(claims["sub"]), consistent_read=True)
    except ApiClient.DoesNotExist as exc:
        raise AuthError("unknown client") from exc
    if not c.enabled:
        raise AuthError("this client is disabled")
    if scope not in (c.scopes or ()):
        raise Forbidden(f"requires scope {scope}")
    take(c)
    return Principal(
        agent_id=f"client:{c.client_id}",
        role=CLIENT_ROLE,
        groups=frozenset(),
        client_id=c.client_id,
        scopes=frozenset(c.scopes or ()) & SCOPES,
    )
