"""Create Omniflow's AWS resources in moto from the cloud's own definitions, and seed them.

- ``infra/data.yaml`` is deployed through CloudFormation (tables and queues come up from the same
  template AWS uses);
- the SLA state machines are created through the Step Functions API from ``infra/sla.asl.json``
  and ``infra/ticket-sla.asl.json``
  (moto's executor does not see machines created by its CloudFormation);
- Cognito (which moto's CloudFormation skips) and the channel secrets are created through their APIs.

Used by ``make dev`` (``infra/local/stack.py``) and by the test fixtures, so tests run against the
same resources a developer sees.
"""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path
from typing import Any

import boto3

INFRA = Path(__file__).resolve().parent.parent
ROLES = ("admin", "supervisor", "agent")
DEFAULT_DEMO_PASSWORD = "Omniflow-demo-1"  # documented in README; override with OMNIFLOW_DEMO_PASSWORD

# Demo channel accounts. Every field can be overridden by OMNIFLOW_<CHANNEL>_<FIELD>.
DEMO_CHANNELS: dict[str, dict[str, str]] = {
    "wechat": {
        "token": "omniflow-demo-token",
        "aes_key": "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG",
        "app_id": "wx0demo0omniflow01",
        "app_secret": "omniflow-demo-wechat-secret",
    },
    "wecom": {
        "corp_id": "ww0demo0omniflow01",
        "secret": "omniflow-demo-wecom-kf-secret",
        "token": "omniflow-demo-wecom-token",
        "aes_key": "WeComDemoAesKey0123456789abcdefghijklmnopqr",
    },
    "sms": {
        "account_sid": "AC00000000000000000000000000000000",
        "auth_token": "omniflow-demo-twilio-token",
        "from_number": "+15005550006",
    },
    "email": {
        "topic_arn": "arn:aws:sns:us-east-1:123456789012:omniflow-inbound-email",
        "from_address": "support@omniflow.example",
    },
    "web": {
        "visitor_secret": "omniflow-demo-visitor-secret",
        "identity_secret": "omniflow-demo-identity-secret",
        "allowed_origins": "*",
    },
    "app": {
        # {key id: secret} as JSON text, so OMNIFLOW_APP_KEYS can override it (the adapter reads
        # the object or its text; see docs/channels/app.md).
        "keys": '{"demo-key": "omniflow-demo-app-secret"}',
    },
    "telegram": {
        "bot_token": "5000000001:AAomniflow-demo-telegram-bot-token00",
        "secret_token": "omniflow-demo-telegram-secret",
    },
    "line": {
        "channel_secret": "omniflow-demo-line-channel-secret",
        "channel_access_token": "omniflow-demo-line-channel-access-token",
    },
    "douyin": {
        "client_key": "awomniflowdemo0001",
        "client_secret": "omniflow-demo-douyin-client-secret",
        "open_id": "_000omniflow-demo-douyin-account-open-id",
    },
    "weibo": {
        "app_secret": "omniflow-demo-weibo-app-secret",
        "access_token": "2.00omniflow-demo-weibo-access-token",
    },
    "whatsapp": {
        "app_secret": "omniflow-demo-meta-app-secret",
        "verify_token": "omniflow-demo-whatsapp-verify",
        "access_token": "omniflow-demo-whatsapp-access-token",
        "phone_number_id": "106540352242922",
        # JSON text so OMNIFLOW_WHATSAPP_TEMPLATES can override it; hello_world comes with every WABA
        "templates": '[{"name": "hello_world", "language": "en_US", "params": 0, "preview": "Hello World"}]',
    },
    "messenger": {
        "app_secret": "omniflow-demo-meta-app-secret",
        "verify_token": "omniflow-demo-messenger-verify",
        "page_access_token": "omniflow-demo-messenger-page-token",
        "page_id": "102290129340398",
    },
    "instagram": {
        "app_secret": "omniflow-demo-meta-app-secret",
        "verify_token": "omniflow-demo-instagram-verify",
        "page_access_token": "omniflow-demo-instagram-page-token",
        "ig_id": "17841400000000001",
    },
}


