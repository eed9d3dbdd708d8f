"""Canned replies through the API on moto: personal and team scopes and who may change them,
search across scopes, filling in customer/agent/order variables, usage counts, and edits that lose
a race failing instead of overwriting."""

from __future__ import annotations

import json
from typing import Any

import boto3
import pytest

from chalicelib.canned import service as canned
from chalicelib.canned.models import CannedReply
from chalicelib.conversations.models import Conversation
from chalicelib.identity import service as identity
from chalicelib.messages import CustomerHints, iso, utcnow
from chalicelib.orders import service as orders
from tests.support.factories import inbound
from tests.support.order_api import AUTH, shop_fixture  # noqa: F401 — the shop fixture


# ---- helpers --------------------------------------------------------------------------------------
def put(session: Any, path: str, body: Any) -> Any:
    return session.client.http.put(path, body=json.dumps(body), headers=session._headers())


def delete(session: Any, path: str) -> Any:
    return session.client.http.delete(path, headers=session._headers())


def create(session: Any, **fields: Any) -> dict[str, Any]:
    r = session.post("/canned-replies", {"title": "t", "body": "b", **fields})
    assert r.status_code == 201, r.body
    return json.loads(r.body)


def titles(session: Any, query: str = "") -> list[str]:
    r = session.get(f"/canned-replies?{query}")
    assert r.status_code == 200, r.body
    return [i["title"] for i in json.loads(r.body)["items"]]


def conversation(group: str, *, name: str | None = "王小明", phone: str = "+15550400001") -> str:
    """A customer (through identity resolution) and an open conversation waiting in ``group``."""
    hints = CustomerHints(display_name=name, phone=phone, verified=("phone",))
    customer = identity.resolve(inbound("sms", phone, "hi", hints=hints)).customer
    now = iso(utcnow())
    cid = f"cnv_canned_{phone[-4:]}_{group}"
    Conversation(
        cid, customer_id=customer.customer_id, group_id=group, created_at=now, last_message_at=now
    ).save()
    return cid


# ---- scopes and rights ----------------------------------------------------------------------------
def test_personal_replies_belong_to_their_owner_alone(api):
    agent1, agent2 = api("agent1"), api("agent2")
    mine = create(agent1, title="My sign-off", body="Best, {{agent.name}}", shortcut="/bye", tags=["closing"])
    assert (mine["scope"], mine["owner_id"], mine["editable"]) == ("personal", "agent1", True)
    assert mine["variables"] == ["agent.name"] and mine["version"] == 0
    assert titles(agent1) == ["My sign-off"]
    assert titles(agent2) == []
    path = f"/canned-replies/{mine['reply_id']}"
    assert put(agent2, path, {"title": "stolen"}).status_code == 404  # not even shown to exist
    assert delete(agent2, path).status_code == 404
    assert put(api("supervisor"), path, {"title": "nope"}).status_code == 404
    r = put(agent1, path, {"title": "Sign-off", "tags": ["closing", "polite"], "version": 0})
    assert r.status_code == 200, r.body
    changed = json.loads(r.body)
    assert (changed["title"], changed["tags"], changed["version"]) == ("Sign-off", ["closing", "polite"], 1)
    assert changed["body"] == "Best, {{agent.name}}" and changed["shortcut"] == "/bye"
    assert delete(agent1, path).status_code == 200
    assert titles(agent1) == []
    assert delete(agent1, path).status_code == 404


