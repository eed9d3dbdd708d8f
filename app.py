"""Omniflow core — the table of contents of the system.

Routes (served under API Gateway stage ``/api``), queue consumers and state-machine hooks, each a
few lines delegating to one service in ``chalicelib/``. Channel webhooks are separate Lambdas
(``functions/``); see README.md, "Architecture".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalice import Chalice, Response
from chalice.app import SQSEvent

from chalicelib import api, workspace
from chalicelib.agents import service as agents
from chalicelib.api import LoginBody, MergeBody, ReplyBody, route
from chalicelib.audit import service as audit
from chalicelib.auth import service as auth
from chalicelib.config import settings
from chalicelib.conversations import service as conversations
from chalicelib.db import to_json
from chalicelib.identity import service as identity
from chalicelib.observability import metrics
from chalicelib.outbound import service as outbound
from chalicelib.router import service as router
from chalicelib.sla import service as sla

app = Chalice(app_name="omniflow")
app.api.binary_types = []  # every API body is JSON text
S = settings()


@app.middleware("all")
def observe(event: Any, get_response: Any) -> Any:
    """Flush EMF metrics after every invocation, whatever its trigger."""
    try:
        return get_response(event)
    finally:
        metrics.flush_metrics()


# ---- public ----------------------------------------------------------------------------------------
@route(app, "/health", role=None)
def health() -> dict[str, str]:
    """Liveness and readiness: answers once DynamoDB is reachable."""
    agents.get_agent("__health__")
    return {"status": "ok", "stage": S.stage}


@route(app, "/openapi.json", role=None)
def openapi() -> dict[str, Any]:
    """The OpenAPI document of this API."""
    return api.openapi("Omniflow agent API", "0.1.0")


@route(app, "/auth/login", role=None, methods=("POST",), body=LoginBody)
def login() -> dict[str, Any]:
    """Exchange username and password for Cognito tokens."""
    b = api.body(app, LoginBody)
    return auth.login(b.username, b.password)


# ---- agent workspace ---------------------------------------------------------------------------------
@route(app, "/me", role="agent")
def me() -> dict[str, Any]:
    """The signed-in agent's profile, role and skill groups."""
    p = api.principal()
    agent = agents.get_agent(p.agent_id)
    return {
        "agent_id": p.agent_id,
        "role": p.role,
        "display_name": agent.display_name if agent else p.agent_id,
        "groups": sorted(agent.groups or []) if agent else [],
    }


@route(app, "/conversations", role="agent")
def list_conversations() -> dict[str, Any]:
    """Inbox: ?view=queue (waiting in my groups, or ?group=) or ?view=mine; ?cursor= pages."""
    q: Mapping[str, str] = api.request(app).query_params or {}
    return workspace.inbox(api.principal(), q.get("view", "queue"), q.get("group"), q.get("cursor"))


@route(app, "/conversations/{conversation_id}", role="agent")
def get_conversation(conversation_id: str) -> dict[str, Any]:
    """A conversation with its customer and their whole cross-channel history."""
    return workspace.conversation_view(api.principal(), conversation_id)


@route(app, "/conversations/{conversation_id}/claim", role="agent", methods=("POST",))
def claim_conversation(conversation_id: str) -> dict[str, Any]:
    """Take an unassigned conversation from the queue (exactly one agent wins)."""
    p = api.principal()
    workspace.check_access(p, conversations.get(conversation_id))
    return workspace.conversation_summary(conversations.claim(conversation_id, p.agent_id))


@route(app, "/conversations/{conversation_id}/reply", role="agent", methods=("POST",), body=ReplyBody)
def reply(conversation_id: str) -> Response:
    """Reply to the customer, on their last channel or the one chosen; returns the queued message."""
    p, b = api.principal(), api.body(app, ReplyBody)
    workspace.check_access(p, conversations.get(conversation_id))
    message = outbound.reply(
        conversation_id,
        p.agent_id,
        b.text,
        channel=b.channel,
        may_take_over=p.allows("supervisor"),
        template=b.template,
    )
    return Response(body={"message": workspace.message_view(message)}, status_code=202)


@route(app, "/conversations/{conversation_id}/close", role="agent", methods=("POST",))
def close_conversation(conversation_id: str) -> dict[str, Any]:
    """Close the conversation; the customer's next message opens a new one."""
    p = api.principal()
    workspace.check_access(p, conversations.get(conversation_id))
    closed = conversations.close(conversation_id, p.agent_id)
    sla.stop_first_response_clock(conversation_id, "conversation closed")
    return workspace.conversation_summary(closed)


# ---- customers ---------------------------------------------------------------------------------------
@route(app, "/customers/{customer_id}", role="agent")
def get_customer(customer_id: str) -> dict[str, Any]:
    """A customer's profile, identities and conversations."""
    customer = identity.get_customer(customer_id)
    return {
        "customer": workspace.customer_view(customer),
        "identities": [to_json(i) for i in identity.identities_of(customer.customer_id)],
        "conversations": [
            workspace.conversation_summary(c) for c in conversations.conversations_of(customer.customer_id)
        ],
    }


@route(app, "/customers/{customer_id}/merge", role="supervisor", methods=("POST",), body=MergeBody)
def merge_customers(customer_id: str) -> dict[str, Any]:
    """Fold another customer into this one (audited; the record allows undoing it)."""
    b = api.body(app, MergeBody)
    return identity.merge(customer_id, b.source_customer_id, api.principal().agent_id)


@route(app, "/customers/{customer_id}/audit", role="supervisor")
def customer_audit(customer_id: str) -> dict[str, Any]:
    """Who did what to this customer's record."""
    return {"items": [to_json(r) for r in audit.history(f"customer#{customer_id}")]}


# ---- queue consumers -----------------------------------------------------------------------------
@app.on_sqs_message(queue=S.queue_name("inbound"), batch_size=10)
def route_inbound(event: SQSEvent) -> dict[str, Any]:
    """Inbound FIFO queue → identity, conversation, routing, SLA clock."""
    return router.route_batch(event.to_dict())


@app.on_sqs_message(queue=S.queue_name("outbound"), batch_size=10)
def send_outbound(event: SQSEvent) -> dict[str, Any]:
    """Outbound FIFO queue → the channel's send API → delivery status."""
    return outbound.send_batch(event.to_dict())


@app.on_sqs_message(queue=S.queue_name("events"), batch_size=10)
def handle_event(event: SQSEvent) -> dict[str, Any]:
    """Events from the SLA state machine (breaches) → the conversation's timeline."""
    return sla.handle_batch(event.to_dict())
