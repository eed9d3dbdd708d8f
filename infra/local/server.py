"""The local stack's front door: one HTTP port standing in for both API Gateways.

- ``/api/...``        → the Chalice app, as API Gateway REST (v1) proxy events on the ``api`` stage;
- ``/webhooks/<ch>``  → ``functions.<ch>.handler``, as API Gateway HTTP API (payload 2.0) events;
- ``/``               → redirect to the console;
- ``/demo/shop``      → the demo shop page with the chat widget (``shop.py``).
- ``/demo/wecom/...`` → the stand-in for WeCom's kf API (``wecom_kf.py``).

The events are built the way AWS builds them (header folding, query-string folding, which bodies are
base64-encoded, what a missing route answers), so code that works here meets the same shapes in the
cloud. Everything that differs between the two gateways lives in the two ``*_event`` functions.

Invocations are serialised through one lock: the whole stack runs in one process, and Lambda never
runs two invocations in one runtime at once, so module-level state (powertools' logger and
metrics, Chalice's ``current_request``) is only ever touched by one invocation at a time, as in AWS.
"""

from __future__ import annotations

import base64
import importlib
import json
import logging
import threading
import time
import traceback
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

log = logging.getLogger("infra.local.http")

MAX_REQUEST_BYTES = 10 * 1024 * 1024  # API Gateway's payload limit (REST and HTTP APIs)
REST_STAGE = "api"
ACCOUNT_ID = "123456789012"
CONSOLE_PATH = "/api/console"
# HTTP APIs pass only these bodies as text; everything else (form posts included) arrives base64.
HTTP_API_TEXT_TYPES = ("application/json", "application/xml", "application/javascript")

Headers = list[tuple[str, str]]


@dataclass
class HttpResponse:
    status: int
    headers: Headers = field(default_factory=list)
    body: bytes = b""

    @classmethod
    def json(cls, status: int, data: Any, headers: Headers | None = None) -> HttpResponse:
        body = json.dumps(data).encode()
        return cls(status, [("Content-Type", "application/json"), *(headers or [])], body)


@dataclass(frozen=True)
class HttpRequest:
    """A request as it came off the wire: path still percent-encoded, headers in arrival order."""

    method: str
    path: str
    query: str
    headers: Headers
    body: bytes
    source_ip: str = "127.0.0.1"
    host: str = "127.0.0.1"

    def header(self, name: str, default: str = "") -> str:
        values = [v for k, v in self.headers if k.lower() == name.lower()]
        return values[-1] if values else default


class LambdaContext:
    """What Lambda hands a function besides the event; enough for Chalice and powertools."""

    def __init__(self, function_name: str, *, timeout_seconds: int = 60, memory_mb: int = 512) -> None:
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:{ACCOUNT_ID}:function:{function_name}"
        self.memory_limit_in_mb = memory_mb
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "local"
        self.identity = None
        self.client_context = None
        self._deadline = time.monotonic() + timeout_seconds

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


# --------------------------------------------------------------------------------------------
# shared helpers
# --------------------------------------------------------------------------------------------
def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def media_type_matches(content_type: str, patterns: Iterable[str]) -> bool:
    """API Gateway's binaryMediaTypes matching: exact, ``type/*`` or ``*/*``."""
    media = _media_type(content_type)
    if not media:
        return False
    major = media.split("/", 1)[0]
    for pattern in patterns:
        p = pattern.strip().lower()
        if p in (media, "*/*") or p == f"{major}/*":
            return True
    return False


def _accepts_binary(accept: str, patterns: Iterable[str]) -> bool:
    patterns = list(patterns)
    return any(media_type_matches(part, patterns) for part in accept.split(",") if part.strip())


def _request_time(now: float) -> tuple[str, int]:
    dt = datetime.fromtimestamp(now, UTC)
    return dt.strftime("%d/%b/%Y:%H:%M:%S +0000"), int(now * 1000)


def _forwarded(req: HttpRequest) -> Headers:
    """Headers API Gateway adds in front of every integration."""
    port = req.host.rsplit(":", 1)[1] if ":" in req.host else "80"
    return [
        ("X-Forwarded-For", req.source_ip),
        ("X-Forwarded-Proto", "http"),
        ("X-Forwarded-Port", port),
        ("X-Amzn-Trace-Id", f"Root=1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"),
    ]