def test_team_replies_are_made_and_changed_by_supervisors_and_seen_by_the_group(api):
    agent1, agent2, supervisor = api("agent1"), api("agent2"), api("supervisor")
    r = agent2.post("/canned-replies", {"title": "x", "body": "y", "scope": "team", "group_id": "aftersales"})
    assert r.status_code == 403
    team = create(supervisor, title="Refund policy", body="7 days", scope="team", group_id="aftersales")
    everyone = create(supervisor, title="Greeting", body="Hello!", scope="team", group_id="all")
    assert titles(agent2) == ["Greeting", "Refund policy"]
    assert titles(agent1) == ["Greeting"]  # presales does not see after-sales' replies
    listed = json.loads(agent2.get("/canned-replies").body)["items"]
    assert {i["title"]: i["editable"] for i in listed} == {"Greeting": False, "Refund policy": False}
    for reply in (team, everyone):
        path = f"/canned-replies/{reply['reply_id']}"
        assert put(agent2, path, {"title": "mine now"}).status_code == 403
        assert delete(agent2, path).status_code == 403
    assert put(agent1, f"/canned-replies/{team['reply_id']}", {"title": "x"}).status_code == 404
    r = put(supervisor, f"/canned-replies/{team['reply_id']}", {"body": "14 days"})
    assert r.status_code == 200 and json.loads(r.body)["body"] == "14 days"
    assert put(agent2, f"/canned-replies/{team['reply_id']}", {"body": "1 day"}).status_code == 403
    r = supervisor.post("/canned-replies", {"title": "x", "body": "y", "scope": "team", "group_id": "nope"})
    assert r.status_code == 404  # no such skill group


def test_an_agent_cannot_promote_a_personal_reply_to_a_team_but_a_supervisor_can(api):
    agent1, supervisor = api("agent1"), api("supervisor")
    mine = create(agent1, title="Draft")
    r = put(agent1, f"/canned-replies/{mine['reply_id']}", {"scope": "team", "group_id": "presales"})
    assert r.status_code == 403
    own = create(supervisor, title="Supervisor's draft")
    r = put(supervisor, f"/canned-replies/{own['reply_id']}", {"scope": "team", "group_id": "presales"})
    assert r.status_code == 200
    assert titles(agent1) == ["Draft", "Supervisor's draft"]
    assert put(agent1, f"/canned-replies/{own['reply_id']}", {"title": "x"}).status_code == 403


def test_bad_bodies_are_400(api):
    agent1 = api("agent1")
    assert agent1.post("/canned-replies", {"title": "t", "body": "Hi {{customer.nmae}}"}).status_code == 400
    assert agent1.post("/canned-replies", {"title": "", "body": "b"}).status_code == 400
    assert (
        agent1.post("/canned-replies", {"title": "t", "body": "b", "shortcut": "no slash"}).status_code == 400
    )
    assert (
        agent1.post("/canned-replies", {"title": "t", "body": "b", "owner_id": "agent2"}).status_code == 400
    )
    assert agent1.post("/canned-replies", {"title": "t", "body": "b", "scope": "team"}).status_code == 400


# ---- search ---------------------------------------------------------------------------------------
def test_search_spans_personal_group_and_everyone_replies_shortcuts_first(api):
    agent2, supervisor = api("agent2"), api("supervisor")
    create(agent2, title="Quick refund note", body="Refund started.", shortcut="/refund-quick")
    create(
        supervisor,
        title="Refund policy",
        body="7 天无理由退款",
        shortcut="/refund",
        scope="team",
        group_id="aftersales",
    )
    create(supervisor, title="Late delivery", body="We refund shipping if late", scope="team", group_id="all")
    create(
        supervisor,
        title="退款流程 Refund steps",
        body="先寄回商品",
        tags=["退款"],
        scope="team",
        group_id="all",
    )
    create(supervisor, title="Presales refund", body="refund", scope="team", group_id="presales")
    assert titles(agent2, "q=/refund") == ["Refund policy", "Quick refund note"]
    assert titles(agent2, "q=REFUND") == [
        "Refund policy",  # shortcut equal
        "Quick refund note",  # shortcut prefix
        "退款流程 Refund steps",  # title
        "Late delivery",  # body
    ]
    assert titles(agent2, "q=退款") == ["退款流程 Refund steps", "Refund policy"]  # title, then body
    assert titles(agent2, "q=nothing+like+this") == []
    assert api("agent1").get("/canned-replies?group=aftersales").status_code == 403
    assert titles(supervisor, "q=refund&group=presales") == [
        "Presales refund",
        "退款流程 Refund steps",
        "Late delivery",
    ]


