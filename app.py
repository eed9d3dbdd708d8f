"""Omniflow core — the table of contents of the system.

Routes (served under API Gateway stage ``/api``), queue consumers and state-machine hooks, each a
few lines delegating to one service in ``chalicelib/``. Channel webhooks are separate Lambdas
(``functions/``); see README.md, "Architecture".
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from chalice import Chalice, Rate, Response
from chalice.app import CloudWatchEvent, SQSEvent

from chalicelib import api, bootstrap
from chalicelib import responses as R
from chalicelib.analytics.outbox import batched as analytics_batched
from chalicelib.api import route
from chalicelib.auth import service as auth
from chalicelib.config import settings
from chalicelib.console import service as console
from chalicelib.db import identity_map, to_json
from chalicelib.lazy import lazy
from chalicelib.observability import invocation, metrics
from chalicelib.paging import decode_cursor, encode_cursor

# Request and query models of the capabilities are named here and built on first use (api.Models):
# the router and the sender never pay for the models of routes they do not serve.
if TYPE_CHECKING:
    from chalicelib import queries as Q
    from chalicelib.alerts.bodies import AlertRuleBody
    from chalicelib.assist.bodies import SuggestionUsedBody
    from chalicelib.auth.bodies import ApiClientBody, TokenBody
    from chalicelib.bot.bodies import FlowSetUpdate
    from chalicelib.calendars.hours import CalendarUpdate
    from chalicelib.canned.bodies import CannedReplyBody, CannedReplyChanges, RenderBody
    from chalicelib.channels.accounts import ChannelAccountBody
    from chalicelib.kb.bodies import ArticleBody, ArticleChanges, FeedbackBody, RollbackBody, SynonymsBody
    from chalicelib.payloads import (
        AgentConfigBody,
        CustomerPatchBody,
        GroupBody,
        LoginBody,
        MergeBody,
        NoteBody,
        PresenceBody,
        PriorityBody,
        ReplyBody,
        SnoozeBody,
        TagsBody,
        TicketLinkBody,
        TransferBody,
    )
    from chalicelib.proactive.bodies import BusinessEventBody
    from chalicelib.proactive.rules import ProactiveRulesUpdate
    from chalicelib.quality.bodies import AppealBody, CheckBody, DecisionBody, ReviewBody
    from chalicelib.quality.rules import QualityRulesUpdate
    from chalicelib.routing.rules import DryRun, RuleSetUpdate
    from chalicelib.sla.policies import PolicySetUpdate
    from chalicelib.tickets.bodies import (
        AlertBody,
        CommentBody,
        FromConversationBody,
        SubticketBody,
        TicketBody,
        TicketPatch,
    )
    from chalicelib.webhooks.bodies import EndpointBody, ReplayBody
else:
    Q = api.Models("chalicelib.queries")
    _payloads = api.Models("chalicelib.payloads")
    AgentConfigBody, CustomerPatchBody, GroupBody, LoginBody, MergeBody = (
        _payloads.AgentConfigBody,
        _payloads.CustomerPatchBody,
        _payloads.GroupBody,
        _payloads.LoginBody,
        _payloads.MergeBody,
    )
    NoteBody, PresenceBody, PriorityBody, ReplyBody, SnoozeBody = (
        _payloads.NoteBody,
        _payloads.PresenceBody,
        _payloads.PriorityBody,
        _payloads.ReplyBody,
        _payloads.SnoozeBody,
    )
    TagsBody, TicketLinkBody, TransferBody = (
        _payloads.TagsBody,
        _payloads.TicketLinkBody,
        _payloads.TransferBody,
    )
    AlertRuleBody = api.Models("chalicelib.alerts.bodies").AlertRuleBody
    SuggestionUsedBody = api.Models("chalicelib.assist.bodies").SuggestionUsedBody
    ApiClientBody, TokenBody = (
        api.Models("chalicelib.auth.bodies").ApiClientBody,
        api.Models("chalicelib.auth.bodies").TokenBody,
    )
    FlowSetUpdate = api.Models("chalicelib.bot.bodies").FlowSetUpdate
    CalendarUpdate = api.Models("chalicelib.calendars.hours").CalendarUpdate
    _canned = api.Models("chalicelib.canned.bodies")
    CannedReplyBody, CannedReplyChanges, RenderBody = (
        _canned.CannedReplyBody,
        _canned.CannedReplyChanges,
        _canned.RenderBody,
    )
    ChannelAccountBody = api.Models("chalicelib.channels.accounts").ChannelAccountBody
    _kb = api.Models("chalicelib.kb.bodies")
    ArticleBody, ArticleChanges, FeedbackBody, RollbackBody, SynonymsBody = (
        _kb.ArticleBody,
        _kb.ArticleChanges,
        _kb.FeedbackBody,
        _kb.RollbackBody,
        _kb.SynonymsBody,
    )
    _quality = api.Models("chalicelib.quality.bodies")
    AppealBody, CheckBody, DecisionBody, ReviewBody = (
        _quality.AppealBody,
        _quality.CheckBody,
        _quality.DecisionBody,
        _quality.ReviewBody,
    )
    QualityRulesUpdate = api.Models("chalicelib.quality.rules").QualityRulesUpdate
    DryRun, RuleSetUpdate = (
        api.Models("chalicelib.routing.rules").DryRun,
        api.Models("chalicelib.routing.rules").RuleSetUpdate,
    )
    PolicySetUpdate = api.Models("chalicelib.sla.policies").PolicySetUpdate
    _tickets = api.Models("chalicelib.tickets.bodies")
    AlertBody, CommentBody, FromConversationBody, SubticketBody, TicketBody, TicketPatch = (
        _tickets.AlertBody,
        _tickets.CommentBody,
        _tickets.FromConversationBody,
        _tickets.SubticketBody,
        _tickets.TicketBody,
        _tickets.TicketPatch,
    )
    _webhooks = api.Models("chalicelib.webhooks.bodies")
    EndpointBody, ReplayBody = _webhooks.EndpointBody, _webhooks.ReplayBody
    BusinessEventBody = api.Models("chalicelib.proactive.bodies").BusinessEventBody
    ProactiveRulesUpdate = api.Models("chalicelib.proactive.rules").ProactiveRulesUpdate

# Services are imported on first use: each core Lambda (router, sender, API) pays at cold start only
# for what its own path runs. The type checker reads them as plain imports.
if TYPE_CHECKING:
    from chalicelib import kb, workspace
    from chalicelib import openapi as openapi_doc
    from chalicelib.agents import service as agents
    from chalicelib.alerts import service as alerts
    from chalicelib.analytics import aggregator as analytics_aggregator
    from chalicelib.analytics import forecast as analytics_forecast
    from chalicelib.analytics import reports as analytics
    from chalicelib.assignment import service as assignment
    from chalicelib.assist import suggestions
    from chalicelib.audit import service as audit
    from chalicelib.auth import clients as api_clients
    from chalicelib.bot import service as bot
    from chalicelib.bot import suggest as bot_suggest
    from chalicelib.calendars import service as calendars
    from chalicelib.canned import service as canned
    from chalicelib.channels import accounts as channel_accounts
    from chalicelib.conversations import actions as conversation_actions
    from chalicelib.conversations import merge as customer_merge
    from chalicelib.conversations import service as conversations
    from chalicelib.feed import service as feed
    from chalicelib.identity import profile
    from chalicelib.identity import service as identity
    from chalicelib.insight import service as insight
    from chalicelib.kb import params as kb_api
    from chalicelib.kb import service as kb_service
    from chalicelib.kb import stats as kb_stats
    from chalicelib.media import service as media
    from chalicelib.orders import business as business_events
    from chalicelib.orders import crm
    from chalicelib.orders import service as orders
    from chalicelib.outbound import service as outbound
    from chalicelib.privacy import erasure
    from chalicelib.privacy import export as privacy_export
    from chalicelib.proactive import service as proactive
    from chalicelib.quality import reviews as quality_reviews
    from chalicelib.quality import scorecards
    from chalicelib.quality import service as quality
    from chalicelib.router import service as router
    from chalicelib.routing import service as routing_rules
    from chalicelib.routing import surge as routing_surge
    from chalicelib.sla import policies as sla_policies
    from chalicelib.sla import reports as sla_reports
    from chalicelib.sla import service as sla
    from chalicelib.tickets import service as tickets
    from chalicelib.webhooks import delivery as webhook_delivery
    from chalicelib.webhooks import service as webhooks
else:
    kb = lazy("chalicelib.kb")
    openapi_doc = lazy("chalicelib.openapi")
    agents = lazy("chalicelib.agents.service")
    assignment = lazy("chalicelib.assignment.service")
    suggestions = lazy("chalicelib.assist.suggestions")
    audit = lazy("chalicelib.audit.service")
    api_clients = lazy("chalicelib.auth.clients")
    bot = lazy("chalicelib.bot.service")
    bot_suggest = lazy("chalicelib.bot.suggest")
    calendars = lazy("chalicelib.calendars.service")
    canned = lazy("chalicelib.canned.service")
    channel_accounts = lazy("chalicelib.channels.accounts")
    conversation_actions = lazy("chalicelib.conversations.actions")
    customer_merge = lazy("chalicelib.conversations.merge")
    conversations = lazy("chalicelib.conversations.service")
    feed = lazy("chalicelib.feed.service")
    profile = lazy("chalicelib.identity.profile")
    identity = lazy("chalicelib.identity.service")
    insight = lazy("chalicelib.insight.service")
    kb_api = lazy("chalicelib.kb.params")
    kb_service = lazy("chalicelib.kb.service")
    kb_stats = lazy("chalicelib.kb.stats")
    media = lazy("chalicelib.media.service")
    orders = lazy("chalicelib.orders.service")
    crm = lazy("chalicelib.orders.crm")
    business_events = lazy("chalicelib.orders.business")
    outbound = lazy("chalicelib.outbound.service")
    proactive = lazy("chalicelib.proactive.service")
    erasure = lazy("chalicelib.privacy.erasure")
    privacy_export = lazy("chalicelib.privacy.export")
    quality_reviews = lazy("chalicelib.quality.reviews")
    scorecards = lazy("chalicelib.quality.scorecards")
    quality = lazy("chalicelib.quality.service")
    router = lazy("chalicelib.router.service")
    routing_rules = lazy("chalicelib.routing.service")
    routing_surge = lazy("chalicelib.routing.surge")
    sla_reports = lazy("chalicelib.sla.reports")
    analytics = lazy("chalicelib.analytics.reports")
    analytics_forecast = lazy("chalicelib.analytics.forecast")
    analytics_aggregator = lazy("chalicelib.analytics.aggregator")
    alerts = lazy("chalicelib.alerts.service")
    sla_policies = lazy("chalicelib.sla.policies")
    sla = lazy("chalicelib.sla.service")
    tickets = lazy("chalicelib.tickets.service")
    webhooks = lazy("chalicelib.webhooks.service")
    webhook_delivery = lazy("chalicelib.webhooks.delivery")
    workspace = lazy("chalicelib.workspace")

app = Chalice(app_name="omniflow")
bootstrap.install()  # who reacts to which event: chalicelib/bootstrap.py
# every API body is JSON text, but for the reports' Excel exports (API Gateway decodes those
# base64 answers for a client that sends Accept: <that type>, docs/metrics.md)
app.api.binary_types = ["application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"]
S = settings()


@app.middleware("all")
def observe(event: Any, get_response: Any) -> Any:
    """Every invocation, whatever its trigger, logs with its own Lambda context and none of the
    previous one's keys, and its own identity map (one read per fact, dropped at its end); EMF
    metrics are flushed after it. The analytics facts it published leave together at its end (one
    SQS message: counting runs off this path, chalicelib/analytics/outbox.py)."""
    try:
        with analytics_batched(), identity_map():
            return invocation(event, get_response)
    finally:
        metrics.flush_metrics()


# ---- public ----------------------------------------------------------------------------------------
@route(app, "/health", role=None, response=R.HEALTH)
def health() -> dict[str, str]:
    """Liveness and readiness: answers once DynamoDB is reachable."""
    agents.get_agent("__health__")
    return {"status": "ok", "stage": S.stage}


@route(app, "/openapi.json", role=None, response=R.OPENAPI)
def openapi() -> dict[str, Any]:
    """The OpenAPI document of this API."""
    return openapi_doc.document("Omniflow agent API", "0.1.0")


@route(app, "/auth/login", role=None, methods=("POST",), body=LoginBody, response=R.LOGIN, errors=(401,))
def login() -> dict[str, Any]:
    """Exchange username and password for Cognito tokens."""
    b = api.body(app, LoginBody)
    return auth.login(b.username, b.password)


# ---- agent workspace ---------------------------------------------------------------------------------
@route(app, "/me", role="agent", response=R.ME)
def me() -> dict[str, Any]:
    """The signed-in agent's profile, role and skill groups."""
    p = api.principal()
    agent = agents.get_agent(p.agent_id)
    return {
        "agent_id": p.agent_id,
        "role": p.role,
        "display_name": agent.display_name if agent else p.agent_id,
        "groups": sorted(agent.groups or []) if agent else [],
        "presence": (agent.presence if agent else None) or "offline",
    }