def credential_env_var(channel: str, field: str) -> str:
    """The environment variable that overrides a demo credential: ``OMNIFLOW_<CHANNEL>_<FIELD>``."""
    return f"OMNIFLOW_{channel.upper()}_{field.upper()}"


def channel_credentials(env: dict[str, str] | None = None) -> dict[str, dict[str, dict[str, str]]]:
    """Channel secrets to store: ``{channel: {"default": {field: value}}}`` from env or defaults."""
    env = dict(os.environ if env is None else env)
    out: dict[str, dict[str, dict[str, str]]] = {}
    for channel, fields in DEMO_CHANNELS.items():
        account = {f: env.get(credential_env_var(channel, f), v) for f, v in fields.items()}
        out[channel] = {"default": account}
    return out


@lru_cache(maxsize=4)
def _session(region: str) -> boto3.session.Session:
    return boto3.session.Session(region_name=region)


def _clients(endpoint_url: str | None, region: str) -> dict[str, Any]:
    session = _session(region)
    return {
        name: session.client(name, endpoint_url=endpoint_url)
        for name in ("cloudformation", "stepfunctions", "cognito-idp", "secretsmanager", "dynamodb", "ses")
    }


def render_asl(values: dict[str, str], name: str = "sla.asl.json") -> str:
    text = (INFRA / name).read_text()
    for key, value in values.items():
        text = text.replace("${" + key + "}", value)
    return text


