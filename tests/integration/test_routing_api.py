"""The routing side of the agent API: presence, inbox views and filters, transfer with a note,
priority, queue position, reopen, the supervisor's live queues, the admin's groups and agents —
each with its role check."""

from __future__ import annotations

import json
from typing import Any

from chalicelib.router import service as router
from tests.support.factories import inbound


def call(session: Any, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    raw = json.dumps(body if body is not None else {}).encode()
    r = session.client.http.request(method, path, headers=session._headers(), body=raw)
    return r.status_code, json.loads(r.body) if r.body else None


def arrive(user: str, text: str, channel: str = "sms") -> str:
    stored = router.store(inbound(channel=channel, user=user, text=text))
    assert stored is not None and stored.message is not None
    return stored.conversation.conversation_id


def test_presence_online_takes_waiting_work_and_offline_hands_it_back(api):
    agent1 = api("agent1")
    cid = arrive("+15551230001", "How much is the blue jacket in size M?")
    status, queue = call(agent1, "GET", "/conversations?view=queue")
    assert status == 200 and [c["conversation_id"] for c in queue["items"]] == [cid]

    status, me = call(agent1, "PUT", "/me/presence", {"presence": "online"})
    assert status == 200 and me["presence"] == "online" and me["load"]["chat"] == 1
    status, mine = call(agent1, "GET", "/conversations?view=mine")
    assert [c["conversation_id"] for c in mine["items"]] == [cid]

    assert call(agent1, "PUT", "/me/presence", {"presence": "asleep"})[0] == 400
    status, me = call(agent1, "PUT", "/me/presence", {"presence": "offline"})
    assert me["load"]["chat"] == 0
    status, queue = call(agent1, "GET", "/conversations?view=queue")
    assert [c["conversation_id"] for c in queue["items"]] == [cid]


def test_inbox_views_filters_and_paging(api):
    supervisor, agent1 = api("supervisor"), api("agent1")
    ids = [arrive(f"+155512301{i:02d}", f"price of item {i}?") for i in range(5)]
    web = arrive("visitor-1", "is this in stock?", channel="web")
    assert call(agent1, "GET", "/conversations?view=all")[0] == 403
    status, everything = call(supervisor, "GET", "/conversations?view=all&channel=web")
    assert status == 200 and [c["conversation_id"] for c in everything["items"]] == [web]

    seen: list[str] = []
    cursor = ""
    for _ in range(10):
        status, page = call(agent1, "GET", f"/conversations?view=queue&limit=2&cursor={cursor}")
        assert status == 200
        seen += [c["conversation_id"] for c in page["items"]]
        cursor = page["next_cursor"] or ""
        if not cursor:
            break
    assert sorted(seen) == sorted([*ids, web]) and len(seen) == len(set(seen))

    status, urgent = call(agent1, "PUT", f"/conversations/{ids[3]}/priority", {"priority": "urgent"})
    assert status == 200 and urgent["priority"] == "urgent"
    status, queue = call(agent1, "GET", "/conversations?view=queue")
    assert queue["items"][0]["conversation_id"] == ids[3]
    status, only = call(agent1, "GET", "/conversations?view=queue&priority=urgent")
    assert [c["conversation_id"] for c in only["items"]] == [ids[3]]
    status, position = call(agent1, "GET", f"/conversations/{ids[0]}/queue-position")
    assert status == 200 and position["queue"]["position"] == 2
    status, refused = call(agent1, "GET", "/conversations?view=everything")  # the query model's enum
    assert status == 400 and refused["error"] == "bad_request"


def test_transfer_with_a_note_and_supervisor_reassign(api):
    agent1, agent2, supervisor = api("agent1"), api("agent2"), api("supervisor")
    cid = arrive("+15551230201", "Which laptop is best for students?")
    call(agent1, "PUT", "/me/presence", {"presence": "online"})
    # agent2 is in after-sales: cannot see a pre-sales conversation, let alone transfer it
    assert call(agent2, "POST", f"/conversations/{cid}/transfer", {"to_group": "aftersales"})[0] == 403
    assert call(agent1, "POST", f"/conversations/{cid}/transfer", {})[0] == 400
    assert call(agent1, "POST", f"/conversations/{cid}/transfer", {"to_group": "nowhere"})[0] == 404
    status, moved = call(
        agent1, "POST", f"/conversations/{cid}/transfer", {"to_group": "aftersales", "note": "wants a refund"}
    )
    assert status == 200 and moved["assigned_to"] is None
    assert moved["conversation"]["group_id"] == "aftersales"
    status, view = call(agent2, "GET", f"/conversations/{cid}")
    assert status == 200
    notes = [m for m in view["messages"] if m.get("direction") == "note"]
    assert notes and "wants a refund" in notes[-1]["text"]

    call(agent2, "PUT", "/me/presence", {"presence": "online"})
    status, mine = call(agent2, "GET", "/conversations?view=mine")
    assert [c["conversation_id"] for c in mine["items"]] == [cid]  # came online, took it
    # a supervisor reassigns it to agent1
    status, moved = call(supervisor, "POST", f"/conversations/{cid}/transfer", {"to_agent": "agent1"})
    assert status == 200 and moved["assigned_to"] == "agent1"
    assert call(agent2, "POST", f"/conversations/{cid}/transfer", {"to_agent": "agent2"})[0] in (403, 409)


def test_close_frees_capacity_and_reopen(api):
    agent1 = api("agent1")
    call(agent1, "PUT", "/me/presence", {"presence": "online"})
    cid = arrive("+15551230301", "Is the jacket available in red?")
    assert call(agent1, "POST", f"/conversations/{cid}/close")[0] == 200
    assert call(agent1, "GET", "/admin/agents")[0] == 403  # supervisors and admins list agents
    status, reopened = call(agent1, "POST", f"/conversations/{cid}/reopen")
    assert status == 200 and reopened["status"] == "open" and reopened["assignee_id"] == "agent1"
    assert call(agent1, "POST", f"/conversations/{cid}/reopen")[0] == 409


def test_supervisor_queues_and_admin_configuration(api):
    agent1, supervisor, admin = api("agent1"), api("supervisor"), api("admin")
    arrive("+15551230401", "what colours does it come in?")
    assert call(agent1, "GET", "/supervisor/queues")[0] == 403
    status, view = call(supervisor, "GET", "/supervisor/queues")
    assert status == 200
    presales = next(g for g in view["groups"] if g["group_id"] == "presales")
    chat = next(q for q in presales["queues"] if q["channel_type"] == "chat")
    assert chat["waiting"] == 1 and chat["online"] == 0

    body = {"groups": ["presales", "aftersales"], "capacity": {"chat": 1}, "proficiency": {"presales": 5}}
    assert call(supervisor, "PUT", "/admin/agents/agent1", body)[0] == 403
    assert call(admin, "PUT", "/admin/agents/agent1", {"groups": ["mars"]})[0] == 400
    assert call(admin, "PUT", "/admin/agents/agent1", {"capacity": {"chat": 999}})[0] == 400
    status, agent = call(admin, "PUT", "/admin/agents/agent1", body)
    assert status == 200 and agent["groups"] == ["aftersales", "presales"] and agent["capacity"]["chat"] == 1
    status, agents = call(supervisor, "GET", "/admin/agents")
    assert "agent1" in {a["agent_id"] for a in agents["items"]}

    assert call(supervisor, "PUT", "/admin/groups/vip", {"name": "VIP desk"})[0] == 403
    assert call(admin, "PUT", "/admin/groups/Bad Id!", {"name": "x"})[0] == 400
    status, group = call(admin, "PUT", "/admin/groups/vip", {"name": "VIP desk", "lead_id": "supervisor"})
    assert status == 200 and group["lead_id"] == "supervisor"
    status, groups = call(agent1, "GET", "/admin/groups")
    assert {"presales", "aftersales", "vip"} <= {g["group_id"] for g in groups["items"]}