# --------------------------------------------------------------------------------------------
# REST API (v1) for the Chalice app
# --------------------------------------------------------------------------------------------
def rest_v1_event(
    req: HttpRequest,
    *,
    path: str,
    resource: str,
    path_parameters: Mapping[str, str],
    binary_types: Iterable[str],
    request_id: str,
    stage: str = REST_STAGE,
) -> dict[str, Any]:
    """An API Gateway REST proxy event. ``path`` is the path below the stage, still percent-encoded
    (REST APIs pass paths and path parameters as the client sent them); query values are decoded."""
    headers: dict[str, str] = {}
    multi_headers: dict[str, list[str]] = {}
    for name, value in [*req.headers, *_forwarded(req)]:
        headers[name] = value  # API Gateway keeps the last value in ``headers``
        multi_headers.setdefault(name, []).append(value)
    query: dict[str, list[str]] = {}
    for name, value in parse_qsl(req.query, keep_blank_values=True):
        query.setdefault(name, []).append(value)
    content_type = req.header("content-type")
    body: str | None
    is_b64 = False
    if not req.body:
        body = None
    elif media_type_matches(content_type, binary_types):
        body, is_b64 = base64.b64encode(req.body).decode("ascii"), True
    else:
        body = req.body.decode("utf-8", "replace")
    request_time, epoch_ms = _request_time(time.time())
    return {
        "resource": resource,
        "path": path,
        "httpMethod": req.method,
        "headers": headers or None,
        "multiValueHeaders": multi_headers or None,
        "queryStringParameters": {k: v[-1] for k, v in query.items()} or None,
        "multiValueQueryStringParameters": query or None,
        "pathParameters": dict(path_parameters) or None,
        "stageVariables": None,
        "requestContext": {
            "resourceId": "local",
            "resourcePath": resource,
            "httpMethod": req.method,
            "extendedRequestId": request_id,
            "requestTime": request_time,
            "path": f"/{stage}{path}",
            "accountId": ACCOUNT_ID,
            "protocol": "HTTP/1.1",
            "stage": stage,
            "domainPrefix": req.host.split(".", 1)[0],
            "requestTimeEpoch": epoch_ms,
            "requestId": request_id,
            "identity": {"sourceIp": req.source_ip, "userAgent": req.header("user-agent") or None},
            "domainName": req.host,
            "apiId": "local",
        },
        "body": body,
        "isBase64Encoded": is_b64,
    }


def rest_v1_response(
    result: Any, *, accept: str, binary_types: Iterable[str], request_id: str
) -> HttpResponse:
    """Map a Lambda proxy result back to HTTP the way a REST API does."""
    if not isinstance(result, dict) or not isinstance(result.get("statusCode"), int):
        log.error("malformed Lambda proxy response: %r", result)
        return HttpResponse.json(502, {"message": "Internal server error"})
    headers: Headers = []
    for name, value in (result.get("headers") or {}).items():
        headers.append((name, str(value)))
    for name, values in (result.get("multiValueHeaders") or {}).items():
        headers.extend((name, str(v)) for v in values if (name, str(v)) not in headers)
    headers = [(k, v) for k, v in headers if k.lower() not in {"content-length", "transfer-encoding"}]
    if not any(k.lower() == "content-type" for k, _ in headers):
        headers.append(("Content-Type", "application/json"))
    headers.append(("x-amzn-RequestId", request_id))
    raw = result.get("body")
    body = b"" if raw is None else raw.encode() if isinstance(raw, str) else bytes(raw)
    if result.get("isBase64Encoded") and _accepts_binary(accept, binary_types):
        body = base64.b64decode(body)
    return HttpResponse(result["statusCode"], headers, body)


def cors_preflight_headers(route: Mapping[str, Any]) -> Headers:
    """The OPTIONS answer API Gateway generates for a Chalice route with CORS (as ``chalice
    deploy`` configures it: a mock integration, no Lambda call)."""
    methods = [m for m, view in route.items() if getattr(view, "cors", None) is not None]
    if not methods:
        return [("Access-Control-Allow-Methods", "OPTIONS")]
    headers = dict(route[methods[0]].cors.get_access_control_headers())
    headers["Access-Control-Allow-Methods"] = ",".join([*methods, "OPTIONS"])
    return [("Content-Type", "application/json"), *headers.items()]