def provision(
    stage: str,
    *,
    endpoint_url: str | None = None,
    region: str = "us-east-1",
    visibility_seconds: int = 30,
    max_receive_count: int = 5,
    channels: dict[str, dict[str, dict[str, str]]] | None = None,
) -> dict[str, str]:
    """Create every resource for ``stage``; return the OMNIFLOW_* environment the Lambdas need."""
    c = _clients(endpoint_url, region)
    stack = f"omniflow-{stage}-data"
    c["cloudformation"].create_stack(
        StackName=stack,
        TemplateBody=(INFRA / "data.yaml").read_text(),
        Parameters=[
            {"ParameterKey": "Stage", "ParameterValue": stage},
            {"ParameterKey": "QueueVisibilitySeconds", "ParameterValue": str(visibility_seconds)},
            {"ParameterKey": "MaxReceiveCount", "ParameterValue": str(max_receive_count)},
        ],
    )
    described = c["cloudformation"].describe_stacks(StackName=stack)["Stacks"][0]
    if described["StackStatus"] != "CREATE_COMPLETE":
        raise RuntimeError(f"data stack failed: {described['StackStatus']}")
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described["Outputs"]}

    asl = render_asl(
        {
            "ConversationsTable": f"omniflow-{stage}-conversations",
            "EventsQueueUrl": outputs["EventsQueueUrl"],
            "AlertsTopicArn": outputs["AlertsTopicArn"],
        }
    )
    machine = c["stepfunctions"].create_state_machine(
        name=f"omniflow-{stage}-sla",
        definition=asl,
        roleArn="arn:aws:iam::123456789012:role/omniflow-local-sla",
    )
    ticket_machine = c["stepfunctions"].create_state_machine(
        name=f"omniflow-{stage}-ticket-sla",
        definition=render_asl(
            {"TicketsTable": f"omniflow-{stage}-tickets", "EventsQueueUrl": outputs["EventsQueueUrl"]},
            "ticket-sla.asl.json",
        ),
        roleArn="arn:aws:iam::123456789012:role/omniflow-local-ticket-sla",
    )

    erasure_machine = c["stepfunctions"].create_state_machine(
        name=f"omniflow-{stage}-erasure",
        definition=render_asl(
            {"StateTable": f"omniflow-{stage}-state", "EventsQueueUrl": outputs["EventsQueueUrl"]},
            "erasure.asl.json",
        ),
        roleArn="arn:aws:iam::123456789012:role/omniflow-local-erasure",
    )

    idp = c["cognito-idp"]
    pool = idp.create_user_pool(
        PoolName=f"omniflow-{stage}-agents",
        Policies={
            "PasswordPolicy": {
                "MinimumLength": 10,
                "RequireUppercase": True,
                "RequireLowercase": True,
                "RequireNumbers": True,
                "RequireSymbols": False,
            }
        },
    )["UserPool"]
    app_client = idp.create_user_pool_client(
        UserPoolId=pool["Id"],
        ClientName="omniflow-console",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        GenerateSecret=False,
    )["UserPoolClient"]
    for role in ROLES:
        idp.create_group(GroupName=role, UserPoolId=pool["Id"], Description=f"Omniflow {role}s")

    for channel, accounts in (channels if channels is not None else channel_credentials()).items():
        c["secretsmanager"].create_secret(
            Name=f"omniflow/{stage}/channels/{channel}", SecretString=json.dumps(accounts)
        )
    email = (channels or channel_credentials()).get("email", {}).get("default", {})
    if email.get("from_address"):
        c["ses"].verify_email_identity(EmailAddress=email["from_address"])

    return {
        "OMNIFLOW_STAGE": stage,
        "AWS_DEFAULT_REGION": region,
        "OMNIFLOW_INBOUND_QUEUE_URL": outputs["InboundQueueUrl"],
        "OMNIFLOW_OUTBOUND_QUEUE_URL": outputs["OutboundQueueUrl"],
        "OMNIFLOW_EVENTS_QUEUE_URL": outputs["EventsQueueUrl"],
        "OMNIFLOW_WEBHOOKS_QUEUE_URL": outputs["WebhooksQueueUrl"],
        "OMNIFLOW_WEBHOOKS_DLQ_QUEUE_URL": outputs["WebhooksDeadLetterQueueUrl"],
        "OMNIFLOW_ANALYTICS_QUEUE_URL": outputs["AnalyticsQueueUrl"],
        "OMNIFLOW_ALERTS_TOPIC_ARN": outputs["AlertsTopicArn"],
        "OMNIFLOW_MEDIA_BUCKET": outputs["MediaBucketName"],
        "OMNIFLOW_SLA_STATE_MACHINE_ARN": machine["stateMachineArn"],
        "OMNIFLOW_TICKET_SLA_STATE_MACHINE_ARN": ticket_machine["stateMachineArn"],
        "OMNIFLOW_ERASURE_STATE_MACHINE_ARN": erasure_machine["stateMachineArn"],
        "OMNIFLOW_USER_POOL_ID": pool["Id"],
        "OMNIFLOW_USER_POOL_CLIENT_ID": app_client["ClientId"],
        **({"OMNIFLOW_AWS_ENDPOINT": endpoint_url} if endpoint_url else {}),
    }


def create_agent_login(
    username: str,
    role: str,
    password: str,
    *,
    user_pool_id: str,
    endpoint_url: str | None = None,
    region: str = "us-east-1",
    email: str | None = None,
) -> None:
    """A Cognito user in the role's group, with a permanent password (no first-login challenge)."""
    idp = _session(region).client("cognito-idp", endpoint_url=endpoint_url)
    attrs = [
        {"Name": "email", "Value": email or f"{username}@omniflow.example"},
        {"Name": "name", "Value": username},
    ]
    idp.admin_create_user(
        UserPoolId=user_pool_id, Username=username, UserAttributes=attrs, MessageAction="SUPPRESS"
    )
    idp.admin_set_user_password(UserPoolId=user_pool_id, Username=username, Password=password, Permanent=True)
    idp.admin_add_user_to_group(UserPoolId=user_pool_id, Username=username, GroupName=role)
