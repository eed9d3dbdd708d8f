"""Amazon SNS HTTPS deliveries: parse the envelope, prove it came from SNS, confirm subscriptions.

Sits in front of every channel that AWS hands us through an SNS topic (today: inbound e-mail,
SES → SNS → ``/webhooks/email``). SNS signs each delivery with an RSA key whose certificate it
publishes on ``https://sns.<region>.amazonaws.com/…``; we check that signature, that the message
belongs to *our* topic (anyone can subscribe our URL to *their* topic) and that it is fresh
(a captured delivery must not be replayable forever).

Import cost matters here: this module is on the email webhook's cold start. ``cryptography`` is
imported only when a signature is checked, and the certificate is fetched with ``urllib`` (not
``requests``) and kept in memory per URL for the life of the Lambda instance.

Local stack only: the bundled SNS simulator cannot use an AWS key, so it signs with a self-signed
certificate and ``OMNIFLOW_SNS_CERT_FILE`` (``settings().sns_cert_file``) names a JSON file
``{cert_url: pem}`` consulted before the network. Never set it in a deployed stage: whoever can
write that file decides which signatures are genuine.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from datetime import timedelta
from typing import TYPE_CHECKING
from typing import Any
from urllib.parse import urlsplit

from chalicelib.channels.base import BadRequest
from chalicelib.channels.base import Forbidden
from chalicelib.config import settings
from chalicelib.observability import logger

if TYPE_CHECKING:
    from cryptography.x509 import Certificate

#: SNS's own hosts; certificates and subscription URLs anywhere else are forgeries.
SNS_HOST = re.compile(r"^sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
#: older deliveries are refused: SNS retries for at most about an hour with default policies.
MAX_AGE = timedelta(hours=1)
FETCH_TIMEOUT_SECONDS = 5.0
_CERT_CACHE_SIZE = 16

NOTIFICATION = "Notification"
SUBSCRIPTION_CONFIRMATION = "SubscriptionConfirmation"
UNSUBSCRIBE_CONFIRMATION = "UnsubscribeConfirmation"

# Fields covered by the signature, in the (alphabetical) order SNS signs them.
_CONFIRMATION_FIELDS = ("Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type")
_SIGNED_FIELDS: dict[str, tuple[str, ...]] = {
    NOTIFICATION: ("Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"),
    SUBSCRIPTION_CONFIRMATION: _CONFIRMATION_FIELDS,
    UNSUBSCRIBE_CONFIRMATION: _CONFIRMATION_FIELDS,
}
_OPTIONAL_FIELDS = frozenset({"Subject"})
_ENVELOPE_FIELDS = ("SignatureVersion", "Signature", "SigningCertURL")

_certificates: dict[str, Certificate] = {}


class SnsUnavailable(Exception):
    """SNS could not be reached right now (certificate fetch, subscription confirmation).
    Not a WebhookError on purpose: the pipeline answers 503 and SNS delivers again later."""


def parse_envelope(body: bytes) -> dict[str, str]:
    """The SNS JSON envelope with every field its ``Type`` needs (400 if malformed)."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest("body is not valid JSON") from exc
    if not isinstance(data, dict):
        raise BadRequest("SNS envelope must be a JSON object")
    kind = data.get("Type")
    if kind not in _SIGNED_FIELDS:
        raise BadRequest(f"unsupported SNS message type {kind!r}")
    required = [f for f in (*_SIGNED_FIELDS[kind], *_ENVELOPE_FIELDS) if f not in _OPTIONAL_FIELDS]
    missing = [f for f in required if not isinstance(data.get(f), str) or (f != "Message" and not data[f])]
    if missing:
        raise BadRequest(f"SNS {kind} lacks {', '.join(missing)}")
    if "Subject" in data and not isinstance(data["Subject"], str):
        raise BadRequest("SNS Subject must be a string")
    return {k: v for k, v in data.items() if isinstance(v, str)}


def signing_string(envelope: Mapping[str, str]) -> bytes:
    """The canonical ``Key\\nValue\\n`` text SNS signs; absent optional keys are left out."""
    fields = _SIGNED_FIELDS[envelope["Type"]]
    return "".join(f"{k}\n{envelope[k]}\n" for k in fields if k in envelope).encode("utf-8")


