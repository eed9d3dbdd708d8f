"""What the agent API answers: JSON schemas of each route's success body (HTTP glue, beside
``api.py``), named on the routes in ``app.py`` (``response=``) and published in the OpenAPI document.
The models they come from are named by dotted path and imported only when the document is built
(:func:`components`), so importing this module costs a core Lambda's cold start nothing.

Stored entities are answered as ``db.to_json`` renders them, so their schemas are derived from
the PynamoDB models themselves (:func:`entity`): a new attribute shows up in the document without
anyone remembering to add it. Pydantic models that are answered as they are (routing rules, SLA
policies, orders …) are referenced with :func:`model` and hoisted into ``components/schemas`` by
``chalicelib/openapi.py``. Objects stay open (``additionalProperties``), so adding a field to an
answer never breaks a client; the fields listed are the contract.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

Schema = dict[str, Any]

# Component name -> how to build its schema (entities) or the pydantic model's dotted path.
_ENTITIES: dict[str, Callable[[], Schema]] = {}
_STATIC: dict[str, Schema] = {}
MODELS: dict[str, str] = {}

STRING: Schema = {"type": "string"}
NULLABLE_STRING: Schema = {"type": ["string", "null"]}
INTEGER: Schema = {"type": "integer"}
NUMBER: Schema = {"type": "number"}
BOOLEAN: Schema = {"type": "boolean"}
STRINGS: Schema = {"type": "array", "items": STRING}
COUNTS: Schema = {"type": "object", "additionalProperties": NUMBER}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def obj(required: tuple[str, ...] = (), **properties: Schema) -> Schema:
    """An open object: the listed properties typed, ``required`` always present."""
    schema: Schema = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


def array(items: Schema) -> Schema:
    return {"type": "array", "items": items}


def nullable(schema: Schema) -> Schema:
    return {"anyOf": [schema, {"type": "null"}]}


def _load(path: str) -> Any:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)


def model(path: str) -> Schema:
    """A pydantic model (``"package.module:Class"``) answered as ``model_dump(mode="json")`` renders it."""
    name = path.rsplit(":", 1)[1]
    MODELS[name] = path
    return ref(name)


def models() -> list[type[BaseModel]]:
    return [_load(path) for path in MODELS.values()]


def components() -> dict[str, Schema]:
    """The entities' schemas, built from their PynamoDB models (imported now)."""
    return {**{name: build() for name, build in _ENTITIES.items()}, **_STATIC}


def _attribute(attr: Any) -> Schema:
    from pynamodb.attributes import (
        BooleanAttribute,
        ListAttribute,
        MapAttribute,
        NumberAttribute,
        NumberSetAttribute,
        UnicodeAttribute,
        UnicodeSetAttribute,
    )

    if isinstance(attr, UnicodeSetAttribute):
        return STRINGS
    if isinstance(attr, NumberSetAttribute):
        return array(NUMBER)
    if isinstance(attr, UnicodeAttribute):
        return STRING
    if isinstance(attr, NumberAttribute):
        return NUMBER
    if isinstance(attr, BooleanAttribute):
        return BOOLEAN
    if isinstance(attr, MapAttribute):
        return {"type": "object"}
    if isinstance(attr, ListAttribute):
        return {"type": "array"}
    return {}  # JSON attributes: any JSON value


def entity(
    name: str,
    path: str,
    *,
    omit: tuple[str, ...] = (),
    always: tuple[str, ...] = (),
    **extra: Schema,
) -> Schema:
    """The schema of ``db.to_json(item)`` for the PynamoDB model at ``path`` minus ``omit`` plus
    ``extra``: absent attributes are left out (so only the keys and ``always`` are required),
    present ones are never null."""

    def build() -> Schema:
        attributes = _load(path).get_attributes()
        properties = {k: _attribute(a) for k, a in attributes.items() if k not in omit}
        properties.update(extra)
        keys = [k for k, a in attributes.items() if (a.is_hash_key or a.is_range_key) and k not in omit]
        return obj(tuple(dict.fromkeys([*keys, *always])), **properties)

    _ENTITIES[name] = build
    return ref(name)


