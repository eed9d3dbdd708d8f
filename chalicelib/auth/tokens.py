"""Omniflow's own access tokens for machine clients: short-lived RS256 JWTs signed by a
:class:`Signer` — a KMS asymmetric key in AWS (``OMNIFLOW_TOKEN_KEY_ID``, the private key never
leaves KMS), or, on the local stack and in tests (no key configured), an RSA key kept in Secrets
Manager (``omniflow/<stage>/api-token-key``, created on first use). Either way no key is in code or
configuration files."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
import time
from typing import Any, Protocol

from chalicelib.auth.principal import AuthError
from chalicelib.aws import client
from chalicelib.config import settings

TOKEN_SECONDS = 900
AUDIENCE = "omniflow-api"


def issuer() -> str:
    return f"omniflow/{settings().stage}/api-clients"


class Signer(Protocol):
    kid: str

    def sign(self, signing_input: bytes) -> bytes:
        """The RS256 (RSASSA-PKCS1-v1_5, SHA-256) signature of ``signing_input``."""
        ...

    def public_key(self) -> Any:
        """The public key (a ``cryptography`` RSA public key) that verifies it."""
        ...


def _kid(public_der: bytes) -> str:
    return hashlib.sha256(public_der).hexdigest()[:16]


class KmsSigner:
    """The private key stays in KMS (``KeySpec RSA_2048``, ``KeyUsage SIGN_VERIFY``)."""

    def __init__(self, key_id: str) -> None:
        from cryptography.hazmat.primitives.serialization import load_der_public_key

        self.key_id = key_id
        der = client("kms").get_public_key(KeyId=key_id)["PublicKey"]
        self._public = load_der_public_key(der)
        self.kid = _kid(der)

    def sign(self, signing_input: bytes) -> bytes:
        answer = client("kms").sign(
            KeyId=self.key_id,
            Message=signing_input,  # RAW: KMS hashes it (a JWT's signing input is far below 4 KB)
            MessageType="RAW",
            SigningAlgorithm="RSASSA_PKCS1_V1_5_SHA_256",
        )
        return bytes(answer["Signature"])

    def public_key(self) -> Any:
        return self._public


class LocalSigner:
    """An RSA key in Secrets Manager, for the local stack and tests (moto has no KMS-backed
    client-credentials endpoint to imitate)."""

    def __init__(self) -> None:
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        sm, name = client("secretsmanager"), f"omniflow/{settings().stage}/api-token-key"
        try:
            pem = sm.get_secret_value(SecretId=name)["SecretString"].encode()
        except sm.exceptions.ResourceNotFoundException:
            key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            pem = key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
            try:
                sm.create_secret(Name=name, SecretString=pem.decode())
            except sm.exceptions.ResourceExistsException:  # another instance won: use theirs
                pem = sm.get_secret_value(SecretId=name)["SecretString"].encode()
        self._key: Any = serialization.load_pem_private_key(pem, password=None)
        der = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.kid = _kid(der)

    def sign(self, signing_input: bytes) -> bytes:
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding

        return bytes(self._key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256()))

    def public_key(self) -> Any:
        return self._key.public_key()


_signer: Signer | None = None
_lock = threading.Lock()


def signer() -> Signer:
    """The configured signer, built once per instance."""
    global _signer
    with _lock:
        if _signer is None:
            key_id = settings().token_key_id
            _signer = KmsSigner(key_id) if key_id else LocalSigner()
        return _signer


def reset() -> None:
    """Forget the signer (tests: each moto starts empty)."""
    global _signer
    with _lock:
        _signer = None


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def issue(client_id: str, scopes: list[str], seconds: int = TOKEN_SECONDS) -> str:
    """A signed access token for ``client_id`` carrying ``scopes``."""
    s = signer()
    now = int(time.time())
    header = {"alg": "RS256", "typ": "JWT", "kid": s.kid}
    claims = {
        "iss": issuer(),
        "aud": AUDIENCE,
        "sub": client_id,
        "scope": " ".join(sorted(scopes)),
        "token_use": "client",
        "iat": now,
        "exp": now + seconds,
        "jti": base64.urlsafe_b64encode(hashlib.sha256(f"{client_id}{time.time_ns()}".encode()).digest()[:12])
        .decode()
        .rstrip("="),
    }
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}".encode()
    return f"{signing_input.decode()}.{_b64(s.sign(signing_input))}"


def is_client_token(token: str) -> bool:
    """Whether ``token`` claims to be ours (its issuer; the signature is checked by :func:`verify`)."""
    import jwt

    try:
        return bool(jwt.decode(token, options={"verify_signature": False}).get("iss") == issuer())
    except jwt.PyJWTError:
        return False


def verify(token: str) -> dict[str, Any]:
    """The claims of a valid client token: RS256 by our key, issuer, audience, expiry, use."""
    import jwt

    s = signer()
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != "RS256" or header.get("kid") != s.kid:
            raise AuthError("unknown signing key")
        claims: dict[str, Any] = jwt.decode(
            token,
            s.public_key(),
            algorithms=["RS256"],
            audience=AUDIENCE,
            issuer=issuer(),
            options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            leeway=5,
        )
    except jwt.PyJWTError as exc:
        raise AuthError(f"invalid token: {type(exc).__name__}") from exc
    if claims.get("token_use") != "client":
        raise AuthError("a client token is required")
    return claims
