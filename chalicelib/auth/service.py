"""Login through Cognito; verify ID tokens; roles from the ``cognito:groups`` claim.

Roles are ordered: an admin may do what a supervisor may, a supervisor what an agent may.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from chalicelib.auth.principal import RANKS, AuthError, Forbidden, Principal
from chalicelib.aws import client
from chalicelib.config import settings

JWKS_MAX_AGE = 3600
JWKS_MIN_REFRESH = 30  # an unknown key id triggers at most one JWKS fetch per 30 s


def role_of(groups: list[str] | tuple[str, ...]) -> str | None:
    """The highest role among Cognito groups. Pure."""
    ranked = [g for g in groups if g in RANKS]
    return max(ranked, key=RANKS.__getitem__) if ranked else None


class _Jwks:
    def __init__(self) -> None:
        self._keys: dict[str, Any] = {}
        self._fetched = 0.0
        self._lock = threading.Lock()

    def key(self, kid: str) -> Any:
        now = time.monotonic()
        if kid not in self._keys or now - self._fetched > JWKS_MAX_AGE:
            with self._lock:
                if (kid not in self._keys and now - self._fetched > JWKS_MIN_REFRESH) or (
                    now - self._fetched > JWKS_MAX_AGE
                ):
                    self._refresh()
        if kid not in self._keys:
            raise AuthError("unknown signing key")
        return self._keys[kid]

    def _refresh(self) -> None:
        import requests

        try:
            response = requests.get(settings().jwks_url, timeout=5)
            response.raise_for_status()
            keys = response.json()["keys"]
        except (requests.RequestException, ValueError, KeyError) as exc:
            raise AuthError("signing keys unavailable") from exc
        import jwt

        self._keys = {k["kid"]: jwt.PyJWK(k).key for k in keys}
        self._fetched = time.monotonic()

    def clear(self) -> None:
        self._keys, self._fetched = {}, 0.0


JWKS = _Jwks()


def verify(token: str) -> Principal:
    """Verify an ID token: RS256 signature by the pool's key, issuer, audience, expiry, use."""
    import jwt  # with cryptography: only the API needs it, not the queue consumers sharing app.py

    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise AuthError("malformed token") from exc
    if header.get("alg") != "RS256" or not header.get("kid"):
        raise AuthError("unexpected token algorithm")
    s = settings()
    try:
        claims = jwt.decode(
            token,
            JWKS.key(header["kid"]),
            algorithms=["RS256"],
            audience=s.user_pool_client_id,
            issuer=s.token_issuer,
            options={"require": ["exp", "iat", "iss", "aud", "token_use"]},
            leeway=5,
        )
    except jwt.PyJWTError as exc:
        raise AuthError(f"invalid token: {type(exc).__name__}") from exc
    if claims.get("token_use") != "id":
        raise AuthError("an ID token is required")
    groups = tuple(claims.get("cognito:groups") or ())
    role = role_of(groups)
    if role is None:
        raise Forbidden("no Omniflow role")
    return Principal(
        agent_id=str(claims.get("cognito:username") or claims["sub"]),
        role=role,
        groups=frozenset(groups),
        email=claims.get("email"),
    )


def authenticate(authorization: str | None, required_role: str, scope: str | None = None) -> Principal:
    """A person's Cognito token and ``required_role``, or an API client's token (``auth.clients``)
    and ``scope`` (routes without one are closed to clients)."""
    if not authorization or not authorization.lower().startswith("bearer "):
        raise AuthError("missing bearer token")
    token = authorization[7:].strip()
    from chalicelib.auth import tokens

    if tokens.is_client_token(token):
        from chalicelib.auth import clients

        return clients.authenticate(token, scope)
    principal = verify(token)
    if not principal.allows(required_role):
        raise Forbidden(f"requires role {required_role}")
    return principal


def login(username: str, password: str) -> dict[str, Any]:
    """Exchange a username and password for Cognito tokens."""
    idp = client("cognito-idp")
    try:
        result = idp.initiate_auth(
            ClientId=settings().user_pool_client_id,
            AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": password},
        )
    except (idp.exceptions.NotAuthorizedException, idp.exceptions.UserNotFoundException) as exc:
        raise AuthError("wrong username or password") from exc
    if "AuthenticationResult" not in result:
        raise AuthError(f"login needs a further step: {result.get('ChallengeName')}")
    tokens = result["AuthenticationResult"]
    principal = verify(tokens["IdToken"])
    return {
        "id_token": tokens["IdToken"],
        "access_token": tokens["AccessToken"],
        "refresh_token": tokens.get("RefreshToken"),
        "expires_in": tokens.get("ExpiresIn", 3600),
        "agent": {"agent_id": principal.agent_id, "role": principal.role, "email": principal.email},
    }