@route(app, "/me/presence", role="agent", methods=("PUT",), body=PresenceBody, response=R.AGENT)
def set_my_presence() -> dict[str, Any]:
    """Online (takes work), away or offline (hands open conversations back to the queue)."""
    agent = assignment.set_presence(api.principal().agent_id, api.body(app, PresenceBody).presence)
    return workspace.agent_view(agent)


@route(app, "/events", role="agent", query=Q.EventsQuery, response=R.EVENTS)
def events() -> dict[str, Any]:
    """Real-time feed: events for me, my skill groups (and supervisors) after ?cursor=; without a
    cursor, none and a cursor from now. Poll every 1 s (docs/realtime.md)."""
    return feed.read(api.principal(), api.query(app, Q.EventsQuery).cursor)


@route(
    app,
    "/conversations",
    role="agent",
    scope="conversations:read",
    query=Q.InboxQuery,
    response=R.INBOX,
    errors=(404,),
)
def list_conversations() -> dict[str, Any]:
    """Inbox: ?view=mine | queue (my groups', or ?group=) | all (supervisors; ?status=open|closed);
    filters ?channel= ?priority= ?tag=; ?limit= and ?cursor= page."""
    q = api.query(app, Q.InboxQuery)
    filters = workspace.InboxFilters(
        channel=q.channel, priority=q.priority, tag=q.tag, status=q.status, include_snoozed=q.snoozed
    )
    return workspace.inbox(api.principal(), q.view, q.group, q.cursor, filters, q.limit)


@route(
    app,
    "/conversations/{conversation_id}",
    role="agent",
    scope="conversations:read",
    response=R.CONVERSATION_VIEW,
)
def get_conversation(conversation_id: str) -> dict[str, Any]:
    """A conversation with its customer and their whole cross-channel history."""
    return workspace.conversation_view(api.principal(), conversation_id)


@route(
    app, "/conversations/{conversation_id}/claim", role="agent", methods=("POST",), response=R.CONVERSATION
)
def claim_conversation(conversation_id: str) -> dict[str, Any]:
    """Take an unassigned conversation from the queue (exactly one agent wins)."""
    p = api.principal()
    workspace.check_access(p, conversations.get(conversation_id, consistent=True))
    return workspace.conversation_summary(assignment.claim(conversation_id, p.agent_id))


@route(
    app,
    "/conversations/{conversation_id}/transfer",
    role="agent",
    methods=("POST",),
    body=TransferBody,
    response=R.CONVERSATION,
)
def transfer_conversation(conversation_id: str) -> dict[str, Any]:
    """Hand the conversation to an agent or a skill group, with a private note for them."""
    p, b = api.principal(), api.body(app, TransferBody)
    workspace.check_access(p, conversations.get(conversation_id, consistent=True))
    return workspace.transfer(p, conversation_id, b.to_agent, b.to_group, b.note)


@route(
    app,
    "/conversations/{conversation_id}/priority",
    role="agent",
    methods=("PUT",),
    body=PriorityBody,
    response=R.CONVERSATION,
)
def set_conversation_priority(conversation_id: str) -> dict[str, Any]:
    """Change the priority (a waiting conversation moves to its new place in the queue)."""
    p = api.principal()
    workspace.check_access(p, conversations.get(conversation_id))
    return workspace.conversation_summary(
        assignment.set_priority(conversation_id, api.body(app, PriorityBody).priority)
    )


@route(app, "/conversations/{conversation_id}/queue-position", role="agent", response=R.QUEUE_POSITION)
def queue_position(conversation_id: str) -> dict[str, Any]:
    """A waiting conversation's place in its queue and estimated wait."""
    p = api.principal()
    conversation = conversations.get(conversation_id)
    workspace.check_access(p, conversation)
    return {"conversation_id": conversation_id, "queue": assignment.position(conversation)}


