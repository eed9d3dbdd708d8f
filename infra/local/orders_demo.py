"""A stand-in for the company's order API, so the orders connector has something to talk to in
``make dev``: ``GET /demo/orders?phone=…&email=…&customer_id=…`` on the local stack's port,
requiring ``Authorization: Bearer <token>``, answering the shape ``chalicelib/orders`` expects.

Deterministic: the same identifier always has the same orders (derived from a hash of it), so a
demo shows the same thing every time; the simulator's people (``+8613800138000`` "where is my
order?", ``alice@example.com`` "Order 123 … arrived broken") have orders that fit their story.
Dates are relative to today so "shipped two days ago" stays true. Served only by the local stack
(``infra/local/server.py``), never deployed.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import parse_qs

PATH = "/demo/orders"
DEFAULT_TOKEN = "omniflow-demo-orders-token"  # a local demo value, like the channels' in provision.py

CATALOG: tuple[tuple[str, str, str], ...] = (
    ("SERUM-30", "焕亮精华 Radiance Serum 30 ml", "289.00"),
    ("CREAM-50", "保湿面霜 Hydrating Cream 50 ml", "199.00"),
    ("MASK-5", "补水面膜 Sheet Masks ×5", "89.00"),
    ("SPF-50", "防晒乳 Sunscreen SPF50+ 50 ml", "159.00"),
    ("TONER-200", "爽肤水 Hydrating Toner 200 ml", "129.00"),
)
CARRIERS = ("SF Express 顺丰速运", "JD Logistics 京东物流", "ZTO Express 中通快递")

# The simulator's customers (see the local stack's banner) and the story each tells.
STORIES: dict[str, list[dict[str, Any]]] = {
    "phone:+8613800138000": [
        {
            "number": "SO20240088",
            "status": "shipped",
            "days_ago": 2,
            "items": [(0, 1), (2, 2)],
            "tracking": "in_transit",
        },
        {
            "number": "SO20240031",
            "status": "delivered",
            "days_ago": 40,
            "items": [(1, 1)],
            "tracking": "delivered",
        },
    ],
    "email:alice@example.com": [
        {
            "number": "123",
            "status": "delivered",
            "days_ago": 3,
            "items": [(1, 1), (4, 1)],
            "tracking": "delivered",
        },
    ],
}


def demo_token() -> str:
    return os.environ.get("OMNIFLOW_ORDERS_DEMO_TOKEN") or DEFAULT_TOKEN


def connector_secret(base_url: str) -> dict[str, Any]:
    """The ``omniflow/<stage>/connectors/orders`` value pointing the connector at this service."""
    return {
        "url": f"{base_url.rstrip('/')}{PATH}",
        "auth_header": "Authorization",
        "auth_value": f"Bearer {demo_token()}",
        "timeout_seconds": 3,
    }


def _order(spec: dict[str, Any], today: date) -> dict[str, Any]:
    placed = datetime.combine(today - timedelta(days=spec["days_ago"]), time(10, 30), tzinfo=UTC)
    items = [
        {"sku": CATALOG[i][0], "name": CATALOG[i][1], "quantity": qty, "price": CATALOG[i][2]}
        for i, qty in spec["items"]
    ]
    total = sum(float(CATALOG[i][2]) * qty for i, qty in spec["items"])
    order: dict[str, Any] = {
        "number": spec["number"],
        "status": spec["status"],
        "total": f"{total:.2f}",
        "currency": "CNY",
        "placed_at": placed.isoformat().replace("+00:00", "Z"),
        "items": items,
    }
    if spec.get("tracking"):
        digest = hashlib.sha256(spec["number"].encode()).digest()
        order["tracking"] = {
            "carrier": CARRIERS[digest[0] % len(CARRIERS)],
            "number": "SF" + str(int.from_bytes(digest[1:7], "big")).zfill(12)[:12],
            "status": spec["tracking"],
        }
    return order


def _generated(key: str) -> list[dict[str, Any]]:
    """0–3 plausible orders for anyone else, always the same for the same identifier."""
    digest = hashlib.sha256(key.encode()).digest()
    count = digest[0] % 4  # one identifier in four has never ordered
    specs = []
    for n in range(count):
        d = digest[1 + n * 4 : 5 + n * 4]
        days_ago = 1 + d[0] % 5 + n * 30
        status, tracking = ("shipped", "in_transit") if n == 0 and d[1] % 2 else ("delivered", "delivered")
        lines = [(d[2] % len(CATALOG), 1 + d[3] % 2)]
        if d[1] % 3 == 0:
            lines.append(((d[2] + 1) % len(CATALOG), 1))
        specs.append(
            {
                "number": f"SO{int.from_bytes(d, 'big') % 10**8:08d}",
                "status": status,
                "days_ago": days_ago,
                "items": lines,
                "tracking": tracking,
            }
        )
    return specs


def orders_for(
    phones: list[str], emails: list[str], customer_ids: list[str], today: date | None = None
) -> list[dict[str, Any]]:
    """Every order of whoever these identifiers are, newest first, each order once."""
    today = today or datetime.now(UTC).date()
    keys = [f"phone:{p.strip()}" for p in phones]
    keys += [f"email:{e.strip().lower()}" for e in emails]
    keys += [f"customer:{c.strip()}" for c in customer_ids]
    seen: dict[str, dict[str, Any]] = {}
    for key in keys:
        for spec in STORIES.get(key) or _generated(key):
            seen.setdefault(spec["number"], _order(spec, today))
    return sorted(seen.values(), key=lambda o: o["placed_at"], reverse=True)


def answer(query: str, authorization: str | None, today: date | None = None) -> tuple[int, dict[str, Any]]:
    """(HTTP status, JSON body) for ``GET /demo/orders?<query>`` with that Authorization header."""
    if not authorization or not hmac.compare_digest(
        authorization.encode(), f"Bearer {demo_token()}".encode()
    ):
        return 401, {"error": "unauthorized"}
    q = parse_qs(query, keep_blank_values=False)
    return 200, {
        "orders": orders_for(q.get("phone", []), q.get("email", []), q.get("customer_id", []), today)
    }