# --------------------------------------------------------------------------------------------
# HTTP API (payload 2.0) for the webhook functions
# --------------------------------------------------------------------------------------------
def http_api_v2_event(req: HttpRequest, *, route_key: str, request_id: str) -> dict[str, Any]:
    """An API Gateway HTTP API event, payload format 2.0."""
    headers: dict[str, str] = {}
    cookies: list[str] = []
    for name, value in [*req.headers, *_forwarded(req)]:
        key = name.lower()
        if key == "cookie":
            cookies.extend(c.strip() for c in value.split(";") if c.strip())
            continue
        headers[key] = f"{headers[key]},{value}" if key in headers else value
    query: dict[str, str] = {}
    for name, value in parse_qsl(req.query, keep_blank_values=True):
        query[name] = f"{query[name]},{value}" if name in query else value
    path = unquote(req.path)  # HTTP APIs hand the function the decoded path
    request_time, epoch_ms = _request_time(time.time())
    event: dict[str, Any] = {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": req.query,
        "headers": headers,
        "requestContext": {
            "accountId": ACCOUNT_ID,
            "apiId": "local-webhooks",
            "domainName": req.host,
            "domainPrefix": req.host.split(".", 1)[0],
            "http": {
                "method": req.method,
                "path": path,
                "protocol": "HTTP/1.1",
                "sourceIp": req.source_ip,
                "userAgent": req.header("user-agent"),
            },
            "requestId": request_id,
            "routeKey": route_key,
            "stage": "$default",
            "time": request_time,
            "timeEpoch": epoch_ms,
        },
        "isBase64Encoded": False,
    }
    if cookies:
        event["cookies"] = cookies
    if query:
        event["queryStringParameters"] = query
    if route_key.endswith("{proxy+}"):
        event["pathParameters"] = {"proxy": path.split("/", 3)[3]}
    if req.body:
        media = _media_type(req.header("content-type"))
        as_text = media.startswith("text/") or media in HTTP_API_TEXT_TYPES
        try:
            text = req.body.decode("utf-8") if as_text else None
        except UnicodeDecodeError:
            text = None
        if text is None:
            event["body"], event["isBase64Encoded"] = base64.b64encode(req.body).decode("ascii"), True
        else:
            event["body"] = text
    return event


def http_api_v2_response(result: Any) -> HttpResponse:
    """Map a payload-2.0 Lambda result back to HTTP the way an HTTP API does (a result without
    ``statusCode`` is taken as a JSON body with 200)."""
    if not isinstance(result, dict) or "statusCode" not in result:
        return HttpResponse.json(200, result)
    headers: Headers = [
        (k, str(v))
        for k, v in (result.get("headers") or {}).items()
        if k.lower() not in {"content-length", "transfer-encoding"}
    ]
    headers.extend(("Set-Cookie", c) for c in result.get("cookies") or [])
    raw = result.get("body")
    body = b"" if raw is None else raw.encode() if isinstance(raw, str) else bytes(raw)
    if result.get("isBase64Encoded"):
        body = base64.b64decode(body)
    return HttpResponse(int(result["statusCode"]), headers, body)


# --------------------------------------------------------------------------------------------
# the gateway
# --------------------------------------------------------------------------------------------
WebhookLoader = Callable[[str], Callable[[dict[str, Any], Any], Any] | None]


def load_webhook_function(channel: str) -> Callable[[dict[str, Any], Any], Any] | None:
    """``functions.<channel>.handler`` for a channel with a webhook, imported on first use like a
    cold start. Anything else gets None (the HTTP API has no route for it: 404), including the
    modules of ``functions/`` that are not webhooks (voice's, which Amazon Connect invokes)."""
    from chalicelib.channels import webhook_channels  # only now: the environment is in place

    if channel not in webhook_channels():
        return None
    handler: Callable[[dict[str, Any], Any], Any] = importlib.import_module(f"functions.{channel}").handler
    return handler