# ---- rendering ------------------------------------------------------------------------------------
def test_render_fills_customer_agent_and_given_order_and_counts_each_use(api):
    agent1 = api("agent1")
    reply = create(
        agent1,
        title="Hello",
        body="{{customer.name}}您好，我是{{agent.name}}，订单 {{order.number}} 已处理。",
    )
    cid = conversation("presales")
    path = f"/canned-replies/{reply['reply_id']}/render"
    r = agent1.post(path, {"conversation_id": cid, "order_number": "SO-77"})
    assert r.status_code == 200, r.body
    out = json.loads(r.body)
    assert out["text"] == "王小明您好，我是Agent1，订单 SO-77 已处理。"
    assert out["missing"] == [] and out["order_number"] == "SO-77"
    out = json.loads(agent1.post(path, {"conversation_id": cid}).body)
    assert (
        out["text"] == "王小明您好，我是Agent1，订单 {{order.number}} 已处理。"
    )  # no connector: left visible
    assert out["missing"] == ["order.number"] and out["orders_error"] == "orders service unavailable"
    listed = json.loads(agent1.get("/canned-replies").body)["items"]
    assert listed[0]["use_count"] == 2 and listed[0]["last_used_at"]


def test_render_takes_the_latest_order_from_the_connector(api, shop):
    boto3.client("secretsmanager", region_name="us-east-1").create_secret(
        Name=orders.secret_name(),
        SecretString=json.dumps({"url": shop.url, "auth_header": "Authorization", "auth_value": AUTH}),
    )
    supervisor = api("supervisor")
    reply = create(
        supervisor,
        title="Where is it",
        body="{{order.number}}: {{order.status}}, {{order.carrier}} {{order.tracking_number}}, "
        "{{order.total}}",
        scope="team",
        group_id="aftersales",
    )
    cid = conversation("aftersales", phone="+15550400002")
    agent2 = api("agent2")
    out = json.loads(
        agent2.post(f"/canned-replies/{reply['reply_id']}/render", {"conversation_id": cid}).body
    )
    assert out["text"] == "SO-2: shipped, SF Express SF1234567890, 129.90 CNY"
    assert shop.requests[0]["query"] == {"phone": ["+15550400002"]}
    out = json.loads(
        agent2.post(
            f"/canned-replies/{reply['reply_id']}/render", {"conversation_id": cid, "order_number": "SO-1"}
        ).body
    )
    assert out["text"] == "SO-1: delivered, {{order.carrier}} {{order.tracking_number}}, 89.00 CNY"
    assert out["missing"] == ["order.carrier", "order.tracking_number"]


def test_render_needs_access_to_both_the_reply_and_the_conversation(api):
    agent1, agent2, supervisor = api("agent1"), api("agent2"), api("supervisor")
    mine = create(agent1, title="Mine", body="{{customer.name}}")
    team = create(supervisor, title="After-sales", body="x", scope="team", group_id="aftersales")
    presales, aftersales = conversation("presales"), conversation("aftersales", phone="+15550400003")
    assert (
        agent1.post(f"/canned-replies/{mine['reply_id']}/render", {"conversation_id": aftersales}).status_code
        == 403
    )
    assert (
        agent2.post(f"/canned-replies/{mine['reply_id']}/render", {"conversation_id": aftersales}).status_code
        == 404
    )
    assert (
        agent1.post(f"/canned-replies/{team['reply_id']}/render", {"conversation_id": presales}).status_code
        == 404
    )
    assert (
        agent1.post(f"/canned-replies/{mine['reply_id']}/render", {"conversation_id": "cnv_nope"}).status_code
        == 404
    )
    assert agent1.post("/canned-replies/cr_nope/render", {"conversation_id": presales}).status_code == 404
    assert CannedReply.get(mine["reply_id"]).use_count == 0  # refused renders count nothing


def test_a_customer_without_a_name_leaves_the_variable_visible(api):
    agent1 = api("agent1")
    reply = create(agent1, title="Hi", body="Hi {{customer.name}}, {{agent.name}} here")
    cid = conversation("presales", name=None, phone="+15550400004")
    out = json.loads(
        agent1.post(f"/canned-replies/{reply['reply_id']}/render", {"conversation_id": cid}).body
    )
    assert out == {
        "reply_id": reply["reply_id"],
        "text": "Hi {{customer.name}}, Agent1 here",
        "missing": ["customer.name"],
        "order_number": None,
    }


