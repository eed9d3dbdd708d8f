"""The CRM/ERP connector against a real HTTP server (the company's CRM, played by a thread):
per-account configuration in Secrets Manager (moto) with its auth, lookup parameters and field
mapping; the customer's company id tried first, then phone, then e-mail; a degraded answer —
never a 5xx — when unconfigured, down or answering something unmappable; API clients read it
with customers:read."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from chalicelib.identity import service as identity
from chalicelib.messages import CustomerHints
from chalicelib.orders import crm
from tests.support.factories import inbound
from tests.support.order_api import AUTH, Shop, shop_fixture  # noqa: F401 — the shop fixture

ANSWER = {
    "data": {
        "total": 1,
        "items": [
            {
                "contactId": 9001,
                "fullName": "王芳",
                "level": {"name": "Gold"},
                "owner": {"email": "kam@example.com"},
                "labels": ["vip", "wholesale"],
                "mobile": "+8613900139000",
            }
        ],
    }
}
MAPPING = {
    "lookup": {"phone": "mobile", "email": "mail", "external_id": "id"},
    "records": "data.items",
    "fields": {
        "external_id": "contactId",
        "name": "fullName",
        "tier": "level.name",
        "owner": "owner.email",
        "tags": "labels",
    },
}


def configure(shop: Shop, account: str = "default", **overrides: Any) -> None:
    secret = {
        "url": shop.url,
        "auth_header": "Authorization",
        "auth_value": AUTH,
        "timeout_seconds": 2,
        **MAPPING,
    }
    boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name=crm.secret_name(account), SecretString=json.dumps(secret | overrides)
    )
    crm.reset()


def customer(
    phone: str = "+8613900139000", email: str = "wang.fang@example.com", external: str | None = None
) -> str:
    hints = CustomerHints(
        phone=phone,
        email=email,
        external_id=external,
        verified=("phone", "email", *(("external_id",) if external else ())),
    )
    channel, user = ("web", f"v_{phone}") if external else ("sms", phone)
    return identity.resolve(inbound(channel, user, "hi", hints=hints)).customer.customer_id


def test_a_contact_is_found_by_phone_with_the_accounts_auth_and_mapped_to_our_fields(api, shop, caplog):
    shop.body = json.dumps(ANSWER).encode()
    configure(shop)
    r = api("agent1").get(f"/customers/{customer()}/crm")
    assert r.status_code == 200, r.body
    data = json.loads(r.body)
    assert data["matched_by"] == "phone" and "error" not in data
    assert data["contacts"] == [
        {
            "external_id": "9001",
            "name": "王芳",
            "tier": "Gold",
            "owner": "kam@example.com",
            "tags": ["vip", "wholesale"],
        }
    ]
    (seen,) = shop.requests
    assert seen["headers"]["Authorization"] == AUTH and seen["query"] == {"mobile": ["+8613900139000"]}
    assert AUTH not in caplog.text and "+8613900139000" not in caplog.text


def test_the_company_id_is_tried_first_then_phone_then_email_until_one_finds_someone(aws, shop):
    shop.body = json.dumps({"data": {"items": []}}).encode()
    configure(shop)
    answer = crm.contacts_of(customer("+8613900139001", "a@example.com", external="crm-77"), "default")
    assert answer["contacts"] == [] and answer["matched_by"] is None and "error" not in answer
    assert [sorted(r["query"]) for r in shop.requests] == [["id"], ["mobile"], ["mail"]]


def test_each_account_has_its_own_configuration(aws, shop):
    shop.body = json.dumps([{"id": "E-1", "name": "Acme Ltd"}]).encode()
    configure(
        shop,
        account="erp",
        records="",
        fields={"external_id": "id", "company": "name"},
        lookup={"email": "email"},
    )
    answer = crm.contacts_of(customer("+8613900139002", "buyer@acme.example"), "erp")
    assert (
        answer["contacts"] == [{"external_id": "E-1", "company": "Acme Ltd"}]
        and answer["matched_by"] == "email"
    )
    assert [r["query"] for r in shop.requests] == [{"email": ["buyer@acme.example"]}]  # phone not configured
    unconfigured = crm.contacts_of(customer("+8613900139003"), "other")
    assert (unconfigured["error"], unconfigured["reason"]) == (crm.UNAVAILABLE, "not_configured")


@pytest.mark.parametrize(
    ("status", "body", "reason"),
    [(503, b"{}", "http_503"), (200, b"<html>", "bad_response"), (200, b'{"data": 5}', "bad_response")],
)
def test_a_crm_that_fails_or_answers_nonsense_gives_a_degraded_answer_not_an_error(
    api, shop, status, body, reason
):
    shop.status, shop.body = status, body
    configure(shop)
    r = api("agent1").get(f"/customers/{customer('+8613900139004')}/crm")
    assert r.status_code == 200, r.body
    data = json.loads(r.body)
    assert (data["contacts"], data["error"], data["reason"]) == ([], crm.UNAVAILABLE, reason)


def test_bad_configuration_and_bad_accounts_are_refused_cleanly(api, shop):
    with pytest.raises(ValueError, match="fields"):
        crm.parse_config({"url": shop.url, "fields": {"password": "pw"}})
    with pytest.raises(ValueError, match="auth_header and auth_value"):
        crm.parse_config({"url": shop.url, "auth_header": "Authorization"})
    assert (
        api("agent1").get(f"/customers/{customer('+8613900139005')}/crm?account=Bad Name").status_code == 400
    )
    assert api("agent1").get("/customers/cus_missing/crm").status_code == 404


def test_an_api_client_with_customers_read_looks_a_customer_up(api, shop):
    shop.body = json.dumps(ANSWER).encode()
    configure(shop)
    made = json.loads(
        api("admin").post("/admin/api-clients", {"name": "ERP", "scopes": ["customers:read"]}).body
    )
    token = json.loads(
        api(None)
        .post(
            "/oauth/token",
            {
                "grant_type": "client_credentials",
                "client_id": made["client_id"],
                "client_secret": made["client_secret"],
            },
        )
        .body
    )["access_token"]
    erp = api(None)
    erp.token = token
    r = erp.get(f"/customers/{customer('+8613900139000')}/crm")
    assert r.status_code == 200 and json.loads(r.body)["contacts"][0]["tier"] == "Gold"