@route(
    app,
    "/conversations/{conversation_id}/reply",
    role="agent",
    scope="conversations:write",
    methods=("POST",),
    body=ReplyBody,
    response=R.MESSAGE_ANSWER,
    status=202,
)
def reply(conversation_id: str) -> Response:
    """Reply to the customer, on their last channel or the one chosen; returns the queued message.
    422 ``quality_blocked`` (nothing sent) when the text breaks a blocking quality rule; warnings
    are sent and recorded on the message."""
    p, b, c = api.principal(), api.body(app, ReplyBody), conversations.get(conversation_id)
    workspace.check_access(p, c)
    card = quality.reply_card(c, quality.screen_reply(c, b.text) if b.text else [])  # 422 on a block
    message = outbound.reply(
        conversation_id,
        p.agent_id,
        b.text,
        channel=b.channel,
        may_take_over=p.allows("supervisor"),
        template=b.template,
        quality=card,
    )
    return Response(body={"message": workspace.message_view(message, p)}, status_code=202)


@route(
    app, "/conversations/{conversation_id}/close", role="agent", methods=("POST",), response=R.CONVERSATION
)
def close_conversation(conversation_id: str) -> dict[str, Any]:
    """Close the conversation; the customer's next message opens a new one."""
    p = api.principal()
    workspace.check_access(p, conversations.get(conversation_id))
    closed = conversations.close(conversation_id, p.agent_id)
    sla.stop_first_response_clock(conversation_id, "conversation closed")
    assignment.closed(closed)
    quality.on_conversation_closed(closed)
    return workspace.conversation_summary(closed)


@route(
    app, "/conversations/{conversation_id}/reopen", role="agent", methods=("POST",), response=R.CONVERSATION
)
def reopen_conversation(conversation_id: str) -> dict[str, Any]:
    """Reopen a closed conversation, owned by whoever reopens it (409 if the customer has another
    open conversation: continue there)."""
    p = api.principal()
    workspace.check_access(p, conversations.get(conversation_id))
    return workspace.conversation_summary(assignment.reopen(conversation_id, p.agent_id))


@route(
    app,
    "/conversations/{conversation_id}/notes",
    role="agent",
    methods=("POST",),
    body=NoteBody,
    response=R.MESSAGE_ANSWER,
    status=201,
)
def add_note(conversation_id: str) -> Response:
    """A private note (never sent to the customer); @agent_id mentions notify those agents."""
    p, c = api.principal(), conversations.get(conversation_id)
    workspace.check_access(p, c)
    note = conversation_actions.add_note(c, p.agent_id, api.body(app, NoteBody).text)
    return Response(body={"message": workspace.message_view(note, p)}, status_code=201)


@route(
    app,
    "/conversations/{conversation_id}/tags",
    role="agent",
    methods=("PUT",),
    body=TagsBody,
    response=R.CONVERSATION,
)
def tag_conversation(conversation_id: str) -> dict[str, Any]:
    """Add and remove the conversation's tags."""
    p, c, b = api.principal(), conversations.get(conversation_id), api.body(app, TagsBody)
    workspace.check_access(p, c)
    return workspace.conversation_summary(conversation_actions.update_tags(c, p.agent_id, b.add, b.remove))


@route(
    app,
    "/conversations/{conversation_id}/snooze",
    role="agent",
    methods=("POST",),
    body=SnoozeBody,
    response=R.CONVERSATION,
)
def snooze_conversation(conversation_id: str) -> dict[str, Any]:
    """Hide it from "mine" until a time; the customer's next message wakes it sooner."""
    p, c = api.principal(), conversations.get(conversation_id)
    workspace.check_access(p, c)
    until = api.body(app, SnoozeBody).until
    return workspace.conversation_summary(conversation_actions.snooze(c, p.agent_id, until))


@route(
    app, "/conversations/{conversation_id}/snooze", role="agent", methods=("DELETE",), response=R.CONVERSATION
)
def wake_conversation(conversation_id: str) -> dict[str, Any]:
    """End a snooze now."""
    p, c = api.principal(), conversations.get(conversation_id)
    workspace.check_access(p, c)
    return workspace.conversation_summary(conversation_actions.unsnooze(c, p.agent_id))


@route(
    app,
    "/conversations/{conversation_id}/tickets",
    role="agent",
    methods=("POST",),
    body=TicketLinkBody,
    response=R.CONVERSATION,
)
def link_ticket(conversation_id: str) -> dict[str, Any]:
    """Link a ticket to the conversation."""
    p, c = api.principal(), conversations.get(conversation_id)
    workspace.check_access(p, c)
    ticket_id = api.body(app, TicketLinkBody).ticket_id
    return workspace.conversation_summary(conversation_actions.link_ticket(c, p.agent_id, ticket_id))


@route(
    app,
    "/conversations/{conversation_id}/tickets/{ticket_id}",
    role="agent",
    methods=("DELETE",),
    response=R.CONVERSATION,
)
def unlink_ticket(conversation_id: str, ticket_id: str) -> dict[str, Any]:
    """Remove a ticket link (404 if it is not linked)."""
    p, c = api.principal(), conversations.get(conversation_id)
    workspace.check_access(p, c)
    return workspace.conversation_summary(conversation_actions.unlink_ticket(c, p.agent_id, ticket_id))


# ---- media -------------------------------------------------------------------------------------------
@route(
    app,
    "/conversations/{conversation_id}/messages/{seq}/attachments/{index}",
    role="agent",
    query=Q.AttachmentQuery,
    status=302,
)
def open_attachment(conversation_id: str, seq: str, index: str) -> Response:
    """A file the customer sent: 302 to a 5-minute link (?redirect=0: the link as JSON), copied
    from the platform on first use; 409 when it cannot be had (expired, refused, local stack)."""
    p = api.principal()
    link = workspace.open_attachment(
        p, conversation_id, media.position(seq, "seq"), media.position(index, "index")
    )
    if api.query(app, Q.AttachmentQuery).redirect == "0":
        return Response(body=link.to_json(), status_code=200, headers={"Cache-Control": "no-store"})
    return Response(body="", status_code=302, headers={"Location": link.url, "Cache-Control": "no-store"})


# ---- customers ---------------------------------------------------------------------------------------
@route(
    app,
    "/customers/{customer_id}",
    role="agent",
    scope="customers:read",
    query=Q.CustomerQuery,
    response=R.CUSTOMER_360,
)
def get_customer(customer_id: str) -> dict[str, Any]:
    """Customer 360: profile, identities, conversations on every channel (?cursor= pages them),
    tickets and orders."""
    return workspace.customer_360(customer_id, api.query(app, Q.CustomerQuery).cursor, p=api.principal())


@route(app, "/customers/{customer_id}/reveal", role="agent", methods=("POST",), response=R.CONTACTS)
def reveal_customer_contacts(customer_id: str) -> dict[str, Any]:
    """The customer's phones and e-mails unmasked (agents see them masked elsewhere); audited."""
    return workspace.reveal_contacts(api.principal(), customer_id)


@route(
    app,
    "/customers/{customer_id}",
    role="agent",
    methods=("PATCH",),
    body=CustomerPatchBody,
    response=R.CUSTOMER_ANSWER,
)
def edit_customer(customer_id: str) -> dict[str, Any]:
    """Edit the customer's tags and attributes (audited; 409 on a merged-away customer)."""
    b = api.body(app, CustomerPatchBody)
    customer = profile.edit(
        customer_id,
        api.principal().agent_id,
        add_tags=b.tags.add if b.tags else [],
        remove_tags=b.tags.remove if b.tags else [],
        attributes=b.attributes,
    )
    return {"customer": workspace.customer_view(customer, api.principal())}


@route(
    app,
    "/customers/{customer_id}/auto-tags/{tag}",
    role="agent",
    methods=("DELETE",),
    response=R.AUTO_TAG_SUPPRESSED,
)
def suppress_auto_tag(customer_id: str, tag: str) -> dict[str, Any]:
    """Remove a wrong auto-tag (price-sensitive, after-sales-focused, high-value, complaint-risk);
    it is recorded on the customer and never set again."""
    return insight.suppress(customer_id, tag)


@route(
    app,
    "/customers/{customer_id}/merge",
    role="supervisor",
    methods=("POST",),
    body=MergeBody,
    response=R.MERGE,
)
def merge_customers(customer_id: str) -> dict[str, Any]:
    """Fold another customer into this one (audited; the record allows undoing it)."""
    b = api.body(app, MergeBody)
    return customer_merge.merge(customer_id, b.source_customer_id, api.principal().agent_id)


