"""The demo's company: people who can log in, the skill groups they work in, their canned
replies, business hours and routing rules (the ``team`` part of ``infra.local.demo``).

Logins are Cognito users (moto) in the role groups the API checks; agents and skill groups are
written through the agents service, the same code the admin API uses, so the demo data has exactly
the shape production data has. Everything here may be seeded again: it replaces, never doubles.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from infra.local.provision import DEFAULT_DEMO_PASSWORD, create_agent_login


@dataclass(frozen=True)
class DemoUser:
    username: str
    display_name: str
    role: str
    groups: tuple[str, ...]


SKILL_GROUPS: tuple[tuple[str, str, str], ...] = (
    ("presales", "售前 Pre-sales", "Product questions before a purchase"),
    ("aftersales", "售后 After-sales", "Returns, refunds, exchanges, warranty and invoices"),
    ("technical", "技术支持 Technical", "App, device and account problems"),
    ("logistics", "物流 Logistics", "Delivery, tracking, couriers and address changes"),
    ("complaints", "投诉 Complaints", "Complaints and escalations"),
    ("vip", "VIP 专席 VIP desk", "Customers of the VIP tier"),
)
TEAM_LEADS = {"complaints": "supervisor", "vip": "supervisor"}

USERS: tuple[DemoUser, ...] = (
    DemoUser("admin", "Admin", "admin", ()),
    DemoUser(
        "supervisor",
        "Supervisor 主管",
        "supervisor",
        ("presales", "aftersales", "technical", "logistics", "complaints", "vip"),
    ),
    DemoUser("agent1", "Agent One 小李", "agent", ("presales", "vip")),
    DemoUser("agent2", "Agent Two 小王", "agent", ("aftersales", "logistics", "complaints")),
    DemoUser("agent3", "Agent Three 小张", "agent", ("technical", "aftersales")),
)


def demo_password() -> str:
    return os.environ.get("OMNIFLOW_DEMO_PASSWORD") or DEFAULT_DEMO_PASSWORD


def seed(env: dict[str, str], password: str | None = None) -> tuple[DemoUser, ...]:
    """Create the demo logins, skill groups and agent records. Needs the OMNIFLOW_* environment
    in ``os.environ`` already (the agents service reads its settings from there)."""
    from chalicelib.agents import service as agents

    password = password or demo_password()
    from botocore.exceptions import ClientError

    for user in USERS:
        try:
            create_agent_login(
                user.username,
                user.role,
                password,
                user_pool_id=env["OMNIFLOW_USER_POOL_ID"],
                endpoint_url=env.get("OMNIFLOW_AWS_ENDPOINT"),
                region=env.get("AWS_DEFAULT_REGION", "us-east-1"),
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") != "UsernameExistsException":
                raise  # seeded again: the login is there
    for group_id, name, description in SKILL_GROUPS:
        agents.put_group(group_id, name, description, TEAM_LEADS.get(group_id))
    for user in USERS:
        agents.put_agent(user.username, user.display_name, user.role, list(user.groups))
    seed_orders_connector(env)
    seed_canned_replies()
    seed_routing()
    seed_proactive_rules()
    seed_web_accounts(env)
    seed_bot_accounts()
    return USERS


BOT_ACCOUNT = "bot"  # the self-service accounts: the routing rule "bot-desk" puts the bot first there
BOT_CHANNELS = ("sms", "wechat", "web")


def seed_bot_accounts() -> None:
    """A "bot" account on SMS, WeChat and the website (the default account's credentials), so
    ``make dev`` shows the bot: ``/webhooks/<channel>/bot``, ``simulate … --account bot``."""
    from chalicelib.channels import accounts
    from infra.local.provision import channel_credentials

    for channel in BOT_CHANNELS:
        accounts.put_account(channel, BOT_ACCOUNT, dict(channel_credentials()[channel]["default"]), "demo")


def seed_orders_connector(env: dict[str, str]) -> None:
    """Point the orders connector at the demo order service on the local stack's own port."""
    import json

    import boto3

    from infra.local import orders_demo

    base = env.get("OMNIFLOW_PUBLIC_URL")
    if not base:
        return
    secrets = boto3.client(
        "secretsmanager",
        region_name=env.get("AWS_DEFAULT_REGION", "us-east-1"),
        endpoint_url=env.get("OMNIFLOW_AWS_ENDPOINT"),
    )
    name = f"omniflow/{env['OMNIFLOW_STAGE']}/connectors/orders"
    value = json.dumps(orders_demo.connector_secret(base))
    try:
        secrets.create_secret(Name=name, SecretString=value)
    except secrets.exceptions.ResourceExistsException:  # seeded again: the port may have changed
        secrets.put_secret_value(SecretId=name, SecretString=value)


# Team replies for the demo's groups, written through the canned-replies service (CannedReplyBody).
CANNED_REPLIES: tuple[dict[str, Any], ...] = (
    {
        "group_id": "all",
        "title": "问候 Greeting",
        "shortcut": "/hi",
        "language": "zh-CN",
        "tags": ["greeting"],
        "body": "{{customer.name}}您好，我是客服{{agent.name}}，很高兴为您服务！",
    },
    {
        "group_id": "all",
        "title": "Greeting (English)",
        "shortcut": "/hello",
        "language": "en",
        "tags": ["greeting"],
        "body": "Hi {{customer.name}}, this is {{agent.name}}. How can I help?",
    },
    {
        "group_id": "aftersales",
        "title": "物流查询 Where is my order",
        "shortcut": "/wuliu",
        "language": "zh-CN",
        "tags": ["物流", "order"],
        "body": "您的订单 {{order.number}} 当前状态：{{order.status}}，"
        "{{order.carrier}} 运单号 {{order.tracking_number}}。",
    },
    {
        "group_id": "aftersales",
        "title": "Refund policy",
        "shortcut": "/refund",
        "language": "en",
        "tags": ["refund", "after-sales"],
        "body": "Hi {{customer.name}}, order {{order.number}} can be refunded within 7 days of delivery."
        " I have started it for you.",
    },
    {
        "group_id": "presales",
        "title": "优惠活动 Promotion",
        "shortcut": "/youhui",
        "language": "zh-CN",
        "tags": ["优惠", "presales"],
        "body": "本周全场满 299 减 50，{{customer.name}}下单即可自动享受。",
    },
)


def seed_canned_replies() -> None:
    from chalicelib.auth.service import Principal
    from chalicelib.canned import service as canned
    from chalicelib.canned.bodies import CannedReplyBody
    from chalicelib.canned.models import CannedReply, scope_key

    supervisor = Principal("supervisor", "supervisor", frozenset({"supervisor"}))
    for reply in CANNED_REPLIES:
        existing = CannedReply.by_scope.query(scope_key("team", group_id=reply["group_id"]))
        if any(r.shortcut == reply["shortcut"] for r in existing):
            continue  # seeded again: keep the one there (and its usage count)
        canned.create(supervisor, CannedReplyBody(scope="team", **reply))


# Business hours of the demo's support team (Shanghai), and routing rules that use them. Rules are
# seeded only for the groups above, so removing a group never makes the seed fail validation.
DEMO_CALENDAR: dict[str, Any] = {
    "name": "cn-support",
    "time_zone": "Asia/Shanghai",
    "weekly": {
        **{day: [["09:00", "12:00"], ["13:00", "21:00"]] for day in ("mon", "tue", "wed", "thu", "fri")},
        "sat": [["10:00", "18:00"]],
        "sun": [["10:00", "18:00"]],
    },
    "holidays": [f"2025-10-0{day}" for day in range(1, 9)],  # National Day week
    "special_days": {"2025-12-31": [["09:00", "17:00"]]},  # New Year's Eve closes early
}
ROUTING_RULES: tuple[dict[str, Any], ...] = (
    {
        "rule_id": "vip-desk",
        "name": "VIP desk for tier vip",
        "match": {"tiers": ["vip"]},
        "actions": {"group": "vip", "bot_first": False},
    },
    {
        "rule_id": "complaints",
        "name": "Complaints: urgent, complaints group",
        "match": {"keywords": ["投诉", "举报", "差评", "12315", "complaint", "complain", "unacceptable"]},
        "actions": {"group": "complaints", "priority": "urgent", "tags": ["complaint"]},
    },
    {
        "rule_id": "refunds",
        "name": "Refunds and returns to after-sales",
        "match": {"keywords": ["退款", "退货", "换货", "refund", "return", "exchange"]},
        "actions": {"group": "aftersales", "tags": ["refund"]},
    },
    {
        "rule_id": "deliveries",
        "name": "Deliveries to logistics",
        "match": {"keywords": ["快递", "物流", "没收到", "还没到", "delivery", "tracking", "parcel"]},
        "actions": {"group": "logistics"},
    },
    {
        "rule_id": "order-number",
        "name": "Tag messages quoting an order number",
        "match": {"regex": r"(?:订单|order)\s*(?:号|no\.?|#)?\s*[:：]?\s*\d{8,}"},
        "actions": {"tags": ["order-number"]},
    },
    {
        # The bot (chalicelib/bot) takes first contact on the self-service accounts ("bot" of any
        # channel). A deployment that wants it after hours adds bot_first to the rule below; the
        # demo does not, so what the local stack does with a message never depends on the hour.
        "rule_id": "bot-desk",
        "name": "Bot first on the self-service accounts",
        "match": {"accounts": ["bot"]},
        "actions": {"bot_first": True},
    },
    {
        "rule_id": "after-hours-bot",
        "name": "Tag conversations opened outside business hours",
        "match": {"business_hours": {"state": "closed", "calendar": "cn-support"}},
        "actions": {"tags": ["after-hours"]},
    },
)


# The demo shop's chat desk answers around the clock (its web account's ``calendar``), so the
# widget on /demo/shop says "online" whatever the visitor's time zone; the wholesale desk keeps the
# Shanghai business hours above, so /demo/shop?site=wholesale shows the after-hours form.
SHOP_CALENDAR: dict[str, Any] = {
    "name": "shop-24x7",
    "time_zone": "Asia/Shanghai",
    "weekly": {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")},
    "holidays": [],
    "special_days": {},
}
#: web channel accounts: (account, calendar); "default" is the demo shop's widget
WEB_ACCOUNTS: tuple[tuple[str, str], ...] = (("default", "shop-24x7"), ("wholesale", "cn-support"))


def _put_calendar(spec: dict[str, Any]) -> None:
    from chalicelib.calendars import service as calendars
    from chalicelib.calendars.hours import CalendarUpdate

    name = spec["name"]
    try:
        version = int(calendars.calendar_view(name)["version"])
    except KeyError:
        version = 0
    fields = {k: v for k, v in spec.items() if k != "name"}
    calendars.put_calendar(name, CalendarUpdate.model_validate({"version": version, **fields}), "demo")


def seed_web_accounts(env: dict[str, str]) -> None:
    """Give each demo web account its calendar (the widget's "online / leave a message")."""
    import json

    import boto3

    secrets = boto3.client(
        "secretsmanager",
        region_name=env.get("AWS_DEFAULT_REGION", "us-east-1"),
        endpoint_url=env.get("OMNIFLOW_AWS_ENDPOINT"),
    )
    name = f"omniflow/{env['OMNIFLOW_STAGE']}/channels/web"
    accounts = json.loads(secrets.get_secret_value(SecretId=name)["SecretString"])
    base = accounts.get("default") or {}
    for account, calendar in WEB_ACCOUNTS:
        accounts[account] = {**base, **accounts.get(account, {}), "calendar": calendar}
    secrets.put_secret_value(SecretId=name, SecretString=json.dumps(accounts))


PROACTIVE_RULES: list[dict[str, Any]] = [
    {
        "rule_id": "order-shipped",
        "event": "order.shipped",
        "template": {
            "zh-CN": "您好，您的订单 {order_id} 已发货，快递单号 {tracking}。",
            "en": "Hello, your order {order_id} has shipped, tracking number {tracking}.",
        },
        "channel_templates": {"whatsapp": "hello_world"},
    },
    {
        "rule_id": "delivery-delayed",
        "event": "delivery.delayed",
        "template": {
            "zh-CN": "抱歉，您的订单 {order_id} 预计晚到，新的送达时间：{eta}。",
            "en": "Sorry, your order {order_id} is running late; it should arrive {eta}.",
        },
    },
    {
        "rule_id": "refund-paid",
        "event": "refund.paid",
        "template": {
            "zh-CN": "您的退款 {amount} 元已原路退回（订单 {order_id}），请注意查收。",
            "en": "Your refund of {amount} for order {order_id} has been paid.",
        },
    },
]


def seed_proactive_rules() -> None:
    """The shop's proactive notices (order shipped, delivery delayed, refund paid), saved through
    the proactive service like an admin's change; re-seeding replaces them."""
    from chalicelib.proactive import service as proactive
    from chalicelib.proactive.rules import ProactiveRulesUpdate

    update = ProactiveRulesUpdate.model_validate(
        {"version": proactive.current().version, "rules": PROACTIVE_RULES}
    )
    proactive.save(update, "demo")


def seed_routing() -> None:
    """The demo calendars and routing rules, saved through the admin API's services (validated and
    audited like an admin's change); re-seeding replaces them."""
    from chalicelib.routing import service as routing
    from chalicelib.routing.rules import Rule, RuleSetUpdate

    _put_calendar(DEMO_CALENDAR)
    _put_calendar(SHOP_CALENDAR)
    groups: set[str | None] = {None, *(group_id for group_id, _, _ in SKILL_GROUPS)}
    rules = [Rule.model_validate(r) for r in ROUTING_RULES if r["actions"].get("group") in groups]
    routing.save(RuleSetUpdate(version=routing.current().version, rules=rules), "demo")
