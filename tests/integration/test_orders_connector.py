"""The orders connector against a real HTTP server (the company's order API, played by a thread):
configuration from Secrets Manager (moto), the auth header sent, identifiers as query parameters,
and a degraded answer — never a 5xx — when it is unconfigured, slow, down or talks nonsense."""

from __future__ import annotations

import json
import time
from typing import Any

import boto3
import pytest

from chalicelib.identity import service as identity
from chalicelib.messages import CustomerHints
from chalicelib.orders import service as orders
from tests.support.factories import inbound
from tests.support.order_api import AUTH, Shop, shop_fixture  # noqa: F401 — the shop fixture


def configure(shop: Shop, **overrides: Any) -> None:
    secret = {"url": shop.url, "auth_header": "Authorization", "auth_value": AUTH, "timeout_seconds": 2}
    boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name=orders.secret_name(), SecretString=json.dumps(secret | overrides)
    )
    orders.reset()


def customer_with_phone_and_email(phone: str = "+15550300001") -> str:
    hints = CustomerHints(phone=phone, email="Buyer@Example.com", verified=("phone", "email"))
    return identity.resolve(inbound("sms", phone, "where is my order?", hints=hints)).customer.customer_id


def test_orders_come_from_the_company_api_with_its_auth_header_and_the_customers_identifiers(
    api, shop, capsys, caplog
):
    configure(shop)
    customer_id = customer_with_phone_and_email()
    r = api("agent1").get(f"/customers/{customer_id}/orders")
    assert r.status_code == 200, r.body
    data = json.loads(r.body)
    assert "error" not in data
    assert [o["number"] for o in data["orders"]] == ["SO-2", "SO-1"]  # newest first
    assert data["orders"][0]["tracking"]["number"] == "SF1234567890"
    assert data["orders"][0]["total"] == "129.90"
    (seen,) = shop.requests
    assert seen["path"] == "/api/orders"
    assert seen["headers"]["Authorization"] == AUTH
    assert seen["query"] == {"phone": ["+15550300001"], "email": ["buyer@example.com"]}
    captured = capsys.readouterr()
    assert AUTH not in r.body.decode() and "s3cr3t" not in captured.out + captured.err + caplog.text


def test_the_company_user_id_of_a_signed_in_channel_is_sent_as_customer_id(aws, shop):
    configure(shop)
    hints = CustomerHints(external_id="shop-user-42", verified=("external_id",))
    customer = identity.resolve(inbound("web", "v_orders_1", "hi", hints=hints)).customer
    answer = orders.orders_of(customer.customer_id)
    assert len(answer["orders"]) == 2
    assert shop.requests[0]["query"] == {"customer_id": ["shop-user-42"]}


def test_unconfigured_means_a_clear_empty_answer_not_an_error(api, shop):
    customer_id = customer_with_phone_and_email()
    r = api("agent1").get(f"/customers/{customer_id}/orders")
    assert r.status_code == 200
    assert json.loads(r.body) == {
        "orders": [],
        "error": "orders service unavailable",
        "reason": "not_configured",
    }
    assert shop.requests == []


def test_a_slow_order_service_is_cut_off_at_the_configured_timeout(api, shop, capsys, caplog):
    configure(shop, timeout_seconds=0.5)
    shop.delay = 5.0
    customer_id = customer_with_phone_and_email()
    agent = api("agent1")
    started = time.monotonic()
    r = agent.get(f"/customers/{customer_id}/orders")
    elapsed = time.monotonic() - started
    assert r.status_code == 200
    assert json.loads(r.body) == {"orders": [], "error": "orders service unavailable", "reason": "timeout"}
    assert elapsed < 3.0, elapsed
    captured = capsys.readouterr()
    logs = captured.out + captured.err + caplog.text
    assert "s3cr3t" not in logs and "+15550300001" not in logs  # no secret, no phone in the logs


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [
        (200, b"<html>maintenance</html>", "bad_response"),
        (200, b'{"orders": "soon"}', "bad_response"),
        (200, b"[]", "bad_response"),
        (500, b'{"error": "boom"}', "http_500"),
        (401, b'{"error": "who are you"}', "http_401"),
    ],
)
def test_garbage_or_errors_from_the_order_service_degrade(aws, shop, status, body, reason):
    configure(shop)
    shop.status, shop.body = status, body
    answer = orders.orders_of(customer_with_phone_and_email())
    assert answer == {"orders": [], "error": "orders service unavailable", "reason": reason}


def test_an_unreachable_order_service_degrades(aws, shop):
    configure(shop, url="http://127.0.0.1:9/api/orders")  # discard port: nothing listens
    answer = orders.orders_of(customer_with_phone_and_email())
    assert answer["reason"] == "unreachable" and answer["orders"] == []


def test_redirects_are_not_followed_so_the_auth_header_stays_with_the_configured_host(aws, shop):
    configure(shop)
    shop.status, shop.body = 302, b""
    shop.headers = {"Location": "http://elsewhere.example/steal"}
    answer = orders.orders_of(customer_with_phone_and_email())
    assert answer["reason"] == "http_302" and len(shop.requests) == 1


def test_a_config_that_is_not_json_or_not_valid_is_misconfigured(aws, shop):
    client = boto3.client("secretsmanager", region_name="us-east-1")
    client.create_secret(Name=orders.secret_name(), SecretString="not json")
    assert orders.orders_of(customer_with_phone_and_email())["reason"] == "misconfigured"
    client.put_secret_value(SecretId=orders.secret_name(), SecretString=json.dumps({"url": "nope"}))
    orders.reset()
    assert orders.orders_of(customer_with_phone_and_email("+15550300002"))["reason"] == "misconfigured"
    assert shop.requests == []


def test_a_customer_the_company_cannot_recognise_gets_no_call(aws, shop):
    configure(shop)
    customer = identity.resolve(inbound("wechat", "openid-no-phone", "hi")).customer
    assert orders.orders_of(customer.customer_id) == {"orders": []}
    assert shop.requests == []


def test_an_unknown_customer_is_404(api):
    assert api("agent1").get("/customers/cus_nobody/orders").status_code == 404


def test_the_config_is_cached_between_lookups(aws, shop):
    configure(shop)
    customer_id = customer_with_phone_and_email()
    orders.orders_of(customer_id)
    boto3.client("secretsmanager", region_name="us-east-1").put_secret_value(
        SecretId=orders.secret_name(), SecretString=json.dumps({"url": "http://127.0.0.1:9/x"})
    )
    orders.orders_of(customer_id)  # still the cached config: reaches the shop again
    assert len(shop.requests) == 2
