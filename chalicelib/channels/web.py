"""Website chat: the visitor API the chat widget talks to.

    POST /webhooks/web[/<site>]/sessions   start or resume a visitor session → signed visitor token
    POST /webhooks/web[/<site>]/messages   the visitor writes (Authorization: Bearer <token>)
    GET  /webhooks/web[/<site>]/messages?after=<iso>   the visitor's thread, incl. agent replies
    GET  /webhooks/web[/<site>]/status     {"open", "next_open"}: business hours (the offline form)

The visitor token is an HMAC-SHA256-signed claim set (site, visitor id, verified hints, expiry)
under the site's ``visitor_secret``. The company's site may pass its logged-in user as
``identity`` signed with ``identity_secret`` (HMAC-SHA256 over the canonical JSON); only then do
user id, phone and e-mail count as verified and link this visitor to the customer's other channels.
Unsigned name/phone/e-mail from the pre-chat form are shown to agents but link nobody.

Web has no push API: a reply is "sent" by storing it in the visitor's mailbox (``mailbox = True``),
which the widget polls through GET messages.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
import uuid
from collections.abc import Iterable
from collections.abc import Mapping
from datetime import UTC
from datetime import datetime
from typing import Any

from chalicelib.channels.base import BadRequest
from chalicelib.channels.base import ChannelAdapter
from chalicelib.channels.base import Forbidden
from chalicelib.channels.base import MethodNotAllowed
from chalicelib.channels.base import NotFound
from chalicelib.channels.base import Response
from chalicelib.channels.base import Unauthorized
from chalicelib.channels.base import WebhookRequest
from chalicelib.channels.base import constant_time_equals
from chalicelib.messages import CustomerHints
from chalicelib.messages import InboundMessage
from chalicelib.messages import OutboundMessage
from chalicelib.messages import SendResult
from chalicelib.messages import utcnow

TOKEN_TTL_SECONDS = 30 * 24 * 3600
MAX_TEXT = 4000
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,255}$")
_PHONE = re.compile(r"^\+?[0-9 ()-]{5,20}$")
DEFAULT_CALENDAR = "cn-support"  # the demo's; set the account's ``calendar`` credential in production


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def canonical(data: Mapping[str, Any]) -> bytes:
    """The bytes both sides sign: compact JSON with sorted keys, UTF-8."""
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign_identity(identity: Mapping[str, Any], secret: str) -> str:
    """What the company's backend computes (documented for integrators; tests use plain hmac)."""
    return hmac.new(secret.encode(), canonical(identity), hashlib.sha256).hexdigest()


def issue_token(claims: Mapping[str, Any], secret: str) -> str:
    body = _b64(canonical(claims))
    sig = _b64(hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest())
    return f"{body}.{sig}"


def read_token(token: str, secret: str, site: str, now: float | None = None) -> dict[str, Any]:
    """Verify a visitor token; raise Unauthorized if forged, expired or for another site."""
    try:
        body, sig = token.split(".", 1)
        expected = _b64(hmac.new(secret.encode(), body.encode(), hashlib.sha256).digest())
        if not constant_time_equals(sig, expected):
            raise Unauthorized("bad visitor token")
        claims = json.loads(_unb64(body))
    except (ValueError, UnicodeDecodeError) as exc:
        raise Unauthorized("bad visitor token") from exc
    if not isinstance(claims, dict) or claims.get("site") != site:
        raise Unauthorized("visitor token is for another site")
    if float(claims.get("exp", 0)) < (now or time.time()):
        raise Unauthorized("visitor token expired")
    return claims


def _clean(value: Any, pattern: re.Pattern[str] | None = None, limit: int = 200) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str) or len(value) > limit or (pattern and not pattern.match(value.strip())):
        raise BadRequest("invalid visitor field")
    return value.strip()