# ---- entities ---------------------------------------------------------------------------------------
CONVERSATION = entity(
    "Conversation",
    "chalicelib.conversations.models:Conversation",
    omit=(
        "queue_key",
        "queue_rank",
        "dequeued_from",
        "owner_key",
        "next_seq",
        "last_reply_context",
        "sla_execution_arn",
    ),
    always=("channels",),
    customer=obj(("customer_id",), customer_id=STRING, display_name=NULLABLE_STRING),
)
MESSAGE = entity(
    "Message",
    "chalicelib.conversations.models:Message",
    omit=("dedupe_key", "mailbox_key", "expires_at", "reply_context"),
)
CUSTOMER = entity(
    "Customer",
    "chalicelib.identity.models:Customer",
    omit=("version",),
    always=("phones", "emails", "unionids", "tags"),
)
IDENTITY = entity("Identity", "chalicelib.identity.models:Identity")
GROUP = entity("SkillGroup", "chalicelib.agents.models:SkillGroup")
TICKET = entity(
    "Ticket",
    "chalicelib.tickets.models:Ticket",
    progress=obj(),
)
TICKET_EVENT = entity(
    "TicketEvent", "chalicelib.tickets.models:TicketEvent", always=("at", "public"), at=STRING, public=BOOLEAN
)
CANNED_REPLY = entity(
    "CannedReply",
    "chalicelib.canned.models:CannedReply",
    omit=("scope_key",),
    always=("tags", "variables"),
    variables=STRINGS,
    editable=BOOLEAN,
)
AUDIT_RECORD = entity("AuditRecord", "chalicelib.audit.models:AuditRecord")
_STATIC["AgentView"] = obj(
    ("agent_id", "groups", "capacity", "load", "proficiency"),
    agent_id=STRING,
    display_name=NULLABLE_STRING,
    role=NULLABLE_STRING,
    groups=STRINGS,
    presence=NULLABLE_STRING,
    presence_at=NULLABLE_STRING,
    capacity=COUNTS,
    load=COUNTS,
    proficiency=COUNTS,
)
AGENT = ref("AgentView")