class Gateway:
    """Routes one HTTP request to the right Lambda with the right event shape."""

    def __init__(
        self,
        app: Any,
        *,
        stage: str = "local",
        lock: threading.Lock | None = None,
        webhook_loader: WebhookLoader = load_webhook_function,
        timeout_seconds: int = 60,
    ) -> None:
        from chalice.local import RouteMatcher

        self.app = app
        self.stage = stage
        self.lock = lock or threading.Lock()
        self._matcher = RouteMatcher(list(app.routes))
        self._load_webhook = webhook_loader
        self._webhooks: dict[str, Callable[[dict[str, Any], Any], Any] | None] = {}
        self._import_lock = threading.Lock()
        self._timeout = timeout_seconds

    def handle(self, req: HttpRequest) -> HttpResponse:
        if req.path in ("", "/"):
            return HttpResponse(302, [("Location", CONSOLE_PATH), ("Content-Length", "0")])
        if req.path == f"/{REST_STAGE}" or req.path.startswith(f"/{REST_STAGE}/"):
            return self._rest(req, req.path[len(REST_STAGE) + 1 :] or "/")
        if req.path == "/favicon.ico":  # the browser asks the origin's root; the API serves it
            return self._rest(req, req.path)
        parts = [p for p in req.path.split("/") if p]
        if len(parts) >= 2 and parts[0] == "webhooks":
            return self._webhook(req, parts[1], has_proxy=len(parts) > 2)
        if req.path == "/demo/shop" and req.method in ("GET", "HEAD"):
            from infra.local import shop  # the demo shop page that embeds the chat widget

            return HttpResponse(*shop.page(req.query))
        if req.path == "/demo/orders" and req.method == "GET":
            # The company's order API stand-in (infra/local/orders_demo.py). Not a Lambda, so not
            # under the invocation lock: the API calls it while holding that lock.
            from infra.local import orders_demo

            return HttpResponse.json(*orders_demo.answer(req.query, req.header("authorization") or None))
        if req.path.startswith("/demo/wecom/"):
            # WeCom's kf API stand-in (infra/local/wecom_kf.py), called by the WeCom webhook and
            # sender while they hold the invocation lock: not under it either.
            from infra.local import wecom_kf

            return HttpResponse.json(*wecom_kf.answer(req.method, req.path, req.query, req.body))
        return HttpResponse.json(404, {"message": "Not Found"})

    # ---- /api ----------------------------------------------------------------------------
    def _rest(self, req: HttpRequest, path: str) -> HttpResponse:
        request_id = str(uuid.uuid4())
        missing = HttpResponse.json(
            403,
            {"message": "Missing Authentication Token"},
            [("x-amzn-ErrorType", "MissingAuthenticationTokenException"), ("x-amzn-RequestId", request_id)],
        )
        try:
            match = self._matcher.match_route(path)
        except ValueError:
            return missing
        route = self.app.routes[match.route]
        if req.method == "OPTIONS" and "OPTIONS" not in route:
            return HttpResponse(200, cors_preflight_headers(route), b"")
        if req.method not in route:
            return missing  # API Gateway has no such method, so it never reaches the Lambda
        binary_types = list(self.app.api.binary_types)
        event = rest_v1_event(
            req,
            path=path.rstrip("/") or "/",
            resource=match.route,
            path_parameters=match.captured,
            binary_types=binary_types,
            request_id=request_id,
        )
        context = LambdaContext(f"omniflow-{self.stage}", timeout_seconds=self._timeout)
        try:
            with self.lock:
                result = self.app(event, context)
        except Exception:  # noqa: BLE001 — a crashed function is API Gateway's 502, not ours
            log.error("API function failed:\n%s", traceback.format_exc())
            return HttpResponse.json(502, {"message": "Internal server error"})
        return rest_v1_response(
            result, accept=req.header("accept"), binary_types=binary_types, request_id=request_id
        )

    # ---- /webhooks -----------------------------------------------------------------------
    def _function(self, channel: str) -> Callable[[dict[str, Any], Any], Any] | None:
        with self._import_lock:
            if channel not in self._webhooks:
                self._webhooks[channel] = self._load_webhook(channel)
            return self._webhooks[channel]

    def _webhook(self, req: HttpRequest, channel: str, *, has_proxy: bool) -> HttpResponse:
        handler = self._function(channel)
        if handler is None:
            return HttpResponse.json(404, {"message": "Not Found"})
        request_id = str(uuid.uuid4())
        route_key = f"ANY /webhooks/{channel}" + ("/{proxy+}" if has_proxy else "")
        event = http_api_v2_event(req, route_key=route_key, request_id=request_id)
        context = LambdaContext(f"omniflow-{self.stage}-webhook-{channel}", timeout_seconds=self._timeout)
        try:
            with self.lock:
                result = handler(event, context)
        except Exception:  # noqa: BLE001 — HTTP APIs answer a crashed function with 500
            log.error("webhook function %s failed:\n%s", channel, traceback.format_exc())
            return HttpResponse.json(500, {"message": "Internal Server Error"})
        response = http_api_v2_response(result)
        response.headers.append(("apigw-requestid", request_id))
        return response


