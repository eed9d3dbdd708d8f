"""The OpenAPI document is one a client can build on: valid OpenAPI 3.1, every reference resolving,
query parameters typed with their enums, answers and errors described, security per route — and
the API does what it says: a query or body the document refuses is a 400 that changes nothing."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from openapi_spec_validator import validate

from chalicelib.api import ROUTES


def document(api: Any) -> dict[str, Any]:
    r = api(None).get("/openapi.json")
    assert r.status_code == 200
    doc: dict[str, Any] = json.loads(r.body)
    return doc


def refs(node: Any) -> Iterator[str]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str):
                yield value
            else:
                yield from refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from refs(value)


def resolve(doc: dict[str, Any], ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = doc
    for part in ref[2:].split("/"):
        assert isinstance(node, dict) and part in node, f"{ref} does not resolve"
        node = node[part]
    return node


def call(session: Any, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    raw = json.dumps(body) if body is not None else None
    r = session.client.http.request(method, path, headers=session._headers(), body=raw)
    return r.status_code, json.loads(r.body) if r.body else None


def test_the_document_is_valid_openapi_and_every_reference_resolves(api):
    doc = document(api)
    validate(doc)  # openapi-spec-validator: the OpenAPI 3.1 schema
    found = list(refs(doc))
    assert len(found) > 100
    for ref in found:
        resolve(doc, ref)
    assert not any("$defs" in ref for ref in found)
    for name in ("TemplateRef", "RuleMatch", "PolicyMatch", "AlertCustomer", "TagsBody", "Conversation"):
        assert name in doc["components"]["schemas"], name


def test_every_route_is_documented_with_security_answers_and_errors(api):
    doc = document(api)
    for route in ROUTES:
        for method in route.methods:
            op = doc["paths"][route.path][method.lower()]
            assert op["operationId"] and op["summary"], (method, route.path)
            expected = ([{"cognito": []}] if route.role else []) + (
                [{"apiClient": [route.scope]}] if route.scope else []
            )
            assert op["security"] == expected, (method, route.path)
            success = op["responses"][str(route.status)]
            assert route.status in (204, 302) or success["content"]["application/json"]["schema"], route.path
            assert "400" in op["responses"]
            if route.role:
                assert {"401", "403"} <= set(op["responses"]), (method, route.path)
            for status, answer in op["responses"].items():
                if status.startswith("4"):
                    schema = answer["content"]["application/json"]["schema"]
                    assert schema["allOf"][0] == {"$ref": "#/components/schemas/Error"}
    error = doc["components"]["schemas"]["Error"]
    assert error["required"] == ["error", "message"]
    reply_409 = doc["paths"]["/conversations/{conversation_id}/reply"]["post"]["responses"]["409"]
    codes = reply_409["content"]["application/json"]["schema"]["allOf"][1]["properties"]["error"]["enum"]
    assert {"conflict", "template_required", "reply_limit_reached"} <= set(codes)


def test_query_parameters_are_typed_with_their_enums_and_ranges(api):
    doc = document(api)
    inbox = {p["name"]: p for p in doc["paths"]["/conversations"]["get"]["parameters"]}
    assert set(inbox) >= {
        "view",
        "group",
        "channel",
        "priority",
        "tag",
        "status",
        "snoozed",
        "cursor",
        "limit",
    }
    assert inbox["view"]["schema"]["enum"] == ["mine", "queue", "all"]
    assert "wechat" in json.dumps(inbox["channel"]["schema"])
    assert '"maximum": 100' in json.dumps(inbox["limit"]["schema"])
    tickets = {p["name"]: p for p in doc["paths"]["/tickets"]["get"]["parameters"]}
    assert "pending_customer" in json.dumps(tickets["status"]["schema"])
    report = {p["name"] for p in doc["paths"]["/reports/sla"]["get"]["parameters"]}
    assert report == {"by", "from", "to"}
    path_params = doc["paths"]["/tickets/{ticket_id}"]["get"]["parameters"]
    assert path_params == [
        {"name": "ticket_id", "in": "path", "required": True, "schema": {"type": "string", "minLength": 1}}
    ]


def test_a_query_value_the_document_refuses_is_a_400(api):
    agent = api("agent1")
    for query in ("limit=0", "limit=101", "limit=x", "view=everything", "channel=pigeon", "priority=max"):
        status, body = call(agent, "GET", f"/conversations?{query}")
        assert status == 400 and body["error"] == "bad_request", (query, body)
    assert call(agent, "GET", "/conversations?view=mine&limit=5&channel=wechat")[0] == 200
    supervisor = api("supervisor")
    assert call(supervisor, "GET", "/reports/sla?from=yesterday")[0] == 400
    assert call(supervisor, "GET", "/tickets/at-risk?within=0")[0] == 400


def test_malformed_json_gets_the_error_shape_with_a_plain_message(api):
    r = api(None).post("/auth/login", b'{"username": "agent1", "password": ')
    assert r.status_code == 400
    assert json.loads(r.body) == {"error": "bad_request", "message": "the body is not valid JSON"}


def test_an_agent_configuration_that_fails_validation_changes_nothing(api):
    admin, agent1 = api("admin"), api("agent1")
    status, before = call(admin, "GET", "/admin/agents")
    before_agent1 = next(a for a in before["items"] if a["agent_id"] == "agent1")
    for bad in (
        {"capacity": {}, "groups": None, "proficiency": {"": 1}},  # the one that broke the item
        {"proficiency": {"presales": 0}},
        {"proficiency": {"presales": 6}},
        {"proficiency": {"Bad Id!": 3}},
        {"capacity": {"chat": -1}},
        {"capacity": {"sms": 2}},
        {"groups": ["Bad Id!"]},
    ):
        status, body = call(admin, "PUT", "/admin/agents/agent1", bad)
        assert status == 400 and body["error"] == "bad_request", (bad, body)
    _, after = call(admin, "GET", "/admin/agents")
    assert next(a for a in after["items"] if a["agent_id"] == "agent1") == before_agent1
    assert call(agent1, "GET", "/me")[0] == 200  # the item is still readable
    assert call(agent1, "GET", "/conversations?view=mine")[0] == 200
    good = {"capacity": {"chat": 3}, "proficiency": {"presales": 5}}
    status, agent = call(admin, "PUT", "/admin/agents/agent1", good)
    assert status == 200 and agent["capacity"]["chat"] == 3 and agent["proficiency"] == {"presales": 5}


def test_body_fields_carry_the_constraints_their_descriptions_state(api):
    schemas = document(api)["components"]["schemas"]
    agent = schemas["AgentConfigBody"]["properties"]
    capacity = agent["capacity"]["anyOf"][0]
    assert capacity["propertyNames"]["pattern"] == "^(chat|email|voice)$"
    assert (capacity["additionalProperties"]["minimum"], capacity["additionalProperties"]["maximum"]) == (
        0,
        50,
    )
    proficiency = agent["proficiency"]["anyOf"][0]["additionalProperties"]
    assert (proficiency["minimum"], proficiency["maximum"]) == (1, 5)
    assert "wechat" in schemas["ReplyBody"]["properties"]["channel"]["anyOf"][0]["enum"]
    assert "pattern" in schemas["CalendarUpdate"]["properties"]["time_zone"]
    assert "all" in schemas["CannedReplyBody"]["properties"]["group_id"]["anyOf"][0]["pattern"]
    policy_channels = schemas["PolicyMatch"]["properties"]["channels"]["anyOf"][0]["items"]
    assert "sms" in policy_channels["enum"]


def test_a_reply_on_an_unknown_channel_or_an_sla_policy_naming_one_is_refused(api):
    agent = api("agent1")
    status, body = call(agent, "POST", "/conversations/cnv_x/reply", {"text": "hi", "channel": "pigeon"})
    assert status == 400 and "unknown channel" in body["message"]
    admin = api("admin")
    policy = {
        "policy_id": "p1",
        "name": "P",
        "match": {"channels": ["pigeon"]},
        "targets": {"resolution_minutes": 60},
    }
    status, body = call(admin, "PUT", "/admin/sla-policies", {"version": 0, "policies": [policy]})
    assert status == 400 and "unknown channel" in body["message"]