# ---- races ----------------------------------------------------------------------------------------
def test_an_edit_based_on_a_stale_read_is_409_not_a_silent_overwrite(api):
    agent1 = api("agent1")
    reply = create(agent1, title="v0")
    path = f"/canned-replies/{reply['reply_id']}"
    assert put(agent1, path, {"title": "v1", "version": 0}).status_code == 200
    r = put(agent1, path, {"title": "v1 again", "version": 0})
    assert r.status_code == 409 and json.loads(r.body)["error"] == "conflict"
    assert titles(agent1) == ["v1"]


def test_the_write_itself_is_conditional_on_the_version_that_was_checked(api, monkeypatch):
    """A reply moved to a team between the owner's permission check and their write: the write
    fails (the check alone is not enough)."""
    from chalicelib.auth.service import Principal
    from chalicelib.canned.bodies import CannedReplyChanges

    agent1, supervisor = api("agent1"), api("supervisor")
    reply = create(supervisor, title="Supervisor's own")
    stale = CannedReply.get(reply["reply_id"])
    put(supervisor, f"/canned-replies/{reply['reply_id']}", {"scope": "team", "group_id": "presales"})
    monkeypatch.setattr(canned, "get_visible", lambda p, reply_id, groups=None: stale)
    boss = Principal("supervisor", "supervisor", frozenset({"supervisor"}))
    with pytest.raises(canned.Conflict):
        canned.update(boss, reply["reply_id"], CannedReplyChanges(title="overwritten"))
    with pytest.raises(canned.Conflict):
        canned.delete(boss, reply["reply_id"])
    monkeypatch.undo()
    assert CannedReply.get(reply["reply_id"]).title == "Supervisor's own"
    assert titles(agent1) == ["Supervisor's own"]


def test_usage_counts_are_atomic_adds(api):
    reply = create(api("agent1"), title="Counted")
    for _ in range(3):
        canned.record_use(reply["reply_id"])
    canned.record_use("cr_deleted_meanwhile")  # not counted, not created
    assert CannedReply.get(reply["reply_id"]).use_count == 3
    assert CannedReply.count("cr_deleted_meanwhile") == 0


def test_the_demo_seeds_team_replies_and_the_orders_connector_once_however_often_it_runs(aws):
    from chalicelib.agents import service as agents
    from infra.local import demo, orders_demo

    for group_id, name, description in demo.SKILL_GROUPS:
        agents.put_group(group_id, name, description)
    env = {"OMNIFLOW_STAGE": "test", "OMNIFLOW_PUBLIC_URL": "http://127.0.0.1:8123"}
    for _ in range(2):
        demo.seed_canned_replies()
        demo.seed_orders_connector(env)
    seeded = [
        r for key in ("all", "group#aftersales", "group#presales") for r in CannedReply.by_scope.query(key)
    ]
    assert sorted(r.shortcut for r in seeded) == sorted(r["shortcut"] for r in demo.CANNED_REPLIES)
    config = orders.connector_config()
    assert str(config.url) == "http://127.0.0.1:8123/demo/orders"
    assert config.headers()["Authorization"] == f"Bearer {orders_demo.demo_token()}"


def test_a_400_names_each_bad_field_so_a_form_can_show_it_next_to_the_field(api):
    agent1 = api("agent1")
    r = agent1.post("/canned-replies", {"title": "", "body": "b", "shortcut": "no slash"})
    assert r.status_code == 400
    answer = json.loads(r.body)
    assert answer["error"] == "bad_request" and answer["message"]
    assert set(answer["fields"]) == {"title", "shortcut"}
    assert all(isinstance(m, str) and m for m in answer["fields"].values())
    items = json.loads(agent1.get("/canned-replies").body)["items"]
    assert all(item["title"] != "" for item in items)  # nothing was written