# ---- answers --------------------------------------------------------------------------------------
HEALTH = obj(("status", "stage"), status={"const": "ok"}, stage=STRING)
LOGIN = obj(
    ("id_token", "access_token", "expires_in", "agent"),
    id_token=STRING,
    access_token=STRING,
    refresh_token=NULLABLE_STRING,
    expires_in=INTEGER,
    agent=obj(("agent_id", "role"), agent_id=STRING, role=STRING, email=NULLABLE_STRING),
)
OPENAPI = obj(("openapi", "info", "paths"), openapi=STRING, info=obj(), paths=obj())
ME = obj(
    ("agent_id", "role", "display_name", "groups", "presence"),
    agent_id=STRING,
    role=STRING,
    display_name=STRING,
    groups=STRINGS,
    presence=STRING,
)
EVENTS = obj(
    ("events", "cursor"),
    events=array(
        obj(
            ("event_id", "kind", "at", "data"),
            event_id=STRING,
            kind=STRING,
            at=STRING,
            conversation_id=STRING,
            data=obj(),
        )
    ),
    cursor=STRING,
    reset=BOOLEAN,
)
PAGE_CURSOR = NULLABLE_STRING
INBOX = obj(("items",), items=array(CONVERSATION), next_cursor=PAGE_CURSOR)
CONVERSATION_VIEW = obj(
    ("conversation", "customer", "identities", "conversations", "messages"),
    conversation=CONVERSATION,
    customer=CUSTOMER,
    identities=array(IDENTITY),
    conversations=array(CONVERSATION),
    messages=array(MESSAGE),
)
QUEUE_POSITION = obj(
    ("conversation_id", "queue"),
    conversation_id=STRING,
    queue=nullable(
        obj(("position", "estimated_wait_seconds"), position=INTEGER, estimated_wait_seconds=NUMBER)
    ),
)
MESSAGE_ANSWER = obj(("message",), message=MESSAGE)
ATTACHMENT_LINK = obj(
    ("url", "content_type", "content_disposition", "expires_in"),
    url=STRING,
    content_type=STRING,
    content_disposition=STRING,
    expires_in=INTEGER,
)
ORDERS = obj(("orders",), orders=array(model("chalicelib.orders.models:Order")), error=STRING, reason=STRING)
CRM_CONTACTS = obj(
    ("account", "contacts"),
    account=STRING,
    contacts=array({"type": "object", "additionalProperties": {"anyOf": [STRING, STRINGS]}}),
    matched_by=NULLABLE_STRING,
    error=STRING,
    reason=STRING,
)
BUSINESS_EVENT_ANSWER = obj(
    ("event_id", "type", "status"),
    event_id=STRING,
    type=STRING,
    status={"type": "string", "enum": ["received", "sent", "held", "suppressed"]},
    reason=NULLABLE_STRING,
    rule_id=NULLABLE_STRING,
    customer_id=NULLABLE_STRING,
    channel=NULLABLE_STRING,
    template=NULLABLE_STRING,
    conversation_id=NULLABLE_STRING,
    seq={"type": ["integer", "null"]},
    due_at=NULLABLE_STRING,
    created_at=STRING,
    updated_at=STRING,
    duplicate=BOOLEAN,
)
BUSINESS_EVENTS = obj(
    ("customer_id", "items"),
    customer_id=STRING,
    items=array(
        obj(
            ("event_id", "type", "occurred_at"),
            event_id=STRING,
            type=STRING,
            occurred_at=STRING,
            received_at=STRING,
            source=STRING,
            data={"type": "object"},
        )
    ),
)
CUSTOMER_360 = obj(
    ("customer_id", "conversations", "next_cursor"),
    customer_id=STRING,
    conversations=array(CONVERSATION),
    next_cursor=PAGE_CURSOR,
    customer=CUSTOMER,
    identities=array(IDENTITY),
    tickets=array(TICKET),
    orders=array(model("chalicelib.orders.models:Order")),
    orders_error=obj(),
)
AUTO_TAG_SUPPRESSED = obj(("customer_id", "suppressed_tags"), customer_id=STRING, suppressed_tags=STRINGS)
CUSTOMER_ANSWER = obj(("customer",), customer=CUSTOMER)
CONTACTS = obj(("customer_id", "phones", "emails"), customer_id=STRING, phones=STRINGS, emails=STRINGS)
MERGE = obj(
    ("source_customer_id",),
    source_customer_id=STRING,
    identities=array({}),
    conversations=array({}),
    source_snapshot=obj(),
)
AUDIT = obj(("items",), items=array(AUDIT_RECORD))
AUDIT_PAGE = obj(("items",), items=array(AUDIT_RECORD), next_cursor=PAGE_CURSOR)
EXPORT = obj(
    ("format", "customer_id", "exported_at", "profile", "identities", "conversations", "tickets"),
    format=STRING,
    customer_id=STRING,
    exported_at=STRING,
    profile=array(obj()),
    identities=array(obj()),
    conversations=array(obj()),
    tickets=array(obj()),
    csat=array(obj()),
    tags=STRINGS,
    consents=obj(),
    audit=array(AUDIT_RECORD),
)
EXPORT_JOB = obj(
    ("customer_id", "export_id", "status"),
    customer_id=STRING,
    export_id=STRING,
    status={"type": "string", "enum": ["pending", "done"]},
    requested_at=NULLABLE_STRING,
    done_at=NULLABLE_STRING,
    size_bytes={"type": "integer"},
    url=STRING,
    expires_in={"type": "integer"},
)
ERASURE = obj(
    ("customer_id", "status"),
    customer_id=STRING,
    status={"type": "string", "enum": ["pending", "running", "done"]},
    requested_at=NULLABLE_STRING,
    requested_by=NULLABLE_STRING,
    done_at=NULLABLE_STRING,
    erased=obj(),
)
TICKET_ANSWER = obj(("ticket",), ticket=TICKET)
TICKETS = obj(("items",), items=array(TICKET), next_cursor=PAGE_CURSOR)
TICKET_VIEW = obj(
    ("ticket", "history", "children", "conversations"),
    ticket=TICKET,
    history=array(TICKET_EVENT),
    children=array(TICKET),
    conversations=array(CONVERSATION),
)
ALERT_TICKET = obj(
    ("ticket_id", "number", "created"),
    ticket_id=STRING,
    number={"type": ["integer", "null"]},
    created=BOOLEAN,
)
COMMENT = obj(("event",), event=TICKET_EVENT, conversation_id=STRING, seq=INTEGER)
CANNED_LIST = obj(("items",), items=array(CANNED_REPLY))
CANNED_DELETED = obj(("reply_id", "deleted"), reply_id=STRING, deleted={"const": True})
CANNED_RENDERED = obj(
    ("reply_id", "text", "missing"),
    reply_id=STRING,
    text=STRING,
    missing=STRINGS,
    order_number=NULLABLE_STRING,
)
SUPERVISOR_QUEUES = obj(
    ("groups",),
    groups=array(
        obj(
            ("group_id", "queues", "agents"),
            group_id=STRING,
            queues=array(obj(("channel_type",), channel_type=STRING)),
            agents=array(obj(("agent_id",), agent_id=STRING)),
        )
    ),
)
GROUPS = obj(("items",), items=array(GROUP))
AGENTS = obj(("items",), items=array(AGENT))
CHANNEL_ACCOUNTS = obj(
    ("items",),
    items=array(
        obj(
            ("channel", "webhook", "required_fields", "accounts"),
            channel=STRING,
            webhook=BOOLEAN,
            required_fields=STRINGS,
            known_fields=STRINGS,
            secret_name=STRING,
            accounts=array(
                obj(("account", "fields", "missing"), account=STRING, fields=STRINGS, missing=STRINGS)
            ),
        )
    ),
)
CHANNEL_ACCOUNT = obj(
    ("channel", "account", "fields", "created"),
    channel=STRING,
    account=STRING,
    fields=STRINGS,
    created=BOOLEAN,
    max_age_seconds=INTEGER,
)
ROUTING_RULES = obj(
    ("version", "rules"),
    version=INTEGER,
    rules=array(model("chalicelib.routing.rules:Rule")),
    updated_at=NULLABLE_STRING,
    updated_by=NULLABLE_STRING,
)
DRY_RUN = obj(("decision", "at"), decision=obj(), at=STRING)
CALENDAR = obj(
    ("name", "version"),
    name=STRING,
    version=INTEGER,
    updated_at=NULLABLE_STRING,
    updated_by=NULLABLE_STRING,
    timezone=STRING,
)
CALENDARS = obj(("items",), items=array(CALENDAR))
SLA_POLICIES = obj(
    ("version", "policies"),
    version=INTEGER,
    policies=array(model("chalicelib.sla.policies:SlaPolicy")),
    default=nullable(model("chalicelib.sla.policies:SlaPolicy")),
    updated_at=NULLABLE_STRING,
    updated_by=NULLABLE_STRING,
)
SLA_REPORT = obj(
    ("by", "from", "to", "items"),
    by=STRING,
    to=STRING,
    items=array(obj(("met", "breached"), met=INTEGER, breached=INTEGER)),
    **{"from": STRING},
)
AT_RISK = obj(("items",), items=array(obj(("ticket_id",), ticket_id=STRING)), as_of=STRING)