# --------------------------------------------------------------------------------------------
# HTTP plumbing
# --------------------------------------------------------------------------------------------
class BodyTooLarge(Exception):
    pass


class RequestHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: LocalHttpServer

    def _read_body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks, total = [], 0
            while True:
                size = int(self.rfile.readline().split(b";", 1)[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    break
                total += size
                if total > MAX_REQUEST_BYTES:
                    raise BodyTooLarge
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_REQUEST_BYTES:
            raise BodyTooLarge
        return self.rfile.read(length) if length > 0 else b""

    def _handle(self) -> None:
        started = time.monotonic()
        target = urlsplit(self.path)
        try:
            body = self._read_body()
        except BodyTooLarge:
            self.close_connection = True  # the unread body must not be parsed as the next request
            response = HttpResponse.json(413, {"message": "Request Entity Too Large"})
        except ValueError:
            self.close_connection = True
            response = HttpResponse.json(400, {"message": "Bad Request"})
        else:
            headers = [(k, v) for k, v in self.headers.items() if k.lower() != "transfer-encoding"]
            req = HttpRequest(
                method=self.command,
                path=target.path or "/",
                query=target.query,
                headers=headers,
                body=body,
                source_ip=self.client_address[0],
                host=self.headers.get("Host") or f"127.0.0.1:{self.server.server_address[1]}",
            )
            gateway = self.server.gateway
            if gateway is None and req.path.startswith("/demo/"):
                gateway = self.server.demo_gateway  # the stand-ins answer while the demo is seeded
            response = gateway.handle(req) if gateway else HttpResponse.json(503, {"message": "starting"})
        self._send(response)
        log.info(
            "%s %s → %d (%.0f ms)",
            self.command,
            target.path,
            response.status,
            (time.monotonic() - started) * 1000,
        )

    def _send(self, response: HttpResponse) -> None:
        try:
            self._write(response)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client gave up waiting; nothing to tell it

    def _write(self, response: HttpResponse) -> None:
        self.send_response(response.status)
        for name, value in response.headers:
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(response.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(response.body)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = _handle

    def __getattr__(self, name: str) -> Any:
        """Any other method (TRACE, CONNECT, PROPFIND …) goes through the gateway too, which answers
        as API Gateway does (403 JSON for an API route without that method), not http.server's
        HTML 501."""
        if name.startswith("do_") and name[3:].isalpha() and name[3:].isupper():
            return self._handle
        raise AttributeError(name)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug(format, *args)


class LocalHttpServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    # listen() backlog: socketserver's default of 5 refused connections at connect under a surge
    # (24 concurrent platform retries); the kernel caps it at net.core.somaxconn.
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], gateway: Gateway | None = None) -> None:
        self.gateway = gateway  # None while the stack is still starting: 503
        #: serves only /demo/... (the platform stand-ins) while ``gateway`` is still None
        self.demo_gateway: Gateway | None = None
        super().__init__(address, RequestHandler)


def serve_in_thread(server: LocalHttpServer) -> threading.Thread:
    thread = threading.Thread(target=server.serve_forever, name="omniflow-http", daemon=True)
    thread.start()
    return thread