@route(app, "/customers/{customer_id}/audit", role="supervisor", response=R.AUDIT)
def customer_audit(customer_id: str) -> dict[str, Any]:
    """Who did what to this customer's record and who looked at it (action "view"), newest first."""
    return {"items": [to_json(r) for r in audit.history(f"customer#{customer_id}")]}


@route(app, "/audit", role="supervisor", query=Q.AuditQuery, response=R.AUDIT_PAGE, errors=(404,))
def audit_by_agent() -> dict[str, Any]:
    """Search the audit by agent: everything ?agent_id= changed or looked at, newest first (?cursor=)."""
    q = api.query(app, Q.AuditQuery)
    items, last = audit.by_actor(q.agent_id, q.limit, decode_cursor(q.cursor))
    return {"items": [to_json(r) for r in items], "next_cursor": encode_cursor(last)}


@route(app, "/customers/{customer_id}/export", role="supervisor", query=Q.ExportQuery, response=R.EXPORT)
def export_customer(customer_id: str) -> Response:
    """Everything held about the customer as one JSON document (right of access; audited); a large
    customer (or ?mode=async): 202 {status: pending, export_id}, then GET .../exports/{export_id}."""
    mode = api.query(app, Q.ExportQuery).mode
    status, out = privacy_export.export(api.principal().agent_id, customer_id, mode)
    return Response(body=out, status_code=status)


@route(app, "/customers/{customer_id}/exports/{export_id}", role="supervisor", response=R.EXPORT_JOB)
def export_job(customer_id: str, export_id: str) -> dict[str, Any]:
    """An asynchronous export: pending, or done with a 15-minute link to the JSON (audited)."""
    return privacy_export.job(api.principal().agent_id, customer_id, export_id)


@route(
    app, "/customers/{customer_id}/erasure", role="admin", methods=("POST",), response=R.ERASURE, status=202
)
def request_erasure(customer_id: str) -> Response:
    """Erase the customer from every table, index and bucket (a Step Functions job; 202)."""
    return Response(body=erasure.request(api.principal().agent_id, customer_id), status_code=202)


@route(app, "/customers/{customer_id}/erasure", role="admin", response=R.ERASURE)
def erasure_status(customer_id: str) -> dict[str, Any]:
    """The erasure request's status: pending, running or done (with what each handler removed)."""
    return erasure.status(customer_id)


@route(app, "/customers/{customer_id}/orders", role="agent", response=R.ORDERS)
def customer_orders(customer_id: str) -> dict[str, Any]:
    """The customer's orders from the company's order service (never a 5xx: degraded answer)."""
    return orders.orders_of(customer_id)


@route(
    app,
    "/customers/{customer_id}/business-events",
    role="agent",
    scope="customers:read",
    response=R.BUSINESS_EVENTS,
)
def customer_business_events(customer_id: str) -> dict[str, Any]:
    """What the company's systems reported about this customer, newest first."""
    return business_events.of_customer(customer_id)


@route(
    app,
    "/customers/{customer_id}/crm",
    role="agent",
    scope="customers:read",
    query=Q.CrmQuery,
    response=R.CRM_CONTACTS,
)
def customer_crm(customer_id: str) -> dict[str, Any]:
    """The customer's record in the company's CRM/ERP (?account=), found by their company id, phone
    or e-mail and mapped to our fields (never a 5xx: degraded answer)."""
    return crm.contacts_of(customer_id, api.query(app, Q.CrmQuery).account)


# ---- tickets -----------------------------------------------------------------------------------------
@route(
    app,
    "/tickets",
    role="agent",
    scope="tickets:read",
    query=Q.TicketsQuery,
    response=R.TICKETS,
    errors=(404,),
)
def list_tickets() -> dict[str, Any]:
    """Ticket views, each a Query on an index: ?view=mine | group (?group=) | status (?status=) |
    overdue | requester (?customer_id=); ?limit= and ?cursor= page. Agents see their groups' and own."""
    q = api.query(app, Q.TicketsQuery)
    return tickets.list_view(
        api.principal(),
        q.view,
        group=q.group,
        status=q.status,
        customer_id=q.customer_id,
        cursor=q.cursor,
        limit=q.limit,
    )


@route(
    app,
    "/tickets",
    role="agent",
    scope="tickets:write",
    methods=("POST",),
    body=TicketBody,
    response=R.TICKET_ANSWER,
    status=201,
)
def create_ticket() -> Response:
    """Create a ticket (a conversation given is linked both ways)."""
    t = tickets.create_from_api(api.principal(), api.body(app, TicketBody))
    return Response(body={"ticket": tickets.summary(t)}, status_code=201)


@route(
    app,
    "/tickets/alerts",
    role=None,
    methods=("POST",),
    body=AlertBody,
    query=Q.AlertQuery,
    response=R.ALERT_TICKET,
    status=201,
    errors=(401,),
)
def ticket_alert() -> Response:
    """A device's fault alert from the company's backend, signed like the app channel (?account=,
    default "default"); 401 on a bad signature; a resent alert_id returns the first ticket (200)."""
    req, account = api.request(app), api.query(app, Q.AlertQuery).account
    tickets.verify_alert(account, dict(req.headers), req.raw_body or b"")
    t, created = tickets.create_from_alert(account, api.body(app, AlertBody))
    return Response(
        body={"ticket_id": t.ticket_id, "number": t.number, "created": created},
        status_code=201 if created else 200,
    )


@route(app, "/tickets/{ticket_id}", role="agent", scope="tickets:read", response=R.TICKET_VIEW)
def get_ticket(ticket_id: str) -> dict[str, Any]:
    """A ticket with its history, sub-tickets (progress) and linked conversations."""
    return tickets.view(api.principal(), ticket_id)


@route(
    app,
    "/tickets/{ticket_id}",
    role="agent",
    scope="tickets:write",
    methods=("PATCH",),
    body=TicketPatch,
    response=R.TICKET_ANSWER,
)
def patch_ticket(ticket_id: str) -> dict[str, Any]:
    """Change status, priority, assignee, group, category, tags, custom fields, order number or
    device serial; send the version read (409 if the ticket moved since)."""
    b = api.body(app, TicketPatch)
    return {"ticket": tickets.summary(tickets.patch(api.principal(), ticket_id, b.changes(), b.version))}


@route(
    app,
    "/tickets/{ticket_id}/comments",
    role="agent",
    methods=("POST",),
    body=CommentBody,
    response=R.COMMENT,
    status=201,
)
def comment_ticket(ticket_id: str) -> Response:
    """An internal comment, or (public: true) a reply that goes out on the customer's channel."""
    b = api.body(app, CommentBody)
    return Response(body=tickets.comment(api.principal(), ticket_id, b.text, b.public), status_code=201)


@route(
    app,
    "/tickets/{ticket_id}/subtickets",
    role="agent",
    methods=("POST",),
    body=SubticketBody,
    response=R.TICKET_ANSWER,
    status=201,
)
def create_subticket(ticket_id: str) -> Response:
    """A parallel sub-ticket for another department; the parent is solved when all are done."""
    t = tickets.create_subticket(api.principal(), ticket_id, api.body(app, SubticketBody))
    return Response(body={"ticket": tickets.summary(t)}, status_code=201)


@route(
    app,
    "/conversations/{conversation_id}/ticket",
    role="agent",
    methods=("POST",),
    body=FromConversationBody,
    response=R.TICKET_ANSWER,
    status=201,
)
def ticket_from_conversation(conversation_id: str) -> Response:
    """One click: a ticket from this conversation (subject from its preview, its customer, linked)."""
    b = api.body(app, FromConversationBody)
    t = tickets.create_from_conversation(api.principal(), conversation_id, b)
    return Response(body={"ticket": tickets.summary(t)}, status_code=201)


# ---- canned replies ----------------------------------------------------------------------------------
@route(app, "/canned-replies", role="agent", query=Q.CannedQuery, response=R.CANNED_LIST)
def search_canned_replies() -> dict[str, Any]:
    """Canned replies I can use (mine, my groups', everyone's), ?q= searched, ?group= narrowed."""
    p = api.principal()
    q = api.query(app, Q.CannedQuery)
    return {"items": [canned.view(r, p) for r in canned.search(p, q.q, q.group)]}


