"""The company's order API played by a thread (``http.server``): what the orders connector talks
to in tests. ``shop.status``/``body``/``delay``/``headers`` shape its answer; ``shop.requests``
records what it got."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

AUTH = "Bearer shop-s3cr3t-7f3a9"
ORDERS = {
    "orders": [
        {
            "number": "SO-1",
            "status": "delivered",
            "total": "89.00",
            "currency": "CNY",
            "placed_at": "2025-01-02T08:00:00Z",
            "items": [{"name": "面膜", "quantity": 1}],
        },
        {
            "number": "SO-2",
            "status": "shipped",
            "total": "129.90",
            "currency": "CNY",
            "placed_at": "2025-03-01T10:00:00Z",
            "tracking": {"carrier": "SF Express", "number": "SF1234567890", "status": "in_transit"},
        },
    ]
}


@dataclass
class Shop:
    """The company's order API: answers with ``status``/``body`` (after ``delay`` s) and records
    every request it gets."""

    url: str = ""
    status: int = 200
    body: bytes = json.dumps(ORDERS).encode()
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    requests: list[dict[str, Any]] = field(default_factory=list)
    release: threading.Event = field(default_factory=threading.Event)


@pytest.fixture(name="shop")
def shop_fixture() -> Iterator[Shop]:
    """Import ``shop_fixture`` into a test module to use the ``shop`` fixture there."""
    state = Shop()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            target = urlsplit(self.path)
            state.requests.append(
                {"path": target.path, "query": parse_qs(target.query), "headers": dict(self.headers.items())}
            )
            if state.delay:
                state.release.wait(state.delay)
            self.send_response(state.status)
            for k, v in {"Content-Type": "application/json", **state.headers}.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(state.body)))
            self.end_headers()
            self.wfile.write(state.body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/api/orders"
    yield state
    state.release.set()
    server.shutdown()
    server.server_close()
