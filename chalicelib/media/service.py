"""Files customers sent, opened by agents.

Platforms give media as handles that expire or need the account's credentials (WhatsApp media ids,
Telegram file ids, LINE message ids, WeChat/WeCom media ids; Messenger/Instagram CDN URLs). The
first agent to open an attachment has the channel's adapter download it (``fetch_media``) and the
file is copied into the media bucket under ``media/<conversation_id>/<seq>/<index>``; from then on
every agent gets a short-lived presigned GET of that copy and the platform is not called again.

Why a presigned URL rather than the bytes through the API: a Lambda answer is capped at 6 MB
(4.5 MB of binary once base64-encoded), well under a 20 MB video, and the API is JSON-only
(``app.api.binary_types`` empty); S3 serves ranges, caching and any size, locally (moto's server)
and on AWS alike. The browser needs the bucket's origin in the console's CSP (``origin()``).

Reads: one S3 HeadObject when the copy exists, else one GetItem (the message) + the platform +
one conditional PutObject (``If-None-Match: *``: two first openings racing store one copy).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import quote, urlsplit

from botocore.config import Config
from botocore.exceptions import ClientError
from pynamodb.exceptions import DoesNotExist

from chalicelib import channels
from chalicelib.aws import client, session
from chalicelib.channels.base import WebhookError
from chalicelib.channels.credentials import account_credentials
from chalicelib.channels.transport import Media, MediaUnavailable, transport_for
from chalicelib.config import settings
from chalicelib.conversations.models import Message
from chalicelib.errors import Invalid, NotFound
from chalicelib.messages import Attachment
from chalicelib.observability import logger

LINK_SECONDS = 300  # how long a presigned link works: enough to load, too short to share usefully
_ALREADY_STORED = frozenset({"PreconditionFailed", "ConditionalRequestConflict", "412"})
_MISSING = frozenset({"404", "NoSuchKey", "NotFound"})


@dataclass(frozen=True)
class Link:
    """Where an agent's browser loads an attachment from."""

    url: str
    content_type: str
    content_disposition: str
    expires_in: int = LINK_SECONDS

    def to_json(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "content_type": self.content_type,
            "content_disposition": self.content_disposition,
            "expires_in": self.expires_in,
        }


def media_key(conversation_id: str, seq: int, index: int) -> str:
    return f"media/{conversation_id}/{seq}/{index}"


def position(value: str, what: str) -> int:
    """A path segment that must be a non-negative integer (400 otherwise)."""
    if not value.isdigit() or len(value) > 12:
        raise Invalid(f"{what} must be a non-negative integer")
    return int(value)


def disposition(media: Media, fallback_name: str) -> str:
    """``inline`` for what browsers may show, ``attachment`` (a download) for anything else; the
    file name RFC 6266-encoded, so any script or quote in it stays inert."""
    name = (media.name or fallback_name).replace("/", "_").replace("\\", "_")[:200]
    return f"{'inline' if media.inline else 'attachment'}; filename*=UTF-8''{quote(name, safe='')}"


def open_attachment(conversation_id: str, seq: int, index: int) -> Link:
    """A short-lived link to attachment ``index`` of message ``seq``, copied from the platform on
    first use. Raises KeyError (no such message or attachment) or MediaUnavailable."""
    key = media_key(conversation_id, seq, index)
    stored = _head(key)
    if stored is None:
        message, attachment = attachment_of(conversation_id, seq, index)
        media = fetch(message, attachment)
        stored = (media.content_type, disposition(media, f"{attachment.kind}-{seq}-{index}"))
        _put(key, media, stored[1])
    return Link(_presign(key), *stored)


def attachment_of(conversation_id: str, seq: int, index: int) -> tuple[Message, Attachment]:
    try:
        message = Message.get(conversation_id, seq)
    except DoesNotExist as exc:
        raise NotFound("message") from exc
    items = message.attachments if isinstance(message.attachments, list) else []
    if index >= len(items) or not isinstance(items[index], dict):
        raise NotFound("attachment")
    return message, Attachment.model_validate(items[index])


def fetch(message: Message, attachment: Attachment) -> Media:
    """The file from the platform, through the message's channel and account."""
    channel, account = message.channel or "", message.account or "default"
    try:
        adapter = channels.get(channel)
        creds = account_credentials(channel, account)
        http = transport_for(settings().outbound_mode, settings().stand_ins.get(channel))
        return adapter.fetch_media(creds, attachment, http)
    except WebhookError as exc:  # unknown channel or account: its configuration is gone
        raise MediaUnavailable(f"{channel} account {account!r} is not configured") from exc
    except MediaUnavailable as exc:
        logger.info("media unavailable", extra={"channel": channel, "reason": str(exc)})
        raise


def origin() -> str:
    """The scheme and host of the links (the console's CSP img-src/media-src must allow it)."""
    parts = urlsplit(_presign("media/origin"))
    return f"{parts.scheme}://{parts.netloc}"


# ---- S3 ----------------------------------------------------------------------------------------------
def _bucket() -> str:
    bucket = settings().media_bucket
    if not bucket:
        raise MediaUnavailable("no media bucket is configured (OMNIFLOW_MEDIA_BUCKET)")
    return bucket


def _head(key: str) -> tuple[str, str] | None:
    try:
        head = client("s3").head_object(Bucket=_bucket(), Key=key)
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code")) in _MISSING:
            return None
        raise
    return head.get("ContentType", "application/octet-stream"), head.get("ContentDisposition", "attachment")


def _put(key: str, media: Media, content_disposition: str) -> None:
    try:
        client("s3").put_object(
            Bucket=_bucket(),
            Key=key,
            Body=media.body,
            ContentType=media.content_type,
            ContentDisposition=content_disposition,
            IfNoneMatch="*",
        )
    except ClientError as exc:
        if str(exc.response.get("Error", {}).get("Code")) not in _ALREADY_STORED:
            raise
        # another agent's first opening stored it a moment ago: the same file, keep theirs


@cache
def _signer(region: str, endpoint_url: str | None) -> Any:
    """An S3 client that presigns with SigV4 (botocore's default for presigned S3 URLs is still
    SigV2, which buckets created since 2020 refuse), on the regional endpoint."""
    config = Config(signature_version="s3v4", s3={"addressing_style": "path" if endpoint_url else "virtual"})
    return session().client("s3", region_name=region, endpoint_url=endpoint_url, config=config)


def _presign(key: str, seconds: int = LINK_SECONDS) -> str:
    s = settings()
    url: str = _signer(s.region, s.endpoint_url).generate_presigned_url(
        "get_object", Params={"Bucket": _bucket(), "Key": key}, ExpiresIn=seconds
    )
    return url


def store_private(key: str, body: bytes, content_type: str) -> None:
    """Put a private object in the media bucket (a customer's export: ``exports/<customer_id>/…``)."""
    client("s3").put_object(Bucket=_bucket(), Key=key, Body=body, ContentType=content_type)


def presign(key: str, seconds: int = LINK_SECONDS) -> str:
    """A short-lived GET link to an object of the media bucket."""
    return _presign(key, seconds)
