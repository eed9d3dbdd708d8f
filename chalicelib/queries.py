"""Query-string models of the agent API (HTTP glue, beside ``api.py``).

One small pydantic model per route that takes query parameters: the route parses its query with
``api.query(app, Model)`` (a bad value is a 400 ``bad_request`` that changes nothing), and the
OpenAPI document lists the same model's fields as the operation's parameters, with their types,
ranges and enums. Unknown parameters are ignored (caches and consoles add their own).
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from chalicelib.bodies import Tag
from chalicelib.channels import ChannelName
from chalicelib.tickets.bodies import Status as TicketStatus


class Query(BaseModel):
    """A route's query string: strings stripped, unknown parameters ignored."""

    model_config = ConfigDict(extra="ignore", str_strip_whitespace=True)


Cursor = Annotated[
    str, Field(min_length=1, max_length=4096, description="opaque: the previous page's next_cursor")
]
Limit = Annotated[int, Field(ge=1, le=100, description="page size, 1..100")]
Id = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[^\s/]+$")]
ConversationPriority = Literal["low", "normal", "high", "urgent"]


class EventsQuery(Query):
    cursor: Cursor | None = Field(default=None, description="where the last poll stopped; none: from now")


class InboxQuery(Query):
    view: Literal["mine", "queue", "all"] = Field(
        default="queue", description="mine, my groups' queues (or ?group=), or all (supervisors)"
    )
    group: Id | None = Field(default=None, description="one skill group's queue (view=queue)")
    channel: ChannelName | None = None
    priority: ConversationPriority | None = None
    tag: Tag | None = None
    status: Literal["open", "closed"] = Field(default="open", description="the all view only")
    snoozed: bool = Field(default=False, description="mine: include snoozed conversations")
    cursor: Cursor | None = None
    limit: Limit = 50


class AttachmentQuery(Query):
    redirect: Literal["0", "1"] = Field(default="1", description="0: the link as JSON instead of a 302")


class CustomerQuery(Query):
    cursor: Cursor | None = Field(default=None, description="later pages of the customer's conversations")


class CrmQuery(Query):
    account: str = Field(
        default="default",
        pattern=r"^[a-z0-9][a-z0-9_-]{0,39}$",
        description="the CRM/ERP connector's account",
    )


class AuditQuery(Query):
    agent_id: Id = Field(description="the agent (or API client, client#<id>) whose actions and views to list")
    cursor: Cursor | None = None
    limit: Limit = 50


class ExportQuery(Query):
    mode: Literal["auto", "async"] = Field(
        default="auto", description="async: always through S3 (auto: when the customer is large)"
    )


class TicketsQuery(Query):
    view: Literal["mine", "group", "status", "overdue", "requester"] = "mine"
    group: Id | None = Field(default=None, description="view=group")
    status: TicketStatus | None = Field(default=None, description="view=status")
    customer_id: Id | None = Field(default=None, description="view=requester")
    cursor: Cursor | None = None
    limit: Limit = 50


class AlertQuery(Query):
    account: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")] = Field(
        default="default", description="the app account whose key signed the alert"
    )


class CannedQuery(Query):
    q: Annotated[str, Field(max_length=200)] = Field(default="", description="shortcut, title or text")
    group: Id | None = Field(default=None, description="one group's team replies")


class SlaReportQuery(Query):
    by: Literal["policy", "group", "agent"] = "policy"
    from_: date | None = Field(default=None, alias="from", description="first UTC day; default today")
    to: date | None = Field(default=None, description="last UTC day (inclusive); default today")


ReportLimit = Annotated[int, Field(ge=1, le=200, description="at most this many tickets, 1..200")]


class AtRiskQuery(Query):
    within: Annotated[int, Field(ge=1, le=7 * 24 * 60)] = Field(
        default=60, description="minutes ahead, 1..10080"
    )
    limit: ReportLimit = 50


class BreachedQuery(Query):
    limit: ReportLimit = 50


ReportTime = Annotated[datetime, Field(description="ISO 8601 time (UTC unless it carries an offset)")]
# = chalicelib/analytics/reports.METRICS (tests/unit/test_analytics_buckets.py keeps them equal)
Metric = Literal[
    "conversations",
    "messages_in",
    "messages_out",
    "resolved",
    "assigned",
    "transfers",
    "reopened",
    "sla_breaches",
    "bot_conversations",
    "bot_resolved",
    "bot_handed_off",
    "bot_abandoned",
    "bot_taken_over",
    "sla_met",
    "sla_breached",
    "csat_n",
    "sla_attainment",
    "csat_avg",
    "reopen_rate",
    "transfer_rate",
    "bot_resolution_rate",
    "first_response_p50_s",
    "first_response_p90_s",
    "first_response_p95_s",
    "first_response_avg_s",
    "first_response_count",
    "resolution_p50_s",
    "resolution_p90_s",
    "resolution_p95_s",
    "resolution_avg_s",
    "resolution_count",
    "wait_p50_s",
    "wait_p90_s",
    "wait_p95_s",
    "wait_avg_s",
    "wait_count",
    "handle_p50_s",
    "handle_p90_s",
    "handle_p95_s",
    "handle_avg_s",
    "handle_count",
]


class OverviewQuery(Query):
    from_: ReportTime = Field(alias="from")
    to: ReportTime
    group: Id | None = Field(default=None, description="one skill group (not with agent)")
    agent: Id | None = Field(default=None, description="one agent (not with group)")
    channel: ChannelName | None = None
    format: Literal["json", "csv", "xlsx"] = "json"


class TimeseriesQuery(Query):
    metric: Metric
    interval: Literal["minute", "hour", "day"] = "hour"
    from_: ReportTime = Field(alias="from")
    to: ReportTime
    by: Literal["channel", "priority"] | None = None
    group: Id | None = Field(default=None, description="one skill group (not with agent)")
    agent: Id | None = Field(default=None, description="one agent (not with group)")
