"""HTTP for channels' send APIs.

``LiveTransport`` talks to the platform (tests assert its requests with ``responses``).
``RecordingTransport`` is the local stack's: the platforms cannot be reached from a laptop, so it
keeps the exact request that would have gone out and answers ``recorded=True``; adapters then
report ``sent_local`` and the console shows "sent (local)" with the request.
``StandInTransport`` is the local stack's for a platform it imitates (WeCom's kf API, whose
messages must be pulled: recording nothing would mean a WeCom customer never reaches an agent):
the calls go to the stand-in on this machine and its answers come back, still marked recorded.

``download_media`` is the tail every channel's ``fetch_media`` shares: the file a customer sent,
downloaded with a size cap (``HttpCall.max_bytes``, enforced while streaming) and served only as a
type a browser may show inline (images, audio, video, PDF, office documents); anything else is
``application/octet-stream`` offered as a download.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import Protocol

from chalicelib.errors import Conflict

SECRET_PARAMS = ("access_token", "secret", "corpsecret", "appsecret", "token")


@dataclass(frozen=True)
class HttpCall:
    method: str
    url: str
    params: dict[str, str] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    json: Any = None
    data: dict[str, str] | bytes | None = None
    auth: tuple[str, str] | None = None
    #: download cap: a body (or a Content-Length) above it raises ResponseTooLarge, unread
    max_bytes: int | None = None

    def redacted(self) -> dict[str, Any]:
        """The call as shown to agents and stored: secrets and auth replaced by ***."""
        params = {k: ("***" if k.lower() in SECRET_PARAMS else v) for k, v in (self.params or {}).items()}
        headers = {
            k: ("***" if k.lower() in {"authorization", "access-token"} else v)
            for k, v in self.headers.items()
        }
        body: Any = self.json if self.json is not None else self.data
        if isinstance(body, bytes):
            body = body.decode("utf-8", "replace")
        return {"method": self.method, "url": self.url, "params": params, "headers": headers, "body": body}


def json_post(
    url: str,
    payload: Any,
    *,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
    content_type: str = "application/json; charset=utf-8",
) -> HttpCall:
    """A POST of ``payload`` as UTF-8 JSON with non-ASCII text left as it is: WeChat-family APIs
    want Chinese unescaped, and ``requests``' ``json=`` would escape it."""
    return HttpCall(
        "POST",
        url,
        params=params,
        headers={"content-type": content_type, **(headers or {})},
        data=json.dumps(payload, ensure_ascii=False).encode("utf-8"),
    )


@dataclass(frozen=True)
class HttpReply:
    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    recorded: bool = False

    def json(self) -> Any:
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            return None

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300


class Transport(Protocol):
    recording: bool

    def call(self, req: HttpCall) -> HttpReply: ...