def site_status(creds: Mapping[str, str], now: datetime | None = None) -> dict[str, Any]:
    """Whether the site's support desk is open now (the widget shows its offline form when not):
    ``{"open", "next_open", "calendar"}``. The calendar is the account's ``calendar`` credential,
    else ``DEFAULT_CALENDAR``; without such a calendar the desk counts as always open. The
    calendar code is imported here, not at module level, to keep the webhook's cold start light
    (one cached GetItem per instance every half minute)."""
    from chalicelib.calendars import service as calendars
    from chalicelib.calendars.hours import NeverOpen

    name = creds.get("calendar") or DEFAULT_CALENDAR
    try:
        calendar = calendars.get_calendar(name)
    except KeyError:
        return {"open": True, "next_open": None, "calendar": None}
    at = now or datetime.now(UTC)
    if calendar.is_open(at):
        return {"open": True, "next_open": None, "calendar": name}
    try:
        next_open: str | None = calendar.next_open(at).astimezone(UTC).isoformat()
    except NeverOpen:
        next_open = None
    return {"open": False, "next_open": next_open, "calendar": name}


class WebAdapter(ChannelAdapter):
    name = "web"
    credential_fields = ("visitor_secret", "identity_secret")
    mailbox = True
    endpoints = ("sessions", "messages", "status")

    def account_of(self, req: WebhookRequest) -> str:
        return req.path_parts[0] if len(req.path_parts) >= 2 else "default"

    @staticmethod
    def _action(req: WebhookRequest) -> str:
        return req.path_parts[-1] if req.path_parts else ""

    def _cors(self, req: WebhookRequest, creds: Mapping[str, str], response: Response) -> Response:
        allowed = [o.strip() for o in creds.get("allowed_origins", "").split(",") if o.strip()]
        origin = req.header("origin")
        if origin and ("*" in allowed or origin in allowed):
            response.headers.update(
                {
                    "access-control-allow-origin": origin,
                    "access-control-allow-headers": "authorization, content-type",
                    "access-control-allow-methods": "GET, POST, OPTIONS",
                    "access-control-max-age": "600",
                    "vary": "Origin",
                }
            )
        return response

    # ---- the visitor API -------------------------------------------------------------------------
    def route(self, req: WebhookRequest, creds: Mapping[str, str]) -> Response | None:
        action = self._action(req)
        if action not in self.endpoints:
            raise NotFound("no such web endpoint")
        if req.method == "OPTIONS":
            return self._cors(req, creds, Response(204, ""))
        if action == "status":
            if req.method != "GET":
                raise MethodNotAllowed("GET the status")
            return self._cors(req, creds, Response.json(site_status(creds)))
        if action == "sessions":
            if req.method != "POST":
                raise MethodNotAllowed("POST a session")
            return self._cors(req, creds, self._start_session(req, creds))
        if req.method == "GET":
            return self._cors(req, creds, self._thread(req, creds))
        if req.method != "POST":
            raise MethodNotAllowed("GET or POST messages")
        return None  # a visitor's message: the standard verify → parse → enqueue pipeline

    def _start_session(self, req: WebhookRequest, creds: Mapping[str, str]) -> Response:
        data = req.json() if req.body else {}
        if not isinstance(data, dict):
            raise BadRequest("session body must be a JSON object")
        site = self.account_of(req)
        previous = None
        auth = req.header("authorization")
        if auth.lower().startswith("bearer "):
            previous = read_token(auth[7:].strip(), creds["visitor_secret"], site)
        hints: dict[str, Any] = {
            "display_name": _clean(data.get("name"), limit=80),
            "phone": _clean(data.get("phone"), _PHONE, 20),
            "email": (_clean(data.get("email"), _EMAIL, 320) or "").lower() or None,
        }
        verified: list[str] = []
        identity = data.get("identity")
        if identity is not None:
            signature = data.get("identity_signature")
            if not isinstance(identity, dict) or not isinstance(signature, str):
                raise BadRequest("identity must be an object with identity_signature")
            if not constant_time_equals(signature, sign_identity(identity, creds["identity_secret"])):
                raise Forbidden("identity signature does not match")
            if float(identity.get("expires", 0)) < time.time():
                raise Forbidden("signed identity expired")
            hints["external_id"] = _clean(str(identity.get("user_id") or "") or None, limit=128)
            if hints["external_id"]:
                verified.append("external_id")
            for field, pattern in (("phone", _PHONE), ("email", _EMAIL)):
                value = _clean(identity.get(field), pattern, 320)
                if value:
                    hints[field] = value.lower() if field == "email" else value
                    verified.append(field)
            hints["display_name"] = _clean(identity.get("name"), limit=80) or hints["display_name"]
        visitor_id = previous["v"] if previous else f"v_{uuid.uuid4().hex}"
        exp = int(time.time()) + TOKEN_TTL_SECONDS
        claims = {
            "v": visitor_id,
            "site": site,
            "exp": exp,
            "h": {k: v for k, v in hints.items() if v},
            "vf": verified,
        }
        token = issue_token(claims, creds["visitor_secret"])
        return Response.json(
            {
                "token": token,
                "visitor_id": visitor_id,
                "expires_at": datetime.fromtimestamp(exp, UTC).isoformat(),
                "verified": verified,
            },
            201,
        )

    def _claims(self, req: WebhookRequest, creds: Mapping[str, str]) -> dict[str, Any]:
        auth = req.header("authorization")
        if not auth.lower().startswith("bearer "):
            raise Unauthorized("missing visitor token")
        return read_token(auth[7:].strip(), creds["visitor_secret"], self.account_of(req))

    def _thread(self, req: WebhookRequest, creds: Mapping[str, str]) -> Response:
        from chalicelib.channels import mailbox

        claims = self._claims(req, creds)
        messages = mailbox.thread(self.name, claims["site"], claims["v"], req.query.get("after"))
        return Response.json({"messages": messages})

    # ---- the standard pipeline for POST messages ------------------------------------------------
    def verify(self, req: WebhookRequest, creds: Mapping[str, str]) -> None:
        self._claims(req, creds)

    def parse(self, req: WebhookRequest, creds: Mapping[str, str]) -> Iterable[InboundMessage]:
        claims = self._claims(req, creds)
        data = req.json()
        if not isinstance(data, dict):
            raise BadRequest("message body must be a JSON object")
        text = data.get("text")
        if not isinstance(text, str) or not text.strip() or len(text) > MAX_TEXT:
            raise BadRequest(f"text must be 1..{MAX_TEXT} characters")
        client_id = data.get("client_message_id") or uuid.uuid4().hex
        if not isinstance(client_id, str) or not re.match(r"^[A-Za-z0-9_-]{1,64}$", client_id):
            raise BadRequest("client_message_id must be 1..64 of [A-Za-z0-9_-]")
        hints = dict(claims.get("h") or {})
        return [
            InboundMessage(
                channel="web",
                account=claims["site"],
                channel_user_id=claims["v"],
                hints=CustomerHints(**hints, verified=tuple(claims.get("vf") or ())),
                type="text",
                text=text.strip(),
                platform_message_id=f"{claims['v']}:{client_id}",
                sent_at=utcnow(),
            )
        ]

    def acknowledge(self, req: WebhookRequest, accepted: list[InboundMessage]) -> Response:
        from chalicelib.channels.credentials import account_credentials  # cached: no extra call

        response = Response.json(
            {"accepted": len(accepted), "message_ids": [m.platform_message_id for m in accepted]}, 202
        )
        return self._cors(req, account_credentials(self.name, self.account_of(req)), response)

    # ---- outbound --------------------------------------------------------------------------------
    def send(self, msg: OutboundMessage, creds: Mapping[str, str], http: Any) -> SendResult:
        """The reply is already in the visitor's mailbox (stored with a mailbox key); delivery is the
        widget's next poll."""
        return SendResult(status="sent", platform_message_id=msg.message_id)


ADAPTER = WebAdapter()