# Outgoing webhooks (chalicelib/webhooks)
WEBHOOK_ENDPOINT = obj(
    ("endpoint_id", "secret"), endpoint_id=STRING, secret=STRING, url=STRING, events=STRINGS
)
WEBHOOK_ROTATION = obj(
    ("endpoint_id", "secret"), endpoint_id=STRING, secret=STRING, previous_expires_at=STRING
)
API_CLIENT = obj(
    ("client_id", "name", "scopes", "rate_limit", "enabled"),
    client_id=STRING,
    name=STRING,
    scopes=STRINGS,
    rate_limit=INTEGER,
    enabled=BOOLEAN,
    created_at=STRING,
    created_by=STRING,
    secret_rotated_at=NULLABLE_STRING,
    client_secret=STRING,
)
API_CLIENTS = obj(("items",), items=array(API_CLIENT))
CLIENT_TOKEN = obj(
    ("access_token", "token_type", "expires_in"),
    access_token=STRING,
    token_type=STRING,
    expires_in=INTEGER,
    scope=STRING,
)
WEBHOOK_STATE = obj(
    ("endpoint_id", "url", "events", "enabled"),
    endpoint_id=STRING,
    url=STRING,
    events=STRINGS,
    enabled=BOOLEAN,
    disabled_reason=NULLABLE_STRING,
    failing_since=NULLABLE_STRING,
    created_at=STRING,
    created_by=STRING,
)
WEBHOOK_ENDPOINTS = obj(("items",), items=array(WEBHOOK_STATE))
WEBHOOK_DELIVERIES = obj(
    ("endpoint_id", "messages"),
    endpoint_id=STRING,
    messages=array(
        obj(
            ("msg_id", "event_type", "status", "attempts"),
            msg_id=STRING,
            event_type=STRING,
            status=STRING,
            created_at=STRING,
            attempts=array(
                obj(
                    ("attempt", "ok"),
                    attempt=INTEGER,
                    at=STRING,
                    ok=BOOLEAN,
                    response_code={"type": ["integer", "null"]},
                    latency_ms=INTEGER,
                    error=NULLABLE_STRING,
                )
            ),
        )
    ),
)
WEBHOOK_REPLAY = obj(("endpoint_id", "queued"), endpoint_id=STRING, queued=STRINGS)
