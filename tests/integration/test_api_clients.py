"""Machine clients of the API on moto: an admin creates one and sees its secret once; the client
exchanges it (form or JSON, Basic or body credentials) for a short-lived token signed by Omniflow
and calls the routes its scopes open — no others; its rate limit answers 429 with Retry-After;
disabling and rotating take effect at once; forged and foreign tokens are refused; the OpenAPI
document names each route's scope."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from chalicelib.auth import clients, tokens


def created(api: Any, scopes: list[str], rate_limit: int = 600, name: str = "CRM sync") -> dict[str, Any]:
    r = api("admin").post("/admin/api-clients", {"name": name, "scopes": scopes, "rate_limit": rate_limit})
    assert r.status_code == 201, r.body
    return json.loads(r.body)


def token_of(api: Any, c: dict[str, Any], **extra: str) -> Any:
    form = {
        "grant_type": "client_credentials",
        "client_id": c["client_id"],
        "client_secret": c["client_secret"],
    }
    return api(None).client.http.post(
        "/oauth/token",
        body="&".join(f"{k}={v}" for k, v in {**form, **extra}.items()),
        headers={"content-type": "application/x-www-form-urlencoded"},
    )


def bearer(api: Any, token: str) -> Any:
    session = api(None)
    session.token = token
    return session


def as_client(api: Any, c: dict[str, Any]) -> Any:
    r = token_of(api, c)
    assert r.status_code == 200, r.body
    return bearer(api, json.loads(r.body)["access_token"])


def test_a_client_reads_what_its_scopes_open_and_nothing_else(api):
    c = created(api, ["tickets:read", "tickets:write"])
    assert c["client_secret"].startswith("ofs_") and c["client_id"].startswith("cli_")
    listed = json.loads(api("admin").get("/admin/api-clients").body)["items"]
    assert [x["client_id"] for x in listed] == [c["client_id"]]
    assert "client_secret" not in listed[0] and "secret_hash" not in json.dumps(listed)

    r = token_of(api, c)
    assert r.status_code == 200, r.body
    answer = json.loads(r.body)
    assert (answer["token_type"], answer["expires_in"], answer["scope"]) == (
        "Bearer",
        tokens.TOKEN_SECONDS,
        "tickets:read tickets:write",
    )
    crm = bearer(api, answer["access_token"])
    assert crm.get("/tickets?view=status&status=new").status_code == 200
    made = crm.post("/tickets", {"subject": "Order 1042 arrived broken", "description": "from the CRM"})
    assert made.status_code == 201, made.body
    assert json.loads(made.body)["ticket"]["created_by"] == f"client:{c['client_id']}"

    no_scope = crm.get("/conversations?view=all")
    assert (no_scope.status_code, json.loads(no_scope.body)["message"]) == (
        403,
        "requires scope conversations:read",
    )
    assert crm.get("/me").status_code == 403  # a people-only route
    assert crm.post("/admin/api-clients", {"name": "x", "scopes": ["tickets:read"]}).status_code == 403
    assert api("agent1").get("/tickets?view=mine").status_code == 200  # people keep their roles


def test_the_token_endpoint_takes_json_or_basic_credentials_and_refuses_wrong_ones(api):
    c = created(api, ["reports:read"])
    anonymous = api(None)
    r = anonymous.post(
        "/oauth/token",
        {
            "grant_type": "client_credentials",
            "client_id": c["client_id"],
            "client_secret": c["client_secret"],
        },
    )
    assert r.status_code == 200, r.body
    basic = base64.b64encode(f"{c['client_id']}:{c['client_secret']}".encode()).decode()
    r = anonymous.post(
        "/oauth/token", {"grant_type": "client_credentials"}, headers={"authorization": f"Basic {basic}"}
    )
    assert r.status_code == 200, r.body
    assert bearer(api, json.loads(r.body)["access_token"]).get("/reports/sla").status_code == 200

    wrong = token_of(api, {**c, "client_secret": c["client_secret"][:-2] + "xx"})
    assert (wrong.status_code, json.loads(wrong.body)["error"]) == (401, "invalid_client")
    greedy = token_of(api, c, scope="reports:read tickets:write")
    assert (greedy.status_code, json.loads(greedy.body)["error"]) == (400, "invalid_scope")
    assert token_of(api, {**c, "client_id": "cli_0000000000000000"}).status_code == 401
    assert anonymous.post("/oauth/token", {"grant_type": "password"}).status_code == 400


def test_a_token_asked_for_fewer_scopes_opens_only_those(api):
    c = created(api, ["tickets:read", "reports:read"])
    r = token_of(api, c, scope="reports:read")
    narrow = bearer(api, json.loads(r.body)["access_token"])
    assert narrow.get("/reports/sla").status_code == 200
    assert narrow.get("/tickets?view=status&status=new").status_code == 403


def test_the_rate_limit_answers_429_with_retry_after_and_refills_over_time(api, monkeypatch):
    at = [1_800_000_000_000]
    monkeypatch.setattr(clients, "now_ms", lambda: at[0])
    c = created(api, ["reports:read"], rate_limit=3)
    crm = as_client(api, c)
    assert [crm.get("/reports/sla").status_code for _ in range(3)] == [200, 200, 200]
    r = crm.get("/reports/sla")
    assert r.status_code == 429 and json.loads(r.body)["error"] == "rate_limited"
    assert r.headers["Retry-After"] == "20"  # 3 a minute: one every 20 s
    at[0] += 19_000
    assert crm.get("/reports/sla").status_code == 429
    at[0] += 1_000
    assert crm.get("/reports/sla").status_code == 200
    assert crm.get("/reports/sla").status_code == 429
    other = as_client(api, created(api, ["reports:read"], rate_limit=3, name="warehouse"))
    assert other.get("/reports/sla").status_code == 200  # buckets are per client


def test_a_lost_race_on_the_bucket_reads_again_and_never_spends_a_token_twice(api, monkeypatch):
    monkeypatch.setattr(clients, "now_ms", lambda: 1_800_000_000_000)
    c = created(api, ["reports:read"], rate_limit=2)
    first, second = clients.get(c["client_id"]), clients.get(c["client_id"])  # two requests read alike
    clients.take(first)
    clients.take(second)  # its conditional write fails, it reads again: one token left, taken
    with pytest.raises(clients.RateLimited):
        clients.take(clients.get(c["client_id"]))


def test_disabling_stops_the_next_call_and_rotating_retires_the_old_secret(api):
    c = created(api, ["reports:read"])
    crm = as_client(api, c)
    assert api("admin").post(f"/admin/api-clients/{c['client_id']}/disable").status_code == 200
    assert crm.get("/reports/sla").status_code == 401  # the unexpired token no longer works
    assert token_of(api, c).status_code == 401
    assert api("admin").post(f"/admin/api-clients/{c['client_id']}/enable").status_code == 200
    assert crm.get("/reports/sla").status_code == 200

    rotated = json.loads(api("admin").post(f"/admin/api-clients/{c['client_id']}/rotate-secret").body)
    assert rotated["client_secret"] != c["client_secret"] and rotated["secret_rotated_at"]
    assert token_of(api, c).status_code == 401
    assert token_of(api, {**c, "client_secret": rotated["client_secret"]}).status_code == 200
    assert api("agent1").post(f"/admin/api-clients/{c['client_id']}/disable").status_code == 403
    assert api("admin").post("/admin/api-clients/cli_0000000000000000/disable").status_code == 404


def test_forged_expired_and_scope_less_bodies_are_refused(api):
    from cryptography.hazmat.primitives.asymmetric import rsa

    c = created(api, ["reports:read"])
    assert api("admin").post("/admin/api-clients", {"name": "x", "scopes": ["root:all"]}).status_code == 400
    assert api("admin").post("/admin/api-clients", {"name": "x", "scopes": []}).status_code == 400
    assert (
        api("admin")
        .post("/admin/api-clients", {"name": "x", "scopes": ["reports:read"], "rate_limit": 0})
        .status_code
        == 400
    )

    import jwt

    now = 1_800_000_000
    claims = {
        "iss": tokens.issuer(),
        "aud": tokens.AUDIENCE,
        "sub": c["client_id"],
        "scope": "reports:read",
        "token_use": "client",
        "iat": now,
        "exp": now + 900,
    }
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    forged = jwt.encode(claims, other_key, algorithm="RS256", headers={"kid": tokens.signer().kid})
    assert bearer(api, forged).get("/reports/sla").status_code == 401
    expired = tokens.issue(c["client_id"], ["reports:read"], seconds=-60)
    assert bearer(api, expired).get("/reports/sla").status_code == 401
    assert bearer(api, tokens.issue(c["client_id"], ["reports:read"])).get("/reports/sla").status_code == 200


def test_the_kms_signer_signs_tokens_the_api_verifies(aws, monkeypatch):
    import boto3

    key_id = boto3.client("kms").create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"][
        "KeyId"
    ]
    from chalicelib import config

    monkeypatch.setenv("OMNIFLOW_TOKEN_KEY_ID", key_id)
    config.reset()
    tokens.reset()
    assert isinstance(tokens.signer(), tokens.KmsSigner)
    token = tokens.issue("cli_00000000000000aa", ["tickets:read"])
    assert tokens.verify(token)["sub"] == "cli_00000000000000aa"
    assert tokens.is_client_token(token)
    tampered = token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB")
    with pytest.raises(Exception, match="invalid token"):
        tokens.verify(tampered)


def test_the_openapi_document_names_each_routes_scope_and_the_token_url(api):
    doc = json.loads(api(None).get("/openapi.json").body)
    assert doc["paths"]["/tickets"]["get"]["security"] == [{"cognito": []}, {"apiClient": ["tickets:read"]}]
    assert doc["paths"]["/tickets"]["post"]["x-omniflow-scope"] == "tickets:write"
    assert "429" in doc["paths"]["/tickets"]["get"]["responses"]
    assert doc["paths"]["/admin/webhooks"]["post"]["security"] == [{"cognito": []}]
    flow = doc["components"]["securitySchemes"]["apiClient"]["flows"]["clientCredentials"]
    assert flow["tokenUrl"] == "/api/oauth/token" and "events:write" in flow["scopes"]
    token_body = doc["paths"]["/oauth/token"]["post"]["requestBody"]["content"]
    assert set(token_body) == {"application/json", "application/x-www-form-urlencoded"}


def test_a_client_call_costs_one_getitem_and_one_conditional_update_more_than_a_persons(api):
    from tests.support.ddbcount import DynamoCounter

    crm = as_client(api, created(api, ["reports:read"]))
    person = api("supervisor")
    crm.get("/reports/sla"), person.get("/reports/sla")  # warm: signing key, JWKS
    counter = DynamoCounter()
    counter.install()
    try:
        with counter.window() as by_person:
            assert person.get("/reports/sla").status_code == 200
        with counter.window() as by_client:
            assert crm.get("/reports/sla").status_code == 200
    finally:
        counter.uninstall()
    extra = by_client.requests - by_person.requests
    assert dict(extra) == {"GetItem": 1, "UpdateItem": 1}, by_client.trail
    assert not [t for t in by_client.trail if "Scan" in t]
