"""HTTP for channels' send APIs.

``LiveTransport`` talks to the platform (tests assert its requests with ``responses``).
``RecordingTransport`` is the local stack's: the platforms cannot be reached from a laptop, so it
keeps the exact request that would have gone out and answers ``recorded=True``; adapters then
report ``sent_local`` and the console shows "sent (local)" with the request.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from dataclasses import field
from typing import Any
from typing import Protocol

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


class TransportError(Exception):
    """Network failure talking to a platform: the send is retried from the queue."""


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
            )
        except requests.RequestException as exc:
            raise TransportError(f"{req.method} {req.url.split('?')[0]}: {type(exc).__name__}") from exc
        return HttpReply(r.status_code, r.content, dict(r.headers))


class RecordingTransport:
    recording = True

    def __init__(self) -> None:
        self.calls: list[HttpCall] = []

    def call(self, req: HttpCall) -> HttpReply:
        self.calls.append(req)
        return HttpReply(200, b"", {}, recorded=True)


def transport_for(mode: str) -> Transport:
    return RecordingTransport() if mode == "record" else LiveTransport()