@route(
    app,
    "/canned-replies",
    role="agent",
    methods=("POST",),
    body=CannedReplyBody,
    response=R.CANNED_REPLY,
    status=201,
)
def create_canned_reply() -> Response:
    """A new personal canned reply, or (supervisors) a team one."""
    p = api.principal()
    return Response(body=canned.view(canned.create(p, api.body(app, CannedReplyBody)), p), status_code=201)


@route(
    app,
    "/canned-replies/{reply_id}",
    role="agent",
    methods=("PUT",),
    body=CannedReplyChanges,
    response=R.CANNED_REPLY,
)
def update_canned_reply(reply_id: str) -> dict[str, Any]:
    """Edit a canned reply (the owner's personal one; supervisors' team ones)."""
    p = api.principal()
    return canned.view(canned.update(p, reply_id, api.body(app, CannedReplyChanges)), p)


@route(app, "/canned-replies/{reply_id}", role="agent", methods=("DELETE",), response=R.CANNED_DELETED)
def delete_canned_reply(reply_id: str) -> dict[str, Any]:
    """Delete a canned reply (same rights as editing it)."""
    canned.delete(api.principal(), reply_id)
    return {"reply_id": reply_id, "deleted": True}


@route(
    app,
    "/canned-replies/{reply_id}/render",
    role="agent",
    methods=("POST",),
    body=RenderBody,
    response=R.CANNED_RENDERED,
)
def render_canned_reply(reply_id: str) -> dict[str, Any]:
    """The reply filled in for a conversation: customer, agent and order variables."""
    b = api.body(app, RenderBody)
    return canned.render_for(api.principal(), reply_id, b.conversation_id, b.order_number)


# ---- supervisor and admin: queues, agents, skill groups ---------------------------------------------
@route(app, "/supervisor/queues", role="supervisor", response=R.SUPERVISOR_QUEUES)
def supervisor_queues() -> dict[str, Any]:
    """Live queues per skill group: waiting, oldest wait, agents online; each agent's presence and load."""
    return {"groups": assignment.overview(g.group_id for g in agents.all_groups())}


@route(
    app,
    "/supervisor/agents/{agent_id}/presence",
    role="supervisor",
    methods=("PUT",),
    body=PresenceBody,
    response=R.AGENT,
)
def set_agent_presence(agent_id: str) -> dict[str, Any]:
    """Set an agent's presence (e.g. offline, which hands their conversations back to the queue)."""
    return workspace.agent_view(assignment.set_presence(agent_id, api.body(app, PresenceBody).presence))


@route(app, "/admin/groups", role="agent", response=R.GROUPS)
def list_groups() -> dict[str, Any]:
    """Every skill group (agents need them to transfer)."""
    return {"items": [to_json(g) for g in agents.all_groups()]}


@route(app, "/admin/groups/{group_id}", role="admin", methods=("PUT",), body=GroupBody, response=R.GROUP)
def put_group(group_id: str) -> dict[str, Any]:
    """Create or edit a skill group."""
    b = api.body(app, GroupBody)
    return to_json(workspace.put_group(api.principal(), group_id, b.name, b.description, b.lead_id))


@route(app, "/admin/agents", role="supervisor", response=R.AGENTS)
def list_agents() -> dict[str, Any]:
    """Every agent with groups, capacity, presence and load."""
    return {"items": [workspace.agent_view(a) for a in agents.all_agents()]}


@route(
    app, "/admin/agents/{agent_id}", role="admin", methods=("PUT",), body=AgentConfigBody, response=R.AGENT
)
def configure_agent(agent_id: str) -> dict[str, Any]:
    """An agent's skill groups, capacity per channel type and proficiency per group."""
    b = api.body(app, AgentConfigBody)
    return workspace.agent_view(
        workspace.configure_agent(api.principal(), agent_id, b.groups, b.capacity, b.proficiency)
    )


# ---- admin: channel accounts -----------------------------------------------------------------------
@route(app, "/admin/channels", role="admin", response=R.CHANNEL_ACCOUNTS)
def list_channel_accounts() -> dict[str, Any]:
    """Every channel with its configured accounts and their credential field names (never values)."""
    return {"items": channel_accounts.list_channels()}


@route(
    app,
    "/admin/channels/{channel}/{account}",
    role="admin",
    methods=("PUT",),
    body=ChannelAccountBody,
    response=R.CHANNEL_ACCOUNT,
)
def put_channel_account(channel: str, account: str) -> dict[str, Any]:
    """Write an account's credential fields into the channel's secret (merged; write-only, audited)."""
    fields = api.body(app, ChannelAccountBody).root
    return channel_accounts.put_account(channel, account, fields, api.principal().agent_id)


# ---- admin: routing rules and calendars --------------------------------------------------------------
@route(app, "/admin/routing-rules", role="supervisor", response=R.ROUTING_RULES)
def get_routing_rules() -> dict[str, Any]:
    """The ordered routing rules and their version (send the version back with a change)."""
    return routing_rules.view(routing_rules.current())


@route(
    app, "/admin/routing-rules", role="admin", methods=("PUT",), body=RuleSetUpdate, response=R.ROUTING_RULES
)
def put_routing_rules() -> dict[str, Any]:
    """Replace the whole ordered rule set; 409 if its version moved since it was read."""
    return routing_rules.view(routing_rules.save(api.body(app, RuleSetUpdate), api.principal().agent_id))


@route(
    app, "/admin/routing-rules/test", role="supervisor", methods=("POST",), body=DryRun, response=R.DRY_RUN
)
def dry_run_routing_rules() -> dict[str, Any]:
    """Dry run: the group, priority, bot and tags a message would get (saved rules or a draft)."""
    return routing_rules.dry_run(api.body(app, DryRun))


@route(app, "/admin/calendars", role="supervisor", response=R.CALENDARS)
def list_calendars() -> dict[str, Any]:
    """Every business-hours calendar with its version."""
    return {"items": calendars.list_calendars()}


@route(app, "/admin/calendars/{calendar_name}", role="supervisor", response=R.CALENDAR)
def get_calendar(calendar_name: str) -> dict[str, Any]:
    """One business-hours calendar with its version."""
    return calendars.calendar_view(calendar_name)


@route(
    app,
    "/admin/calendars/{calendar_name}",
    role="admin",
    methods=("PUT",),
    body=CalendarUpdate,
    response=R.CALENDAR,
)
def put_calendar(calendar_name: str) -> dict[str, Any]:
    """Create (version 0) or replace a calendar: time zone, weekly hours, holidays, special days."""
    b = api.body(app, CalendarUpdate)
    return calendars.put_calendar(calendar_name, b, api.principal().agent_id)


# ---- agent assist ------------------------------------------------------------------------------------
@route(app, "/conversations/{conversation_id}/suggestions", role="agent")
def conversation_suggestions(conversation_id: str) -> dict[str, Any]:
    """Articles and canned replies for the composer: ?q= as the agent types, else for the customer's
    last turns (?limit=, default 3)."""
    p, c = api.principal(), conversations.get(conversation_id)
    workspace.check_access(p, c)
    q: Mapping[str, str] = api.request(app).query_params or {}
    return suggestions.suggest(p, c, q.get("q"), workspace.page_size(q.get("limit"), default=3))


@route(
    app,
    "/conversations/{conversation_id}/suggestions/used",
    role="agent",
    methods=("POST",),
    body=SuggestionUsedBody,
)
def suggestion_used(conversation_id: str) -> dict[str, Any]:
    """The agent inserted a suggested article or canned reply (the acceptance rate counts it)."""
    p, c, b = api.principal(), conversations.get(conversation_id), api.body(app, SuggestionUsedBody)
    workspace.check_access(p, c)
    return suggestions.used(p, c, b.kind, b.item_id)


@route(app, "/reports/suggestions", role="supervisor")
def suggestion_report() -> dict[str, Any]:
    """Suggestions shown and used per kind over ?from=&to= (UTC days, default today): acceptance rate."""
    q: Mapping[str, str] = api.request(app).query_params or {}
    first, last = scorecards.parse_period(q.get("from"), q.get("to"), scorecards.utcnow().date())
    return suggestions.acceptance(first, last)


# ---- quality inspection ------------------------------------------------------------------------------
@route(app, "/admin/quality-rules", role="supervisor")
def get_quality_rules() -> dict[str, Any]:
    """The quality rules (phrases, patterns, required elements, response times) and their version."""
    return quality.view(quality.current())


@route(app, "/admin/quality-rules", role="admin", methods=("PUT",), body=QualityRulesUpdate)
def put_quality_rules() -> dict[str, Any]:
    """Replace the whole quality rule set; 409 if its version moved since it was read."""
    return quality.view(quality.save(api.body(app, QualityRulesUpdate), api.principal().agent_id))


