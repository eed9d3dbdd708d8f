"""The agent API: Cognito login, JWTs verified against the JWKS, roles on every route."""

from __future__ import annotations

import json
import re
import time

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from chalicelib.router import service as router
from tests.support.factories import inbound


def test_login_returns_tokens_and_the_agent_role(api):
    r = api(None).post("/auth/login", {"username": "agent1", "password": "Integration-pass-1"})
    assert r.status_code == 200
    data = json.loads(r.body)
    assert (data["agent"]["agent_id"], data["agent"]["role"]) == ("agent1", "agent")
    assert data["id_token"] and data["refresh_token"]


def test_a_wrong_password_is_401(api):
    r = api(None).post("/auth/login", {"username": "agent1", "password": "nope-nope-nope"})
    assert r.status_code == 401 and json.loads(r.body)["error"] == "unauthorized"


def test_every_route_but_login_health_and_openapi_requires_a_token(api):
    anonymous = api(None)
    from chalicelib.api import ROUTES

    public = {r.path for r in ROUTES if r.role is None}
    # alerts: HMAC-signed; the widget's suggestions: the web channel's signed visitor token; the API
    # clients' token endpoint: their client credentials
    assert public == {
        "/health",
        "/openapi.json",
        "/auth/login",
        "/tickets/alerts",
        "/bot/suggest",
        "/oauth/token",
    }
    r = anonymous.client.http.request(
        "GET", "/bot/suggest?site=default&q=refund", headers=anonymous._headers()
    )
    assert r.status_code == 401, r.body
    for route in ROUTES:
        if route.role is None:
            continue
        path = re.sub(r"\{[a-z_]+\}", "x_1", route.path)
        for method in route.methods:
            r = anonymous.client.http.request(method, path, headers=anonymous._headers(), body=b"{}")
            assert r.status_code == 401, (method, path, r.body)


def test_a_token_signed_by_another_key_is_rejected(api, aws):
    real = api("agent1")
    claims = jwt.decode(real.token, options={"verify_signature": False})
    header = jwt.get_unverified_header(real.token)
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims["cognito:groups"] = ["admin"]
    forged = jwt.encode(claims, other, algorithm="RS256", headers={"kid": header["kid"]})
    real.token = forged
    assert real.get("/me").status_code == 401


def test_an_expired_token_and_an_unsigned_token_are_rejected(api):
    session = api("agent1")
    claims = jwt.decode(session.token, options={"verify_signature": False})
    claims["exp"] = int(time.time()) - 60
    session.token = jwt.encode(claims, key=None, algorithm="none")
    assert session.get("/me").status_code == 401
    session.token = "not.a.jwt"
    assert session.get("/me").status_code == 401


def test_agents_see_their_groups_queues_and_not_others(api):
    pre = router.store(inbound("sms", "+15550200001", "how much is the serum?")).conversation.conversation_id
    after = router.store(inbound("sms", "+15550200002", "I want a refund")).conversation.conversation_id
    agent1 = api("agent1")
    queue = json.loads(agent1.get("/conversations?view=queue").body)["items"]
    assert [c["conversation_id"] for c in queue] == [pre]
    assert agent1.get(f"/conversations/{after}").status_code == 403
    assert agent1.post(f"/conversations/{after}/reply", {"text": "hi"}).status_code == 403
    supervisor = api("supervisor")
    assert supervisor.get(f"/conversations/{after}").status_code == 200


def test_the_conversation_view_has_the_customer_and_the_whole_cross_channel_history(api):
    from chalicelib.messages import CustomerHints

    phone = CustomerHints(phone="+15550200003", verified=("phone",))
    router.store(inbound("sms", "+15550200003", "price of the cream?", hints=phone))
    cid = router.store(
        inbound("web", "v_w", "also, do you ship to Shanghai?", hints=phone)
    ).conversation.conversation_id
    agent1 = api("agent1")
    view = json.loads(agent1.get(f"/conversations/{cid}").body)
    assert [(m["channel"], m["text"]) for m in view["messages"]] == [
        ("sms", "price of the cream?"),
        ("web", "also, do you ship to Shanghai?"),
    ]
    assert view["customer"]["phones"] == ["+155****0003"]  # an agent sees contacts masked
    assert {i["channel"] for i in view["identities"] if i["kind"] == "channel"} == {"sms", "web"}


def test_reply_claim_close_through_the_api(api):
    cid = router.store(inbound("sms", "+15550200004", "hello?")).conversation.conversation_id
    agent1 = api("agent1")
    r = agent1.post(f"/conversations/{cid}/reply", {"text": "Hi, how can I help?"})
    assert r.status_code == 202 and json.loads(r.body)["message"]["status"] == "queued"
    mine = json.loads(agent1.get("/conversations?view=mine").body)["items"]
    assert [c["conversation_id"] for c in mine] == [cid]
    assert api("agent2").post(f"/conversations/{cid}/claim").status_code == 403  # not their group
    assert agent1.post(f"/conversations/{cid}/close").status_code == 200
    assert agent1.post(f"/conversations/{cid}/close").status_code == 409


def test_bad_bodies_and_unknown_ids_get_clear_4xx(api):
    agent1 = api("agent1")
    cid = router.store(inbound("sms", "+15550200005")).conversation.conversation_id
    assert agent1.post(f"/conversations/{cid}/reply", "{not json").status_code == 400
    assert agent1.post(f"/conversations/{cid}/reply", {"text": ""}).status_code == 400
    assert agent1.post(f"/conversations/{cid}/reply", {"text": "x", "extra": 1}).status_code == 400
    assert agent1.get("/conversations/cnv_missing").status_code == 404
    r = agent1.get("/conversations?view=nope")  # the query model's enum: a bad value is a 400
    assert r.status_code == 400 and json.loads(r.body)["error"] == "bad_request"


def test_only_supervisors_merge_customers(api):
    a = router.store(inbound("sms", "+15550200006")).conversation.customer_id
    b = router.store(inbound("wechat", "openid-merge")).conversation.customer_id
    assert api("agent1").post(f"/customers/{a}/merge", {"source_customer_id": b}).status_code == 403
    r = api("supervisor").post(f"/customers/{a}/merge", {"source_customer_id": b})
    assert r.status_code == 200
    audit = json.loads(api("supervisor").get(f"/customers/{a}/audit").body)["items"]
    assert audit[0]["action"] == "customer.merge"


def test_merging_an_unknown_customer_is_a_404_that_changes_nothing(api):
    known = router.store(inbound("sms", "+15550200007")).conversation.customer_id
    supervisor = api("supervisor")
    for target, source in ((known, "cus_nobody"), ("cus_nobody", known)):
        r = supervisor.post(f"/customers/{target}/merge", {"source_customer_id": source})
        assert r.status_code == 404 and json.loads(r.body)["error"] == "not_found", r.body
    assert json.loads(supervisor.get(f"/customers/{known}/audit").body)["items"] == []
    assert "merged_into" not in json.loads(supervisor.get(f"/customers/{known}").body)["customer"]


def test_the_openapi_document_describes_every_route(api):
    doc = json.loads(api(None).get("/openapi.json").body)
    assert doc["openapi"].startswith("3.")
    assert "/conversations/{conversation_id}/reply" in doc["paths"]
    assert doc["paths"]["/customers/{customer_id}/merge"]["post"]["x-omniflow-role"] == "supervisor"
    assert "ReplyBody" in doc["components"]["schemas"]