def is_sns_url(url: str) -> bool:
    """True for ``https://sns.<region>.amazonaws.com[.cn]/…`` only (no userinfo, no other port)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # malformed netloc or port
        return False
    return (
        parts.scheme == "https"
        and parts.username is None
        and port in (None, 443)
        and SNS_HOST.fullmatch(parts.hostname or "") is not None
    )


def verify(envelope: Mapping[str, str], *, topic_arn: str, now: datetime | None = None) -> None:
    """Raise Forbidden unless ``envelope`` is a fresh, genuine SNS message from ``topic_arn``.

    The cheap checks (topic, age, certificate host) run first so a forged request costs us no
    certificate download.
    """
    if not topic_arn or envelope["TopicArn"] != topic_arn:
        raise Forbidden("SNS message is from a topic this account does not subscribe to")
    sent = _timestamp(envelope["Timestamp"])
    if (now or datetime.now(UTC)) - sent > MAX_AGE:
        raise Forbidden("SNS message is too old (replay?)")
    cert_url = envelope["SigningCertURL"]
    if not is_sns_url(cert_url):
        raise Forbidden("SNS signing certificate is not on an SNS host")
    hash_name = {"1": "sha1", "2": "sha256"}.get(envelope["SignatureVersion"])
    if hash_name is None:
        raise Forbidden(f"unsupported SNS SignatureVersion {envelope['SignatureVersion']!r}")
    try:
        signature = base64.b64decode(envelope["Signature"], validate=True)
    except (binascii.Error, ValueError) as exc:
        raise Forbidden("SNS signature is not base64") from exc
    if not _signature_matches(certificate(cert_url), signature, signing_string(envelope), hash_name):
        raise Forbidden("SNS signature does not match")


def confirm_subscription(envelope: Mapping[str, str]) -> None:
    """Accept a verified SubscriptionConfirmation by GETting its SubscribeURL.

    The local stack (``outbound_mode == "record"``) has no SNS to talk back to, so it only logs.
    """
    url = envelope["SubscribeURL"]
    if not is_sns_url(url):
        raise Forbidden("SubscribeURL is not on an SNS host")
    if settings().outbound_mode == "record":
        logger.info(
            "SNS subscription confirmation skipped (local stack)", extra={"topic": envelope["TopicArn"]}
        )
        return
    try:
        _http_get(url)
    except OSError as exc:
        raise SnsUnavailable(f"could not confirm subscription: {type(exc).__name__}") from exc
    logger.info("SNS subscription confirmed", extra={"topic": envelope["TopicArn"]})


def certificate(url: str) -> Certificate:
    """SNS's signing certificate for ``url``: memory, then the local cert file, then HTTPS."""
    cached = _certificates.get(url)
    if cached is not None:
        return cached
    from cryptography import x509

    pem = _local_pem(url)
    if pem is None:
        try:
            pem = _http_get(url)
        except OSError as exc:
            status = getattr(exc, "code", None)
            if isinstance(status, int) and 400 <= status < 500:
                raise Forbidden("SNS signing certificate not found") from exc
            raise SnsUnavailable(f"SNS certificate fetch failed: {type(exc).__name__}") from exc
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError as exc:
        raise Forbidden("SNS signing certificate is not a PEM certificate") from exc
    now = datetime.now(UTC)
    if not cert.not_valid_before_utc <= now <= cert.not_valid_after_utc:
        raise Forbidden("SNS signing certificate is not currently valid")
    if len(_certificates) >= _CERT_CACHE_SIZE:
        _certificates.pop(next(iter(_certificates)))
    _certificates[url] = cert
    return cert


def reset_cache() -> None:
    """Forget fetched certificates (tests swap keys between cases)."""
    _certificates.clear()


def _signature_matches(cert: Certificate, signature: bytes, data: bytes, hash_name: str) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = cert.public_key()
    if not isinstance(key, rsa.RSAPublicKey):
        return False
    algorithm = hashes.SHA1() if hash_name == "sha1" else hashes.SHA256()  # noqa: S303 — SNS v1 is SHA1withRSA
    try:
        key.verify(signature, data, padding.PKCS1v15(), algorithm)
    except InvalidSignature:
        return False
    return True


def _timestamp(value: str) -> datetime:
    try:
        ts = datetime.fromisoformat(value)
    except ValueError as exc:
        raise BadRequest("SNS Timestamp is not ISO-8601") from exc
    return ts if ts.tzinfo else ts.replace(tzinfo=UTC)


def _local_pem(url: str) -> bytes | None:
    path = settings().sns_cert_file
    if not path:
        return None
    try:
        with open(path, encoding="utf-8") as f:
            table: Any = json.load(f)
    except (OSError, ValueError):
        logger.warning("OMNIFLOW_SNS_CERT_FILE is unreadable; falling back to the network")
        return None
    pem = table.get(url) if isinstance(table, dict) else None
    return pem.encode() if isinstance(pem, str) else None


def _http_get(url: str) -> bytes:
    """GET an SNS URL (already checked to be https on an SNS host). Raises OSError on failure."""
    from urllib.request import urlopen

    with urlopen(url, timeout=FETCH_TIMEOUT_SECONDS) as reply:  # noqa: S310 — scheme/host checked by callers
        body: bytes = reply.read()
    return body