@route(app, "/quality/check", role="agent", methods=("POST",), body=CheckBody)
def check_quality() -> dict[str, Any]:
    """A draft reply against the quality rules: violations with the span of the text that broke them."""
    p, b = api.principal(), api.body(app, CheckBody)
    c = conversations.get(b.conversation_id) if b.conversation_id else None
    if c is not None:
        workspace.check_access(p, c)
    return quality.check_draft(b.text, c, closing=b.closing)


@route(app, "/quality/scorecards/{conversation_id}", role="agent")
def quality_scorecard(conversation_id: str) -> dict[str, Any]:
    """A closed conversation's score card with its review and appeal (its agent's, or supervisors')."""
    return quality_reviews.card(api.principal(), conversation_id)


@route(app, "/quality/reviews", role="supervisor")
def quality_review_queue() -> dict[str, Any]:
    """Conversations to review, lowest score first (?queue=pending), or appeals (?queue=appealed);
    ?reason=low_score|complaint|negative_csat|sample keeps those up for that reason."""
    q: Mapping[str, str] = api.request(app).query_params or {}
    return quality_reviews.queue(
        q.get("queue", "pending"), workspace.page_size(q.get("limit")), q.get("reason") or None
    )


@route(app, "/quality/reviews/{conversation_id}", role="supervisor", methods=("POST",), body=ReviewBody)
def review_conversation(conversation_id: str) -> dict[str, Any]:
    """Score a conversation by the form and comment (once; 409 if it was reviewed meanwhile)."""
    return quality_reviews.review(api.principal(), conversation_id, api.body(app, ReviewBody))


@route(app, "/quality/reviews/{conversation_id}/appeal", role="agent", methods=("POST",), body=AppealBody)
def appeal_review(conversation_id: str) -> dict[str, Any]:
    """The reviewed agent appeals, once (409 the second time)."""
    return quality_reviews.appeal(api.principal(), conversation_id, api.body(app, AppealBody))


@route(
    app,
    "/quality/reviews/{conversation_id}/decision",
    role="supervisor",
    methods=("POST",),
    body=DecisionBody,
)
def decide_appeal(conversation_id: str) -> dict[str, Any]:
    """Decide a pending appeal: upheld, or overturned with the corrected form."""
    return quality_reviews.decide(api.principal(), conversation_id, api.body(app, DecisionBody))


@route(app, "/quality/reviews/{conversation_id}/history", role="supervisor")
def review_history(conversation_id: str) -> dict[str, Any]:
    """The audit trail of a conversation's review and appeal."""
    return {"items": quality_reviews.history(conversation_id)}


@route(app, "/reports/quality", role="supervisor")
def quality_report() -> dict[str, Any]:
    """Quality scores ?by=agent|group over ?from=&to= (UTC days, default today): one Query."""
    q: Mapping[str, str] = api.request(app).query_params or {}
    first, last = scorecards.parse_period(q.get("from"), q.get("to"), scorecards.utcnow().date())
    return scorecards.scores(q.get("by", "agent"), first, last)


@route(app, "/me/quality/reviews", role="agent")
def my_quality_reviews() -> dict[str, Any]:
    """My reviewed conversations' score cards, newest review first (each with its appeal)."""
    q: Mapping[str, str] = api.request(app).query_params or {}
    return quality_reviews.mine(api.principal(), workspace.page_size(q.get("limit")))


@route(app, "/me/quality", role="agent")
def my_quality() -> dict[str, Any]:
    """My quality scores over ?from=&to= (UTC days, default today), and per day."""
    q: Mapping[str, str] = api.request(app).query_params or {}
    first, last = scorecards.parse_period(q.get("from"), q.get("to"), scorecards.utcnow().date())
    return scorecards.agent_scores(api.principal().agent_id, first, last)


# ---- knowledge base ---------------------------------------------------------------------------------
# Agents (and the bot) read and search; supervisors and admins write articles; admins the synonyms.
@route(app, "/kb/search", role="agent")
def search_kb() -> dict[str, Any]:
    """Published articles for ?q= (&language= the asker's, a preference; &limit=; &channel=) and a
    confident answer or null."""
    q = kb_api.SearchQuery.from_params(api.request(app).query_params or {})
    return kb.search(q.q, language=q.language, limit=q.limit, channel=q.channel).to_dict()


@route(app, "/kb/articles", role="agent")
def list_kb_articles() -> dict[str, Any]:
    """Articles (?status=draft|published|archived), most recently changed first."""
    q: Mapping[str, str] = api.request(app).query_params or {}
    return {"items": kb_service.listing(q.get("status") or None)}


@route(app, "/kb/articles", role="supervisor", methods=("POST",), body=ArticleBody, status=201)
def create_kb_article() -> Response:
    """A new article (version 1), a draft or published at once."""
    p = api.principal()
    article = kb_service.create(p.agent_id, p.allows("supervisor"), api.body(app, ArticleBody))
    return Response(body=kb_service.summary(article), status_code=201)


@route(app, "/kb/articles/{article_id}", role="agent")
def get_kb_article(article_id: str) -> dict[str, Any]:
    """An article's head, or ?version=N as saved then; reading the head counts a view."""
    version = kb_api.int_param(api.request(app).query_params or {}, "version")
    found = kb_service.read(article_id, version)
    if version is None:
        kb_stats.record(article_id, kb_stats.VIEWS)
    return found


@route(app, "/kb/articles/{article_id}", role="supervisor", methods=("PUT",), body=ArticleChanges)
def update_kb_article(article_id: str) -> dict[str, Any]:
    """A new version with the fields given (409 if ``version`` is not the head)."""
    p = api.principal()
    changes = api.body(app, ArticleChanges)
    return kb_service.summary(kb_service.update(p.agent_id, p.allows("supervisor"), article_id, changes))


@route(app, "/kb/articles/{article_id}/publish", role="supervisor", methods=("POST",))
def publish_kb_article(article_id: str) -> dict[str, Any]:
    """The head version goes live: searchable on every warm Lambda within seconds."""
    p = api.principal()
    return kb_service.summary(kb_service.publish(p.agent_id, p.allows("supervisor"), article_id))


@route(app, "/kb/articles/{article_id}/archive", role="supervisor", methods=("POST",))
def archive_kb_article(article_id: str) -> dict[str, Any]:
    """Out of search at once, kept with its history."""
    p = api.principal()
    return kb_service.summary(kb_service.archive(p.agent_id, p.allows("supervisor"), article_id))


@route(app, "/kb/articles/{article_id}/rollback", role="supervisor", methods=("POST",), body=RollbackBody)
def rollback_kb_article(article_id: str) -> dict[str, Any]:
    """A new version with the content of an earlier one (live at once if the article is published)."""
    p = api.principal()
    version = api.body(app, RollbackBody).version
    return kb_service.summary(kb_service.rollback(p.agent_id, p.allows("supervisor"), article_id, version))


@route(app, "/kb/articles/{article_id}/versions", role="agent")
def kb_article_versions(article_id: str) -> dict[str, Any]:
    """Every version: who saved it, when, what changed."""
    return {"article_id": article_id, "versions": kb_service.versions(article_id)}


@route(app, "/kb/articles/{article_id}/diff", role="agent")
def kb_article_diff(article_id: str) -> dict[str, Any]:
    """What changed between ?from=N and ?to=M."""
    params: Mapping[str, str] = api.request(app).query_params or {}
    a, b = kb_api.int_param(params, "from", required=True), kb_api.int_param(params, "to", required=True)
    return kb_service.diff(article_id, int(a or 0), int(b or 0))


@route(app, "/kb/articles/{article_id}/history", role="supervisor")
def kb_article_history(article_id: str) -> dict[str, Any]:
    """The article's audit trail."""
    return {"article_id": article_id, "history": kb_service.history(article_id)}


@route(app, "/kb/articles/{article_id}/feedback", role="agent", methods=("POST",), body=FeedbackBody)
def kb_article_feedback(article_id: str) -> dict[str, Any]:
    """Helpful or not (counted on the article)."""
    helpful = api.body(app, FeedbackBody).helpful
    kb_service.load(article_id)
    kb_stats.record(article_id, kb_stats.HELPFUL if helpful else kb_stats.NOT_HELPFUL)
    return {"article_id": article_id, "helpful": helpful}