class TokenError(Exception):
    """No usable token. ``retryable`` says whether a later attempt may succeed (network, busy
    platform, refresh in progress elsewhere) or not (wrong app secret, IP not whitelisted)."""

    def __init__(self, message: str, *, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class TransportError(Exception):
    """Network failure talking to a platform: the send is retried from the queue."""


class ResponseTooLarge(TransportError):
    """The answer is larger than the call's ``max_bytes``: nothing more of it was read."""


class LiveTransport:
    recording = False

    def __init__(self, timeout: float = 10.0) -> None:
        import requests

        self._session = requests.Session()
        self._timeout = timeout

    def call(self, req: HttpCall) -> HttpReply:
        import requests

        try:
            r = self._session.request(
                req.method,
                req.url,
                params=req.params,
                headers=req.headers or None,
                json=req.json,
                data=req.data,
                auth=req.auth,
                timeout=self._timeout,
                stream=req.max_bytes is not None,
            )
            body = r.content if req.max_bytes is None else _capped(r, req.max_bytes)
        except requests.RequestException as exc:
            raise TransportError(f"{req.method} {req.url.split('?')[0]}: {type(exc).__name__}") from exc
        return HttpReply(r.status_code, body, dict(r.headers))


def _capped(r: Any, limit: int) -> bytes:
    """A streamed body, read only up to ``limit`` bytes (the declared length is checked first)."""
    with r:
        declared = r.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise ResponseTooLarge(f"{declared} bytes")
        chunks, size = [], 0
        for chunk in r.iter_content(chunk_size=256 * 1024):
            size += len(chunk)
            if size > limit:
                raise ResponseTooLarge(f"more than {limit} bytes")
            chunks.append(chunk)
        return b"".join(chunks)


class RecordingTransport:
    recording = True

    def __init__(self) -> None:
        self.calls: list[HttpCall] = []

    def call(self, req: HttpCall) -> HttpReply:
        self.calls.append(req)
        return HttpReply(200, b"", {}, recorded=True)


class StandInTransport:
    """Calls to a platform go to its local stand-in instead (``base`` replaces the URL's scheme and
    host, e.g. ``https://qyapi.weixin.qq.com/cgi-bin/kf/sync_msg`` → ``<base>/cgi-bin/kf/sync_msg``).
    ``recording`` is False, so access tokens are really fetched and pulls really made; answers are
    marked ``recorded`` because nothing left the machine (a reply is "sent (local)"), and the calls
    are kept like a RecordingTransport's, so the console shows the request."""

    recording = False

    def __init__(self, base: str, timeout: float = 10.0) -> None:
        self.base = base.rstrip("/")
        self.calls: list[HttpCall] = []
        self._live = LiveTransport(timeout=timeout)

    def call(self, req: HttpCall) -> HttpReply:
        from dataclasses import replace
        from urllib.parse import urlsplit

        self.calls.append(req)
        parts = urlsplit(req.url)
        target = self.base + parts.path + (f"?{parts.query}" if parts.query else "")
        reply = self._live.call(replace(req, url=target))
        return replace(reply, recorded=True)


def transport_for(mode: str, stand_in: str | None = None) -> Transport:
    """Live HTTP, or (``record``, the local stack) recorded calls — or calls to the platform's
    local stand-in when it has one (``Settings.stand_ins``)."""
    if mode != "record":
        return LiveTransport()
    return StandInTransport(stand_in) if stand_in else RecordingTransport()


# ================================================================================================
# Media: what customers sent, downloaded once for the agent
# ================================================================================================

MAX_MEDIA_BYTES = 20 * 1024 * 1024  # Telegram's Bot API download limit; WhatsApp images are 5 MB
OCTET_STREAM = "application/octet-stream"
#: Types shown inline in the console. No SVG or HTML: they can carry script.
_INLINE_PREFIXES = ("image/", "audio/", "video/")
_INLINE_EXCLUDED = frozenset({"image/svg+xml"})
#: What CDNs answer when they do not know the type: the webhook's ``mime_type`` is then used.
_GENERIC_TYPES = frozenset({"", OCTET_STREAM, "binary/octet-stream"})
_INLINE_DOCUMENTS = frozenset(
    {
        "application/pdf",
        "application/msword",
        "application/vnd.ms-excel",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "text/csv",
        "text/plain",
    }
)


@dataclass(frozen=True)
class Media:
    """A downloaded attachment. ``content_type`` is already restricted (``served_type``);
    ``inline`` says whether a browser may show it (else it is offered as a download)."""

    content_type: str
    body: bytes
    name: str | None = None

    @property
    def inline(self) -> bool:
        return self.content_type != OCTET_STREAM


class MediaUnavailable(Conflict):
    """The file cannot be had: the channel cannot fetch media, the platform refused or expired
    it, it is too large, the platform is unreachable, or (local stack) platforms are not called.
    The message is what the agent sees: never a token or a URL holding one."""

    code = "media_unavailable"


def served_type(content_type: str | None) -> str:
    """The type a file is served as: its own when it is an image, audio, video, PDF or office
    type, else ``application/octet-stream``."""
    base = (content_type or "").split(";", 1)[0].strip().lower()
    if base in _INLINE_DOCUMENTS or (base.startswith(_INLINE_PREFIXES) and base not in _INLINE_EXCLUDED):
        return base
    return OCTET_STREAM


def media_get(
    url: str, *, params: dict[str, str] | None = None, headers: dict[str, str] | None = None
) -> HttpCall:
    """A GET of a media file, capped at ``MAX_MEDIA_BYTES``."""
    return HttpCall("GET", url, params=params, headers=headers or {}, max_bytes=MAX_MEDIA_BYTES)


def header(reply: HttpReply, name: str) -> str:
    """A reply header by case-insensitive name ("" when absent)."""
    wanted = name.lower()
    return next((v for k, v in reply.headers.items() if k.lower() == wanted), "")


def download_media(
    attempt: Callable[[], HttpReply],
    *,
    platform: str,
    name: str | None = None,
    mime_type: str | None = None,
    refused: Callable[[HttpReply], str | None] | None = None,
) -> Media:
    """The tail every channel's ``fetch_media`` shares: make the platform call(s) in ``attempt``
    (the last one a ``media_get``), then turn the answer into ``Media`` or ``MediaUnavailable``:

    - the local stack recorded the call → "not available locally" (platforms are not called);
    - network failure, too large, no access token, non-2xx → unavailable, saying why (never the
      URL: Telegram's holds the bot token);
    - ``refused(reply)``: the platform's own refusal inside a 2xx (WeChat's JSON ``errcode``);
    - the type is ``served_type`` of the answer's Content-Type, or of ``mime_type`` (what the
      webhook said) when the answer gives none or a generic one.
    """
    try:
        reply = attempt()
    except ResponseTooLarge as exc:
        raise MediaUnavailable(f"larger than {MAX_MEDIA_BYTES // (1024 * 1024)} MB") from exc
    except TokenError as exc:
        raise MediaUnavailable(f"{platform} access token: {exc}") from exc
    except TransportError as exc:
        raise MediaUnavailable(f"{platform} unreachable ({type(exc.__cause__).__name__})") from exc
    if reply.recorded:
        raise MediaUnavailable(f"media not available locally: the local stack does not call {platform}")
    problem = refused(reply) if refused is not None else None
    if problem is None and not reply.ok:
        problem = f"{platform} answered HTTP {reply.status}"
    if problem is not None:
        raise MediaUnavailable(problem)
    if len(reply.body) > MAX_MEDIA_BYTES:  # a transport that does not stream (tests, recordings)
        raise MediaUnavailable(f"larger than {MAX_MEDIA_BYTES // (1024 * 1024)} MB")
    given = header(reply, "content-type")
    generic = given.split(";", 1)[0].strip().lower() in _GENERIC_TYPES
    return Media(served_type(mime_type if generic and mime_type else given), reply.body, name)
