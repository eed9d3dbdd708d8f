"""The orders connector's pure parts: reading its configuration and the company's answer, and the
local stack's demo order service."""

from __future__ import annotations

from datetime import date

import pytest

from chalicelib.orders.models import UNAVAILABLE, Order, OrderQuery, OrdersAnswer
from chalicelib.orders.service import parse_config, parse_orders
from infra.local import orders_demo

SECRET = "Bearer s3cr3t-value-never-shown"


# ---- configuration --------------------------------------------------------------------------------
def test_a_full_config_parses_and_hides_the_auth_value():
    config = parse_config(
        {
            "url": "https://shop.example/api/orders",
            "auth_header": "Authorization",
            "auth_value": SECRET,
            "timeout_seconds": 2,
            "comment": "extra keys are fine",
        }
    )
    assert str(config.url) == "https://shop.example/api/orders"
    assert config.timeout_seconds == 2
    assert config.headers()["Authorization"] == SECRET
    assert SECRET not in repr(config) and SECRET not in str(config.model_dump())


def test_defaults_without_auth_and_with_a_three_second_timeout():
    config = parse_config({"url": "http://127.0.0.1:8000/demo/orders"})
    assert config.timeout_seconds == 3
    assert config.headers() == {"Accept": "application/json"}


@pytest.mark.parametrize(
    "raw",
    [
        "https://shop.example",  # not an object
        {},  # no url
        {"url": "ftp://shop.example/orders"},
        {"url": "https://shop.example", "timeout_seconds": 0},
        {"url": "https://shop.example", "timeout_seconds": 60},  # the API would time out first
        {"url": "https://shop.example", "auth_header": "Authorization"},  # header without value
        {"url": "https://shop.example", "auth_value": SECRET},  # value without header
        {"url": "https://shop.example", "auth_header": "Bad Header:", "auth_value": SECRET},
    ],
)
def test_unusable_configs_are_refused_without_echoing_the_secret(raw):
    with pytest.raises(ValueError) as err:
        parse_config(raw)
    assert SECRET not in str(err.value)


# ---- the company's answer -------------------------------------------------------------------------
def test_orders_parse_leniently_newest_first_with_utc_times_and_money_as_text():
    orders, skipped = parse_orders(
        {
            "orders": [
                {"number": 1001, "status": "delivered", "total": 89, "placed_at": "2025-01-02T08:00:00"},
                {
                    "number": "SO-2",
                    "status": "shipped",
                    "total": "129.90",
                    "currency": "CNY",
                    "placed_at": "2025-03-01T10:00:00+08:00",
                    "items": [{"name": "精华", "sku": "S1", "quantity": 2, "price": "64.95", "color": "red"}],
                    "tracking": {"carrier": "SF", "number": "SF123", "status": "in_transit"},
                    "loyalty_points": 12,
                },
            ]
        }
    )
    assert skipped == 0
    assert [o.number for o in orders] == ["SO-2", "1001"]
    shown = orders[0].model_dump(mode="json")
    assert shown["placed_at"] == "2025-03-01T02:00:00.000Z"
    assert shown["total"] == "129.90" and shown["items"][0]["quantity"] == 2
    assert orders[0].total_text() == "129.90 CNY"
    assert orders[1].model_dump(mode="json")["placed_at"] == "2025-01-02T08:00:00.000Z"


def test_one_malformed_order_is_skipped_not_fatal():
    orders, skipped = parse_orders(
        {"orders": [{"number": "A"}, {"status": "no number"}, "junk", {"number": ""}]}
    )
    assert [o.number for o in orders] == ["A"] and skipped == 3


@pytest.mark.parametrize("payload", [None, [], "orders", {"orders": "none"}, {"data": []}])
def test_an_answer_that_is_not_an_order_list_is_refused(payload):
    with pytest.raises(ValueError):
        parse_orders(payload)


def test_the_degraded_answer_has_the_documented_shape():
    assert OrdersAnswer(reason="timeout").to_json() == {
        "orders": [],
        "error": UNAVAILABLE,
        "reason": "timeout",
    }
    assert OrdersAnswer().to_json() == {"orders": []}


def test_latest_and_find():
    a = Order(number="A", placed_at="2025-01-01T00:00:00Z")
    b = Order(number="B", placed_at="2025-02-01T00:00:00Z")
    answer = OrdersAnswer((a, b))
    assert answer.latest() == b and answer.find("A") == a and answer.find("Z") is None
    assert OrdersAnswer().latest() is None


def test_the_query_sends_one_parameter_per_identifier():
    q = OrderQuery(phones=("+8613800138000",), emails=("a@b.c", "d@e.f"), customer_ids=("u1",))
    assert q.params() == [
        ("phone", "+8613800138000"),
        ("email", "a@b.c"),
        ("email", "d@e.f"),
        ("customer_id", "u1"),
    ]


# ---- the demo order service -----------------------------------------------------------------------
def test_the_demo_service_requires_its_token():
    assert orders_demo.answer("phone=%2B8613800138000", None)[0] == 401
    assert orders_demo.answer("phone=%2B8613800138000", "Bearer wrong")[0] == 401


def test_the_demo_service_is_deterministic_and_parses_as_the_connector_expects():
    auth = f"Bearer {orders_demo.demo_token()}"
    today = date(2025, 6, 1)
    status, body = orders_demo.answer("phone=%2B8613800138000&email=alice%40example.com", auth, today)
    assert status == 200
    assert body == orders_demo.answer("phone=%2B8613800138000&email=alice%40example.com", auth, today)[1]
    orders, skipped = parse_orders(body)
    assert skipped == 0
    assert [o.number for o in orders] == ["SO20240088", "123", "SO20240031"]
    assert orders[0].status == "shipped" and orders[0].tracking and orders[0].tracking.status == "in_transit"
    generated = [orders_demo.answer(f"email=user{i}%40example.com", auth, today)[1] for i in range(20)]
    assert all(parse_orders(g)[1] == 0 for g in generated)
    assert {len(g["orders"]) for g in generated} >= {0, 1}  # some people never ordered


def test_the_demo_connector_secret_points_at_the_local_port():
    secret = orders_demo.connector_secret("http://127.0.0.1:8123/")
    config = parse_config(secret)
    assert str(config.url) == "http://127.0.0.1:8123/demo/orders"
    assert config.headers()["Authorization"] == f"Bearer {orders_demo.demo_token()}"


def test_the_local_gateway_serves_the_demo_orders_while_the_api_holds_the_invocation_lock():
    import json
    import threading

    from chalice import Chalice

    from infra.local.server import Gateway, HttpRequest

    lock = threading.Lock()
    gateway = Gateway(Chalice("t"), lock=lock)
    auth = [("Authorization", f"Bearer {orders_demo.demo_token()}")]
    with lock:  # as during an API call that reaches the connector
        r = gateway.handle(HttpRequest("GET", "/demo/orders", "email=alice%40example.com", auth, b""))
    assert r.status == 200 and json.loads(r.body)["orders"][0]["number"] == "123"
    assert gateway.handle(HttpRequest("GET", "/demo/orders", "", [], b"")).status == 401