@route(app, "/kb/articles/{article_id}/stats", role="supervisor")
def kb_article_stats(article_id: str) -> dict[str, Any]:
    """Views, bot answers, helpful / not helpful, handoffs: totals and per day."""
    kb_service.load(article_id)
    return kb_stats.article_stats(article_id)


@route(app, "/kb/stats", role="supervisor")
def kb_all_stats() -> dict[str, Any]:
    """Every article's figures for ?period=total (default) or a day (YYYY-MM-DD)."""
    period = kb_api.period_param(api.request(app).query_params or {})
    return {"period": period, "items": kb_stats.all_stats(period)}


@route(app, "/kb/unanswered", role="supervisor")
def kb_unanswered() -> dict[str, Any]:
    """Questions the KB had no answer for in the last ?days= (default 7), grouped by meaning."""
    days = kb_api.int_param(api.request(app).query_params or {}, "days", low=1, high=90) or 7
    return kb_stats.unanswered(days)


@route(app, "/kb/synonyms", role="supervisor")
def get_kb_synonyms() -> dict[str, Any]:
    """The admins' synonym groups (added to the built-in ones) and their version."""
    return kb_service.synonyms_view()


@route(app, "/kb/synonyms", role="admin", methods=("PUT",), body=SynonymsBody)
def put_kb_synonyms() -> dict[str, Any]:
    """Replace the synonym groups; 409 if the version moved since it was read."""
    return kb_service.save_synonyms(api.principal().agent_id, api.body(app, SynonymsBody))


# ---- the bot ----------------------------------------------------------------------------------------
@route(app, "/admin/bot-flows", role="supervisor")
def get_bot_flows() -> dict[str, Any]:
    """The bot's multi-turn flows (order status, refund conditions, hours, tickets…) and their version."""
    return bot.view(bot.current())


@route(app, "/admin/bot-flows", role="admin", methods=("PUT",), body=FlowSetUpdate)
def put_bot_flows() -> dict[str, Any]:
    """Replace the whole set of bot flows; 409 if its version moved since it was read."""
    b = api.body(app, FlowSetUpdate)
    return bot.view(bot.save(b.version, b.flows, api.principal().agent_id))


@route(app, "/reports/bot", role="supervisor")
def bot_report() -> dict[str, Any]:
    """The bot's counters for ?day=YYYY-MM-DD (UTC, default today): outcomes, articles, flows."""
    q: Mapping[str, str] = api.request(app).query_params or {}
    return bot.report(q.get("day"))


@route(app, "/bot/suggest", role=None, errors=(401, 404, 429))
def bot_suggestions() -> Response:
    """Website visitor, as they type: articles for ?q= on ?site= (visitor token; rate-limited);
    ?article=<id>: the one they clicked, as plain text."""
    req = api.request(app)
    q: Mapping[str, str] = req.query_params or {}
    status, body, headers = bot_suggest.answer(q.get("site"), q.get("q"), dict(req.headers), q.get("article"))
    return Response(body=body, status_code=status, headers=headers)


@route(app, "/bot/suggest", role=None, methods=("OPTIONS",), status=204)
def bot_suggestions_preflight() -> Response:
    """CORS preflight of the widget's suggestion calls."""
    req = api.request(app)
    q: Mapping[str, str] = req.query_params or {}
    site = q.get("site", "default")
    return Response(
        body="", status_code=204, headers=bot_suggest.cors_headers(site, req.headers.get("origin"))
    )


@app.schedule(Rate(5, unit=Rate.MINUTES))
def sweep_bot_conversations(event: CloudWatchEvent) -> dict[str, int]:
    """Conversations left with the bot and silent for 30 min end as abandoned (counted, closed)."""
    return {"abandoned": bot.sweep_abandoned()}


@app.schedule(Rate(1, unit=Rate.MINUTES))
def check_surge(event: CloudWatchEvent) -> dict[str, bool]:
    """Surge mode, measured each minute: the groups whose queue (or the inbound backlog) passed
    the thresholds get the bot first, with hysteresis; supervisors are told (docs/operations.md)."""
    return routing_surge.check()


# ---- proactive service ---------------------------------------------------------------------------
@route(
    app,
    "/business-events",
    role="admin",
    scope="events:write",
    methods=("POST",),
    body=BusinessEventBody,
    response=R.BUSINESS_EVENT_ANSWER,
    status=202,
)
def post_business_event() -> Response:
    """A fact from the company's systems (order.shipped, refund.paid …) → a notice on the customer's
    channel under the proactive rules; idempotent per event_id (a resend sends nothing twice)."""
    b = api.body(app, BusinessEventBody)
    return Response(body=proactive.receive(b, api.principal().agent_id), status_code=202)


@route(
    app, "/business-events/{event_id}", role="admin", scope="events:write", response=R.BUSINESS_EVENT_ANSWER
)
def get_business_event(event_id: str) -> dict[str, Any]:
    """What became of an event: sent (channel, conversation, message), held until, or suppressed and why."""
    return proactive.get_event(event_id)


@route(app, "/admin/proactive-rules", role="supervisor")
def get_proactive_rules() -> dict[str, Any]:
    """The proactive rules, the limits (quiet hours, daily cap) and their version."""
    return proactive.view(proactive.current())


@route(app, "/admin/proactive-rules", role="admin", methods=("PUT",), body=ProactiveRulesUpdate)
def put_proactive_rules() -> dict[str, Any]:
    """Replace the proactive rules (send the version read; 409 if it moved)."""
    return proactive.view(proactive.save(api.body(app, ProactiveRulesUpdate), api.principal().agent_id))


@app.schedule(Rate(1, unit=Rate.MINUTES))
def release_held_notices(event: CloudWatchEvent) -> dict[str, int]:
    """Notices held for quiet hours go out when the hours end (a Query of the due ones)."""
    return {"released": proactive.release_due()}


# ---- SLA ------------------------------------------------------------------------------------------
@route(app, "/admin/sla-policies", role="supervisor", response=R.SLA_POLICIES)
def get_sla_policies() -> dict[str, Any]:
    """The ordered SLA policies and their version (send the version back with a change)."""
    return sla_policies.view(sla_policies.current())


@route(
    app, "/admin/sla-policies", role="admin", methods=("PUT",), body=PolicySetUpdate, response=R.SLA_POLICIES
)
def put_sla_policies() -> dict[str, Any]:
    """Replace the ordered SLA policies (the last one, without conditions, is the default); 409 if
    the version moved since it was read."""
    saved = sla_policies.save(api.body(app, PolicySetUpdate), api.principal().agent_id)
    return sla_policies.view(saved)


@route(
    app,
    "/reports/sla",
    role="supervisor",
    scope="reports:read",
    query=Q.SlaReportQuery,
    response=R.SLA_REPORT,
)
def sla_report() -> dict[str, Any]:
    """SLA attainment ?by=policy|group|agent for ?from=&to= (UTC days, YYYY-MM-DD; default today)."""
    q, today = api.query(app, Q.SlaReportQuery), sla_reports.utcnow().date()
    return sla_reports.attainment(q.by, q.from_ or today, q.to or today)


@route(app, "/reports/overview", role="supervisor", query=Q.OverviewQuery)
def reports_overview() -> Any:
    """Volumes, response and resolution times, SLA over ?from=&to= (ISO 8601), optionally one
    ?group= or ?agent= and one ?channel=; ?format=csv|xlsx for the same as CSV or Excel (docs/metrics.md)."""
    q = api.query(app, Q.OverviewQuery)
    report = analytics.overview(q.from_, q.to, group=q.group, channel=q.channel, agent=q.agent)
    if q.format != "json":
        body, content_type = analytics.export(report, q.format)
        return Response(body=body, status_code=200, headers={"Content-Type": content_type})
    return report


@route(app, "/reports/timeseries", role="supervisor", query=Q.TimeseriesQuery)
def reports_timeseries() -> dict[str, Any]:
    """One ?metric= per ?interval=minute|hour|day bucket over ?from=&to=, optionally ?by=channel|priority."""
    q = api.query(app, Q.TimeseriesQuery)
    return analytics.timeseries(q.metric, q.interval, q.from_, q.to, by=q.by, group=q.group, agent=q.agent)


@route(app, "/reports/forecast", role="supervisor")
def reports_forecast() -> dict[str, Any]:
    """Next week's volume per half hour for ?group= (or all), seasonal by weekday and hour over the
    last ?weeks= (default 4) of hour buckets, and the agents Erlang C needs for 80 % in 20 s at the
    handle time measured over the same weeks (chalicelib/analytics/forecast.py)."""
    q: Mapping[str, str] = api.request(app).query_params or {}
    return analytics_forecast.plan(q.get("group") or None, weeks=q.get("weeks", "4"))


@route(app, "/admin/alerts", role="admin")
def list_alert_rules() -> dict[str, Any]:
    """The alert rules, each with its state (ok | firing) and last value."""
    return alerts.listing()


@route(app, "/admin/alerts", role="admin", methods=("POST",), body=AlertRuleBody, status=201)
def create_alert_rule() -> Response:
    """A threshold over a metric and window (docs/metrics.md), evaluated every minute."""
    return Response(
        body=alerts.create(api.body(app, AlertRuleBody), api.principal().agent_id), status_code=201
    )


@route(app, "/admin/alerts/{rule_id}", role="admin", methods=("DELETE",), status=204)
def delete_alert_rule(rule_id: str) -> Response:
    """Remove an alert rule (its history stays)."""
    alerts.delete(rule_id)
    return Response(body="", status_code=204)


@route(app, "/reports/alerts", role="supervisor")
def alert_history() -> dict[str, Any]:
    """Alerts fired and resolved, newest first (the last 50)."""
    return alerts.history()


@app.schedule(Rate(1, unit=Rate.MINUTES))
def evaluate_alerts(event: CloudWatchEvent) -> dict[str, int]:
    """Every alert rule against its window of the analytics buckets: fire once, resolve once."""
    return alerts.evaluate()


@route(app, "/tickets/at-risk", role="supervisor", query=Q.AtRiskQuery, response=R.AT_RISK)
def tickets_at_risk() -> dict[str, Any]:
    """Open tickets whose next SLA deadline falls within ?within= minutes (default 60), soonest first."""
    q = api.query(app, Q.AtRiskQuery)
    return sla_reports.at_risk(q.within, q.limit)


@route(app, "/tickets/breached", role="supervisor", query=Q.BreachedQuery, response=R.AT_RISK)
def tickets_breached() -> dict[str, Any]:
    """Open tickets past their next SLA deadline, most overdue first."""
    return sla_reports.breached(api.query(app, Q.BreachedQuery).limit)


# ---- outgoing webhooks (chalicelib/webhooks; Standard Webhooks signatures) ------------------------------
@route(
    app,
    "/admin/webhooks",
    role="admin",
    methods=("POST",),
    body=EndpointBody,
    response=R.WEBHOOK_ENDPOINT,
    status=201,
)
def create_webhook() -> Response:
    """Subscribe a URL to event types; the answer carries its signing secret, shown only once."""
    b = api.body(app, EndpointBody)
    return Response(
        body=webhooks.create_endpoint(b.url, list(b.events), api.principal().agent_id), status_code=201
    )


@route(app, "/admin/webhooks", role="admin", response=R.WEBHOOK_ENDPOINTS)
def list_webhooks() -> dict[str, Any]:
    """Every webhook endpoint, newest first: URL, event types, enabled or why disabled (never a secret)."""
    return webhooks.list_endpoints()


@route(
    app, "/admin/webhooks/{endpoint_id}/disable", role="admin", methods=("POST",), response=R.WEBHOOK_STATE
)
def disable_webhook(endpoint_id: str) -> dict[str, Any]:
    """Pause an endpoint: its events are logged as failed (replayable) instead of sent."""
    return webhooks.set_enabled(endpoint_id, False)


@route(app, "/admin/webhooks/{endpoint_id}/enable", role="admin", methods=("POST",), response=R.WEBHOOK_STATE)
def enable_webhook(endpoint_id: str) -> dict[str, Any]:
    """Resume a paused or automatically disabled endpoint."""
    return webhooks.set_enabled(endpoint_id, True)


@route(app, "/admin/webhooks/{endpoint_id}/deliveries", role="admin", response=R.WEBHOOK_DELIVERIES)
def webhook_deliveries(endpoint_id: str) -> dict[str, Any]:
    """The endpoint's delivery log: each message's status and every attempt (code, latency)."""
    return webhooks.deliveries(endpoint_id)


@route(
    app,
    "/admin/webhooks/{endpoint_id}/replay",
    role="admin",
    methods=("POST",),
    body=ReplayBody,
    response=R.WEBHOOK_REPLAY,
)
def replay_webhooks(endpoint_id: str) -> dict[str, Any]:
    """Queue one failed message again (``msg_id``), or every failed one."""
    return webhooks.replay(endpoint_id, api.body(app, ReplayBody).msg_id)


@route(
    app,
    "/admin/webhooks/{endpoint_id}/rotate-secret",
    role="admin",
    methods=("POST",),
    response=R.WEBHOOK_ROTATION,
)
def rotate_webhook_secret(endpoint_id: str) -> dict[str, Any]:
    """A new signing secret; the previous one keeps signing for 24 hours."""
    return webhooks.rotate_secret(endpoint_id)


# ---- API clients (chalicelib/auth/clients.py; OAuth 2 client credentials, scopes per route) ----------
@route(
    app,
    "/oauth/token",
    role=None,
    methods=("POST",),
    body=TokenBody,
    response=R.CLIENT_TOKEN,
    errors=(401,),
    content_types=("application/json", "application/x-www-form-urlencoded"),
)
def client_token() -> dict[str, Any]:
    """Client credentials (HTTP Basic, or client_id and client_secret in the form or JSON body) →
    a short-lived bearer token for the routes its scopes open."""
    b, basic = api.form_or_json(app, TokenBody), api.basic_credentials(app)
    client_id, secret = basic or (b.client_id, b.client_secret)
    return api_clients.exchange(client_id, secret, b.scope)


@route(
    app,
    "/admin/api-clients",
    role="admin",
    methods=("POST",),
    body=ApiClientBody,
    response=R.API_CLIENT,
    status=201,
)
def create_api_client() -> Response:
    """Create a machine client (name, scopes, rate limit); the answer carries its secret, shown only once."""
    b = api.body(app, ApiClientBody)
    created = api_clients.create(b.name, list(b.scopes), b.rate_limit, api.principal().agent_id)
    return Response(body=created, status_code=201)


@route(app, "/admin/api-clients", role="admin", response=R.API_CLIENTS)
def list_api_clients() -> dict[str, Any]:
    """Every machine client, newest first (never its secret)."""
    return api_clients.list_clients()


@route(app, "/admin/api-clients/{client_id}/disable", role="admin", methods=("POST",), response=R.API_CLIENT)
def disable_api_client(client_id: str) -> dict[str, Any]:
    """Refuse the client's token requests and its next API call."""
    return api_clients.set_enabled(client_id, False, api.principal().agent_id)


@route(app, "/admin/api-clients/{client_id}/enable", role="admin", methods=("POST",), response=R.API_CLIENT)
def enable_api_client(client_id: str) -> dict[str, Any]:
    """Let a disabled client in again."""
    return api_clients.set_enabled(client_id, True, api.principal().agent_id)


@route(
    app,
    "/admin/api-clients/{client_id}/rotate-secret",
    role="admin",
    methods=("POST",),
    response=R.API_CLIENT,
)
def rotate_api_client_secret(client_id: str) -> dict[str, Any]:
    """A new client secret, shown once; the old one stops working at once."""
    return api_clients.rotate(client_id, api.principal().agent_id)


# ---- console and widget (static) -------------------------------------------------------------------
# GET /console, /console/static/{name}, /widget.js: public files with a strict CSP (chalicelib/console).
console.register(app)


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
    """Events from the SLA state machines: conversation breaches → the timeline; ticket warnings
    and escalations → notify, raise priority, reassign (chalicelib/sla/escalation.py); from the
    erasure job: privacy.erase → every table's and bucket's handler (chalicelib/privacy)."""
    return sla.handle_batch(
        event.to_dict(),
        also={"privacy.erase": erasure.handle_event, "privacy.export": privacy_export.handle_event},
    )


@app.on_sqs_message(queue=S.queue_name("analytics"), batch_size=10)
def count_activity(event: SQSEvent) -> dict[str, Any]:
    """Analytics queue → each fact counted once into its minute/hour/day buckets (docs/metrics.md)."""
    return analytics_aggregator.handle_batch(event.to_dict())


@app.on_sqs_message(queue=S.queue_name("webhooks"), batch_size=10)
def deliver_webhooks(event: SQSEvent) -> dict[str, Any]:
    """Webhooks queue → sign and POST to the endpoint, log the attempt, retry on the schedule."""
    return webhook_delivery.handle_batch(event.to_dict())
