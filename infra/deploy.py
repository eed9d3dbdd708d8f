"""Deploy Omniflow into an AWS account: ``make deploy STAGE=prod``, i.e.
``python -m infra.deploy --stage prod`` (``deploy`` is the default subcommand). Ops guide:
docs/deploy.md.

The order, and why:

1. build the webhook zip (``infra/build.py``): a broken build stops before anything in AWS changes;
2. the artifact bucket ``omniflow-artifacts-<account>-<region>-<stage>`` (created if missing);
3. upload the zip and ``sla.asl.json`` under content-addressed keys, so CloudFormation updates the
   webhook functions and the state machine exactly when their bytes change;
4. the data stack (``infra/data.yaml``: tables, queues, alerts topic), then the app stack
   (``infra/app.yaml``), which imports the data stack's exports;
5. the stacks' outputs written into ``.chalice/config.json`` for the stage (environment and
   ``iam_role_arn``), where Chalice reads them;
6. ``chalice deploy --stage <stage>`` for the core (REST API, router, sender, events), its
   deployed-state file kept in the artifact bucket so any checkout (CI included) updates the same
   resources instead of creating new ones;
7. ``ReportBatchItemFailures`` set on the core's SQS event sources: ``chalice deploy`` cannot, and
   without it a partial batch failure would delete the failed messages.

Before step 2 the caller's account (STS GetCallerIdentity) is checked against the one the stage
was first deployed to (``.chalice/deployed-accounts.json``, written on the first deploy and meant
to be committed): a stage never silently moves to another account because the default credentials
pointed elsewhere; ``--allow-account-change`` (``ALLOW_ACCOUNT_CHANGE=1``) moves it on purpose.

``plan`` (``make deploy-plan``) builds, lints, and shows what would change: a CloudFormation change
set per stack, created, described and deleted, never executed. ``destroy`` (``make destroy``)
removes a stage's core and app stack and keeps its data (the data stack: tables, queues, media
bucket; the user pool and mail bucket, retained by the app stack) unless ``--delete-data``.
``--dry-run`` builds and validates everything and prints the plan without any AWS call.
``package`` is the CloudFormation-only alternative to step 6 (``chalice package`` + merge template).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
import subprocess
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from infra.build import BUILD, REPO, build_webhook_package, chalice_executable, package_core, sha256_file

INFRA = REPO / "infra"
CHALICE_CONFIG = REPO / ".chalice" / "config.json"
CHALICE_DEPLOYED = REPO / ".chalice" / "deployed"
DEPLOYED_ACCOUNTS = REPO / ".chalice" / "deployed-accounts.json"
STAGE_PATTERN = re.compile(r"[a-z][a-z0-9-]{0,15}")
MAX_TEMPLATE_BODY = 51_200  # CloudFormation's limit for an inline template
DEFAULT_FIRST_RESPONSE_SECONDS = "300"

# Environment of every core Lambda, and the stack output each value comes from.
ENV_FROM_OUTPUTS: dict[str, str] = {
    "OMNIFLOW_INBOUND_QUEUE_URL": "InboundQueueUrl",
    "OMNIFLOW_OUTBOUND_QUEUE_URL": "OutboundQueueUrl",
    "OMNIFLOW_EVENTS_QUEUE_URL": "EventsQueueUrl",
    "OMNIFLOW_ANALYTICS_QUEUE_URL": "AnalyticsQueueUrl",
    "OMNIFLOW_ALERTS_TOPIC_ARN": "AlertsTopicArn",
    "OMNIFLOW_SLA_STATE_MACHINE_ARN": "SlaStateMachineArn",
    "OMNIFLOW_TICKET_SLA_STATE_MACHINE_ARN": "TicketSlaStateMachineArn",
    "OMNIFLOW_ERASURE_STATE_MACHINE_ARN": "ErasureStateMachineArn",
    "OMNIFLOW_USER_POOL_ID": "UserPoolId",
    "OMNIFLOW_USER_POOL_ARN": "UserPoolArn",
    "OMNIFLOW_USER_POOL_CLIENT_ID": "UserPoolClientId",
    "OMNIFLOW_PUBLIC_URL": "WebhookApiUrl",
    "OMNIFLOW_INTENT_BACKEND": "IntentBackend",
    "OMNIFLOW_MEDIA_BUCKET": "MediaBucketName",
    "OMNIFLOW_TOKEN_KEY_ID": "ApiTokenSigningKeyArn",
}
REQUIRED_ENV = ("OMNIFLOW_STAGE", *ENV_FROM_OUTPUTS, "OMNIFLOW_FIRST_RESPONSE_SECONDS")
# Chalice merges per-function environment only from the stage's own lambda_functions, so every
# deployed stage gets these (logs and metrics of the router, sender and API told apart).
CORE_SERVICE_NAMES: dict[str, str] = {
    "api_handler": "omniflow-api",
    "route_inbound": "omniflow-router",
    "send_outbound": "omniflow-sender",
    "handle_event": "omniflow-events",
    "deliver_webhooks": "omniflow-webhooks",
    "count_activity": "omniflow-analytics",
    "evaluate_alerts": "omniflow-alerts",
    "sweep_bot_conversations": "omniflow-bot-sweep",
    "release_held_notices": "omniflow-proactive-release",
    "check_surge": "omniflow-surge",
}

Log = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass(frozen=True)
class Artifacts:
    """Where the app stack finds its code and state-machine definition."""

    bucket: str
    webhook_key: str
    sla_key: str
    ticket_sla_key: str = ""  # infra/ticket-sla.asl.json (tickets' SLA clocks)


# ---------------------------------------------------------------------------------------- artifacts
def artifact_bucket_name(account: str, region: str, stage: str) -> str:
    """One bucket per account, region and stage (at most 63 characters for any valid stage)."""
    return f"omniflow-artifacts-{account}-{region}-{stage}"


def artifact_keys(webhook_zip: Path, asl: Path) -> tuple[str, str]:
    """Content-addressed keys: a new key is what tells CloudFormation the code changed."""
    return f"webhooks/{sha256_file(webhook_zip)[:24]}.zip", f"sla/{sha256_file(asl)[:24]}.asl.json"


def ticket_sla_artifact_key(asl: Path = INFRA / "ticket-sla.asl.json") -> str:
    """Content-addressed key of the tickets' SLA machine definition."""
    return f"sla/{sha256_file(asl)[:24]}.ticket-sla.asl.json"


def ensure_artifact_bucket(s3: Any, name: str, region: str) -> None:
    """Create the private, versioned artifact bucket unless it exists."""
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=name)
        return
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in {"404", "NoSuchBucket", "NotFound"}:
            raise
    kwargs: dict[str, Any] = {"Bucket": name}
    if region != "us-east-1":
        kwargs["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**kwargs)
    s3.put_public_access_block(
        Bucket=name,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    # Versioning keeps every deployed-state file, so a bad deploy can be rolled back from history.
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})


def upload_artifacts(
    s3: Any, bucket: str, webhook_zip: Path, asl: Path = INFRA / "sla.asl.json"
) -> Artifacts:
    """Upload what is not there yet; return the keys the app stack takes as parameters."""
    from botocore.exceptions import ClientError

    webhook_key, sla_key = artifact_keys(webhook_zip, asl)
    ticket_asl = INFRA / "ticket-sla.asl.json"
    ticket_sla_key = ticket_sla_artifact_key(ticket_asl)
    for path, key in ((webhook_zip, webhook_key), (asl, sla_key), (ticket_asl, ticket_sla_key)):
        try:
            s3.head_object(Bucket=bucket, Key=key)
        except ClientError:
            s3.upload_file(str(path), bucket, key)
    return Artifacts(bucket=bucket, webhook_key=webhook_key, sla_key=sla_key, ticket_sla_key=ticket_sla_key)


# ---------------------------------------------------------------------------------------- stacks
def template_parameters(template_text: str) -> list[str]:
    """Parameter names a template declares (parsed with cfn-lint's decoder: it knows !Ref & co)."""
    from cfnlint.decode import decode_str

    template, errors = decode_str(template_text)
    if errors or template is None:
        raise ValueError(f"cannot parse template: {errors}")
    return list(template.get("Parameters", {}))


def _stack(cfn: Any, name: str) -> dict[str, Any] | None:
    from botocore.exceptions import ClientError

    try:
        stacks = cfn.describe_stacks(StackName=name)["Stacks"]
    except ClientError as exc:
        if "does not exist" in str(exc):
            return None
        raise
    return stacks[0] if stacks and stacks[0]["StackStatus"] != "DELETE_COMPLETE" else None


def _failure_reasons(cfn: Any, name: str, limit: int = 8) -> list[str]:
    try:
        events = cfn.describe_stack_events(StackName=name)["StackEvents"]
    except Exception:  # noqa: BLE001 — only decorates an error we are already raising
        return []
    return [
        f"{e['LogicalResourceId']}: {e.get('ResourceStatusReason', e['ResourceStatus'])}"
        for e in events
        if e["ResourceStatus"].endswith("FAILED")
    ][:limit]


def _wait(cfn: Any, waiter: str, name: str) -> None:
    from botocore.exceptions import WaiterError

    try:
        cfn.get_waiter(waiter).wait(StackName=name, WaiterConfig={"Delay": 10, "MaxAttempts": 360})
    except WaiterError as exc:
        reasons = "\n  ".join(_failure_reasons(cfn, name)) or str(exc)
        raise RuntimeError(f"stack {name} failed:\n  {reasons}") from exc


def deploy_stack(
    cfn: Any,
    name: str,
    template_body: str,
    parameters: Mapping[str, str],
    *,
    capabilities: tuple[str, ...] = (),
    termination_protection: bool = False,
    template_url: str | None = None,
    log: Log = _stderr,
) -> dict[str, str]:
    """Create or update one stack and wait for it; return its outputs. Parameters not passed take
    the template's default, on update too: a release that changes a default (say, adds a channel)
    takes effect. Values ops chose are remembered by :func:`remembered_parameters` instead."""
    from botocore.exceptions import ClientError

    source: dict[str, str] = (
        {"TemplateURL": template_url} if template_url else {"TemplateBody": template_body}
    )
    current = _stack(cfn, name)
    if current is not None and current["StackStatus"].endswith("_IN_PROGRESS"):
        raise RuntimeError(f"stack {name} is {current['StackStatus']}; run again when it has finished")
    if current is not None and current["StackStatus"] == "ROLLBACK_COMPLETE":
        log(f"{name}: a failed first create left it in ROLLBACK_COMPLETE; deleting it to start again")
        cfn.delete_stack(StackName=name)
        _wait(cfn, "stack_delete_complete", name)
        current = None

    given = [{"ParameterKey": k, "ParameterValue": str(v)} for k, v in parameters.items()]
    if current is None:
        log(f"{name}: creating")
        cfn.create_stack(
            StackName=name,
            Parameters=given,
            Capabilities=list(capabilities),
            EnableTerminationProtection=termination_protection,
            Tags=[{"Key": "app", "Value": "omniflow"}],
            **source,
        )
        _wait(cfn, "stack_create_complete", name)
    else:
        log(f"{name}: updating")
        try:
            cfn.update_stack(
                StackName=name,
                Parameters=given,
                Capabilities=list(capabilities),
                Tags=[{"Key": "app", "Value": "omniflow"}],
                **source,
            )
        except ClientError as exc:
            if "No updates are to be performed" not in str(exc):
                raise
            log(f"{name}: no changes")
        else:
            _wait(cfn, "stack_update_complete", name)
    described = _stack(cfn, name) or {}
    return {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}


def _parameters_key(stage: str) -> str:
    return f"parameters/{stage}.json"


def remembered_parameters(s3: Any, bucket: str, stage: str, given: Mapping[str, str]) -> dict[str, str]:
    """The stage's ``--param`` choices: those saved by earlier deploys, updated with ``given``
    (``Key=`` with no value forgets a choice, back to the template default), saved again."""
    from botocore.exceptions import ClientError

    try:
        body = s3.get_object(Bucket=bucket, Key=_parameters_key(stage))["Body"].read()
        saved: dict[str, str] = json.loads(body)
    except ClientError:
        saved = {}
    merged = {k: v for k, v in {**saved, **given}.items() if v != ""}
    if merged != saved:
        s3.put_object(Bucket=bucket, Key=_parameters_key(stage), Body=json.dumps(merged, indent=2).encode())
    return merged


def split_parameters(
    overrides: Mapping[str, str], data_template: str, app_template: str
) -> tuple[dict[str, str], dict[str, str]]:
    """Send each ``--param Key=Value`` to the stack whose template declares it."""
    data_keys, app_keys = set(template_parameters(data_template)), set(template_parameters(app_template))
    unknown = set(overrides) - data_keys - app_keys
    if unknown:
        raise ValueError(f"no stack declares parameter(s) {sorted(unknown)}")
    return (
        {k: v for k, v in overrides.items() if k in data_keys},
        {k: v for k, v in overrides.items() if k in app_keys},
    )


def app_stack_parameters(stage: str, artifacts: Artifacts, app_params: Mapping[str, str]) -> dict[str, str]:
    """The app stack's parameters: the stage, where its artifacts are, and the operator's overrides."""
    return {
        "Stage": stage,
        "ArtifactBucket": artifacts.bucket,
        "WebhookCodeKey": artifacts.webhook_key,
        "SlaDefinitionKey": artifacts.sla_key,
        "TicketSlaDefinitionKey": artifacts.ticket_sla_key,
        **app_params,
    }


def app_template_key(app_template: Path, app_body: str) -> str | None:
    """Where a template too large to pass inline lives in the artifact bucket (content-addressed)."""
    if len(app_body.encode()) <= MAX_TEMPLATE_BODY:
        return None
    return f"templates/{sha256_file(app_template)[:24]}.yaml"


def template_url(session: Any, bucket: str, key: str | None) -> str | None:
    return f"https://{bucket}.s3.{session.region_name}.amazonaws.com/{key}" if key else None


def deploy_stacks(
    session: Any,
    stage: str,
    *,
    artifacts: Artifacts | None = None,
    parameters: Mapping[str, str] | None = None,
    data_template: Path = INFRA / "data.yaml",
    app_template: Path = INFRA / "app.yaml",
    log: Log = _stderr,
) -> dict[str, str]:
    """Deploy the data stack, then (given ``artifacts``) the app stack; return all their outputs.

    Without ``artifacts`` only the data stack is deployed (tests on moto, or a first data-only
    deploy). ``session`` is a boto3 Session; its region is the deploy's region.
    """
    if not STAGE_PATTERN.fullmatch(stage):
        raise ValueError(f"stage {stage!r} must match {STAGE_PATTERN.pattern}")
    cfn = session.client("cloudformation")
    data_body, app_body = data_template.read_text(), app_template.read_text()
    data_params, app_params = split_parameters(dict(parameters or {}), data_body, app_body)

    outputs = deploy_stack(
        cfn,
        f"omniflow-{stage}-data",
        data_body,
        {"Stage": stage, **data_params},
        termination_protection=True,  # the data stack holds every customer's history
        log=log,
    )
    if artifacts is None:
        return outputs

    template_key = app_template_key(app_template, app_body)
    if template_key:
        session.client("s3").upload_file(str(app_template), artifacts.bucket, template_key)
    app_outputs = deploy_stack(
        cfn,
        f"omniflow-{stage}-app",
        app_body,
        app_stack_parameters(stage, artifacts, app_params),
        capabilities=("CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"),  # AUTO_EXPAND: Fn::ForEach
        template_url=template_url(session, artifacts.bucket, template_key),
        log=log,
    )
    return {**outputs, **app_outputs}


# ---------------------------------------------------------------------------------------- chalice
def stage_environment(
    stage: str, outputs: Mapping[str, str], previous: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The OMNIFLOW_* environment of the core Lambdas, from the stacks' outputs. Values the deploy
    does not own (e.g. a tuned OMNIFLOW_FIRST_RESPONSE_SECONDS) are kept from ``previous``."""
    missing = sorted(key for key in ENV_FROM_OUTPUTS.values() if not outputs.get(key))
    if missing:
        raise ValueError(f"stack outputs missing or empty: {missing}")
    env = dict(previous or {})
    env.pop("OMNIFLOW_AWS_ENDPOINT", None)  # moto only; on AWS the real endpoints are used
    env.update({var: outputs[key] for var, key in ENV_FROM_OUTPUTS.items()})
    env["OMNIFLOW_STAGE"] = stage
    env.setdefault("OMNIFLOW_FIRST_RESPONSE_SECONDS", DEFAULT_FIRST_RESPONSE_SECONDS)
    return env


def write_chalice_config(
    stage: str, outputs: Mapping[str, str], path: Path = CHALICE_CONFIG
) -> dict[str, Any]:
    """Write the stage's environment and role into Chalice's config (other keys are kept).
    Returns the stage's section as written."""
    if not outputs.get("CoreRoleArn"):
        raise ValueError("stack outputs missing or empty: ['CoreRoleArn']")
    config: dict[str, Any] = (
        json.loads(path.read_text()) if path.exists() else {"version": "2.0", "app_name": "omniflow"}
    )
    stages = config.setdefault("stages", {})
    section = stages.setdefault(stage, {})
    section["manage_iam_role"] = False
    section["iam_role_arn"] = outputs["CoreRoleArn"]
    section["environment_variables"] = stage_environment(stage, outputs, section.get("environment_variables"))
    functions = section.setdefault("lambda_functions", {})
    for function, service in CORE_SERVICE_NAMES.items():
        env = functions.setdefault(function, {}).setdefault("environment_variables", {})
        env.setdefault("POWERTOOLS_SERVICE_NAME", service)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(config, indent=2) + "\n")
    return section


def _state_key(stage: str) -> str:
    return f"chalice/deployed/{stage}.json"


def fetch_chalice_state(s3: Any, bucket: str, stage: str, deployed_dir: Path = CHALICE_DEPLOYED) -> None:
    """Bring the stage's deployed-state file from the bucket unless this checkout has one."""
    from botocore.exceptions import ClientError

    local = deployed_dir / f"{stage}.json"
    if local.exists():
        return
    try:
        s3.head_object(Bucket=bucket, Key=_state_key(stage))
    except ClientError:
        return  # first deploy of this stage
    local.parent.mkdir(parents=True, exist_ok=True)
    s3.download_file(bucket, _state_key(stage), str(local))


def store_chalice_state(s3: Any, bucket: str, stage: str, deployed_dir: Path = CHALICE_DEPLOYED) -> None:
    s3.upload_file(str(deployed_dir / f"{stage}.json"), bucket, _state_key(stage))


def enable_partial_batch_failures(lambda_client: Any, deployed: Mapping[str, Any]) -> list[str]:
    """Set ReportBatchItemFailures on every SQS event source Chalice deployed; return their UUIDs.

    Without it Lambda ignores the ``batchItemFailures`` the consumers return and deletes the
    whole batch, failed messages included."""
    uuids = []
    for resource in deployed.get("resources", []):
        if resource.get("resource_type") == "sqs_event":
            lambda_client.update_event_source_mapping(
                UUID=resource["event_uuid"], FunctionResponseTypes=["ReportBatchItemFailures"]
            )
            uuids.append(resource["event_uuid"])
    return uuids


def chalice_deploy(session: Any, stage: str, *, project_dir: Path = REPO) -> dict[str, Any]:
    """``chalice deploy --stage`` with the session's profile and region; returns the deployed state."""
    import os

    env = {**os.environ, "AWS_DEFAULT_REGION": session.region_name}
    if session.profile_name and session.profile_name != "default":
        env["AWS_PROFILE"] = session.profile_name
    subprocess.run(  # noqa: S603 — fixed argument list, no shell
        [chalice_executable(), "--project-dir", str(project_dir), "deploy", "--stage", stage],
        check=True,
        env=env,
    )
    deployed: dict[str, Any] = json.loads(
        (project_dir / ".chalice" / "deployed" / f"{stage}.json").read_text()
    )
    return deployed


# ---------------------------------------------------------------------------------------- account
class AccountMismatch(SystemExit):
    """The credentials point at another account than the stage lives in."""


def recorded_accounts(path: Path | None = None) -> dict[str, dict[str, str]]:
    """``{stage: {"account", "region"}}`` from ``.chalice/deployed-accounts.json``."""
    path = path or DEPLOYED_ACCOUNTS
    if not path.exists():
        return {}
    data: dict[str, dict[str, str]] = json.loads(path.read_text())
    return data


def check_account(
    stage: str,
    account: str,
    region: str,
    *,
    allow_change: bool = False,
    record: bool = True,
    path: Path | None = None,
    log: Log = _stderr,
) -> None:
    """Refuse to touch ``stage`` in ``account`` when it was first deployed to another one, unless
    ``allow_change``; record the account on the stage's first deploy (or on an allowed change)."""
    path = path or DEPLOYED_ACCOUNTS
    accounts = recorded_accounts(path)
    known = accounts.get(stage)
    if known and known.get("account") != account:
        where = f"{known['account']} ({known.get('region', '?')})"
        if not allow_change:
            raise AccountMismatch(
                f"stage {stage!r} lives in AWS account {where}, but these credentials are for {account}"
                f" ({region}). Check PROFILE / AWS_PROFILE; to move the stage on purpose, run again"
                f" with ALLOW_ACCOUNT_CHANGE=1 (--allow-account-change). Recorded in {path.name}."
            )
        log(f"stage {stage!r}: moving from account {where} to {account} ({region}), as asked")
    if record and (known is None or known.get("account") != account):
        accounts[stage] = {"account": account, "region": region}
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(accounts, indent=2, sort_keys=True) + "\n")
        log(f"stage {stage!r} recorded as deployed to account {account} in {path.name} (commit it)")


def caller_account(session: Any) -> str:
    account: str = session.client("sts").get_caller_identity()["Account"]
    return account


# ---------------------------------------------------------------------------------------- plan
@dataclass(frozen=True)
class StackPlan:
    stack: str
    action: str  # "create" | "update" | "no changes" | "cannot plan"
    changes: tuple[dict[str, str], ...] = ()
    reason: str = ""


def plan_stack(
    cfn: Any,
    name: str,
    template_body: str,
    parameters: Mapping[str, str],
    *,
    capabilities: tuple[str, ...] = (),
    template_url: str | None = None,
) -> StackPlan:
    """What deploying this stack would change: a change set created, described and deleted (never
    executed). A stack that does not exist yet is planned as a CREATE change set, and the empty
    stack CloudFormation makes for it (REVIEW_IN_PROGRESS) is deleted again."""
    import time

    from botocore.exceptions import ClientError, WaiterError

    current = _stack(cfn, name)
    if current is not None and current["StackStatus"] == "REVIEW_IN_PROGRESS":
        current = None  # a previous plan's leftover: still a create
    kind = "UPDATE" if current is not None else "CREATE"
    change_set = f"omniflow-plan-{int(time.time())}"
    source: dict[str, str] = (
        {"TemplateURL": template_url} if template_url else {"TemplateBody": template_body}
    )
    try:
        cfn.create_change_set(
            StackName=name,
            ChangeSetName=change_set,
            ChangeSetType=kind,
            Parameters=[{"ParameterKey": k, "ParameterValue": str(v)} for k, v in parameters.items()],
            Capabilities=list(capabilities),
            Tags=[{"Key": "app", "Value": "omniflow"}],
            **source,
        )
    except ClientError as exc:
        return StackPlan(name, "cannot plan", reason=str(exc))
    try:
        try:
            cfn.get_waiter("change_set_create_complete").wait(
                StackName=name, ChangeSetName=change_set, WaiterConfig={"Delay": 5, "MaxAttempts": 120}
            )
        except WaiterError:
            pass  # a FAILED change set says why below ("didn't contain changes" is no change)
        described = cfn.describe_change_set(StackName=name, ChangeSetName=change_set)
        if described.get("Status") == "FAILED":
            reason = described.get("StatusReason", "")
            if "didn't contain changes" in reason or "No updates" in reason:
                return StackPlan(name, "no changes")
            return StackPlan(name, "cannot plan", reason=reason)
        changes = tuple(
            {
                "action": str(c["ResourceChange"].get("Action", "")),
                "resource": str(c["ResourceChange"].get("LogicalResourceId", "")),
                "type": str(c["ResourceChange"].get("ResourceType", "")),
                "replacement": str(c["ResourceChange"].get("Replacement", "")),
            }
            for c in described.get("Changes", [])
            if "ResourceChange" in c
        )
        return StackPlan(name, kind.lower() if changes else "no changes", changes)
    finally:
        # cleanup must not hide the plan (or the error) it follows
        with contextlib.suppress(Exception):
            cfn.delete_change_set(StackName=name, ChangeSetName=change_set)
        if kind == "CREATE":
            with contextlib.suppress(Exception):
                cfn.delete_stack(StackName=name)  # the empty REVIEW_IN_PROGRESS stack


def plan_stacks(
    session: Any,
    stage: str,
    artifacts: Artifacts,
    parameters: Mapping[str, str] | None = None,
    *,
    data_template: Path = INFRA / "data.yaml",
    app_template: Path = INFRA / "app.yaml",
) -> list[StackPlan]:
    """Change sets for the data stack and the app stack, as :func:`deploy_stacks` would deploy them."""
    cfn = session.client("cloudformation")
    data_body, app_body = data_template.read_text(), app_template.read_text()
    data_params, app_params = split_parameters(dict(parameters or {}), data_body, app_body)
    # Content-addressed: the key a deploy uploads the template to (a plan uploads nothing).
    template_key = app_template_key(app_template, app_body)
    return [
        plan_stack(cfn, f"omniflow-{stage}-data", data_body, {"Stage": stage, **data_params}),
        plan_stack(
            cfn,
            f"omniflow-{stage}-app",
            app_body,
            app_stack_parameters(stage, artifacts, app_params),
            capabilities=("CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"),
            template_url=template_url(session, artifacts.bucket, template_key),
        ),
    ]


def render_plan(plans: list[StackPlan]) -> str:
    lines = []
    for p in plans:
        lines.append(f"{p.stack}: {p.action}" + (f" ({p.reason})" if p.reason else ""))
        for c in p.changes:
            replace = " [replacement]" if c["replacement"] == "True" else ""
            lines.append(f"  {c['action']:<7} {c['resource']} ({c['type']}){replace}")
    return "\n".join(lines)


def lint_templates(region: str) -> None:
    """cfn-lint errors in either template stop the deploy (and the plan) before any AWS call."""
    from cfnlint.api import lint

    for template in ("data.yaml", "app.yaml"):
        matches = lint((INFRA / template).read_text(), regions=[region])
        errors = [m for m in matches if m.rule.id.startswith("E")]
        if errors:
            raise SystemExit(f"{template}: {errors}")


# ---------------------------------------------------------------------------------------- destroy
#: resource types whose contents are the stage's data: kept unless --delete-data
DATA_TYPES = ("AWS::DynamoDB::Table", "AWS::S3::Bucket", "AWS::Cognito::UserPool")


def _data_resources(cfn: Any, name: str) -> list[tuple[str, str]]:
    """(type, physical id) of the stack's data-holding resources (those it retains or holds)."""
    if _stack(cfn, name) is None:
        return []
    out = []
    paginator = cfn.get_paginator("list_stack_resources")
    for page in paginator.paginate(StackName=name):
        for r in page["StackResourceSummaries"]:
            if r["ResourceType"] in DATA_TYPES and r.get("PhysicalResourceId"):
                out.append((r["ResourceType"], r["PhysicalResourceId"]))
    return out


def disable_termination_protection(cfn: Any, name: str) -> None:
    """The data stack is protected (``deploy_stack``); destroying it with its data lifts that."""
    cfn.update_termination_protection(EnableTerminationProtection=False, StackName=name)


def _delete_stack(cfn: Any, name: str, log: Log) -> bool:
    if _stack(cfn, name) is None:
        log(f"{name}: not there")
        return False
    log(f"{name}: deleting")
    disable_termination_protection(cfn, name)
    cfn.delete_stack(StackName=name)
    _wait(cfn, "stack_delete_complete", name)
    return True


def empty_and_delete_bucket(s3: Any, bucket: str) -> None:
    """Every object version and delete marker, then the bucket (versioned buckets included)."""
    from botocore.exceptions import ClientError

    try:
        paginator = s3.get_paginator("list_object_versions")
        for page in paginator.paginate(Bucket=bucket):
            doomed = [
                {"Key": v["Key"], "VersionId": v["VersionId"]}
                for v in page.get("Versions", []) + page.get("DeleteMarkers", [])
            ]
            for start in range(0, len(doomed), 1000):
                s3.delete_objects(
                    Bucket=bucket, Delete={"Objects": doomed[start : start + 1000], "Quiet": True}
                )
        s3.delete_bucket(Bucket=bucket)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") not in ("NoSuchBucket", "404"):
            raise


def _delete_data(session: Any, resources: list[tuple[str, str]], log: Log) -> None:
    from botocore.exceptions import ClientError

    for kind, physical in resources:
        log(f"deleting {kind} {physical}")
        try:
            if kind == "AWS::DynamoDB::Table":
                session.client("dynamodb").delete_table(TableName=physical)
            elif kind == "AWS::S3::Bucket":
                empty_and_delete_bucket(session.client("s3"), physical)
            else:
                session.client("cognito-idp").delete_user_pool(UserPoolId=physical)
        except ClientError as exc:
            if "NotFound" not in exc.response.get("Error", {}).get("Code", ""):
                raise


def destroy_stage(
    session: Any,
    stage: str,
    *,
    delete_data: bool = False,
    chalice_delete: Callable[[], None] | None = None,
    log: Log = _stderr,
) -> dict[str, Any]:
    """Remove a stage: the Chalice core (``chalice_delete``), then the app stack. The data stack
    and every retained table, bucket and user pool are kept unless ``delete_data``; then they go
    too, with the artifact bucket. Returns what was removed and what was kept."""
    cfn = session.client("cloudformation")
    data_stack, app_stack = f"omniflow-{stage}-data", f"omniflow-{stage}-app"
    if chalice_delete is not None:
        chalice_delete()
    app_data = _data_resources(cfn, app_stack)
    removed = [app_stack] if _delete_stack(cfn, app_stack, log) else []
    if not delete_data:
        kept = (
            [data_stack, *(p for _, p in app_data)] if _stack(cfn, data_stack) else [p for _, p in app_data]
        )
        log(f"kept (DELETE_DATA=1 removes them): {', '.join(kept) or 'nothing'}")
        return {"removed": removed, "kept": kept}
    data = _data_resources(cfn, data_stack)
    if _delete_stack(cfn, data_stack, log):
        removed.append(data_stack)
    _delete_data(session, data + app_data, log)
    account = caller_account(session)
    empty_and_delete_bucket(session.client("s3"), artifact_bucket_name(account, session.region_name, stage))
    return {"removed": removed + [p for _, p in data + app_data], "kept": []}


# ---------------------------------------------------------------------------------------- CLI
def _parse_params(pairs: list[str]) -> dict[str, str]:
    out = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise SystemExit(f"--param expects Key=Value, got {pair!r}")
        out[key] = value
    return out


def deploy(args: argparse.Namespace, log: Log = _stderr) -> int:
    """The whole deploy (see the module docstring for the order)."""
    stage = _checked_stage(args.stage)
    overrides = _parse_params(args.param)
    try:
        data_params, app_params = split_parameters(
            overrides, (INFRA / "data.yaml").read_text(), (INFRA / "app.yaml").read_text()
        )
    except ValueError as exc:
        raise SystemExit(str(exc)) from exc

    log("building the webhook package")
    webhook_zip = build_webhook_package(BUILD / "webhooks.zip")
    webhook_key, sla_key = artifact_keys(webhook_zip, INFRA / "sla.asl.json")

    if args.dry_run:
        lint_templates(args.region or "us-east-1")
        placeholders = {key: f"<{key}>" for key in (*ENV_FROM_OUTPUTS.values(), "CoreRoleArn")}
        plan = {
            "artifact_bucket": artifact_bucket_name("<account>", args.region or "<region>", stage),
            "uploads": {
                webhook_key: str(webhook_zip),
                sla_key: str(INFRA / "sla.asl.json"),
                ticket_sla_artifact_key(): str(INFRA / "ticket-sla.asl.json"),
            },
            "stacks": {
                f"omniflow-{stage}-data": {"Stage": stage, **data_params},
                f"omniflow-{stage}-app": {
                    "Stage": stage,
                    "WebhookCodeKey": webhook_key,
                    "SlaDefinitionKey": sla_key,
                    "TicketSlaDefinitionKey": ticket_sla_artifact_key(),
                    **app_params,
                },
            },
            "chalice_config_stage": {
                "manage_iam_role": False,
                "iam_role_arn": "<CoreRoleArn>",
                "environment_variables": stage_environment(stage, placeholders),
            },
            "then": [f"chalice deploy --stage {stage}", "ReportBatchItemFailures on the SQS event sources"],
        }
        print(json.dumps(plan, indent=2))
        return 0

    session = _session(args)
    account = caller_account(session)
    check_account(stage, account, session.region_name, allow_change=args.allow_account_change, log=log)
    s3 = session.client("s3")
    bucket = artifact_bucket_name(account, session.region_name, stage)
    log(f"artifacts: s3://{bucket}")
    ensure_artifact_bucket(s3, bucket, session.region_name)
    artifacts = upload_artifacts(s3, bucket, webhook_zip)
    overrides = remembered_parameters(s3, bucket, stage, overrides)
    if overrides:
        log(f"stack parameters: {overrides}")

    outputs = deploy_stacks(
        session, stage, artifacts=None if args.data_only else artifacts, parameters=overrides, log=log
    )
    if args.data_only:
        print(json.dumps(outputs, indent=2))
        return 0
    write_chalice_config(stage, outputs)
    log(f"wrote stage {stage!r} into {CHALICE_CONFIG.relative_to(REPO)}")
    if args.skip_chalice:
        print(json.dumps(outputs, indent=2))
        return 0

    fetch_chalice_state(s3, bucket, stage)
    try:
        deployed = chalice_deploy(session, stage)
    finally:
        if (CHALICE_DEPLOYED / f"{stage}.json").exists():
            store_chalice_state(s3, bucket, stage)
    patched = enable_partial_batch_failures(session.client("lambda"), deployed)
    log(f"ReportBatchItemFailures on {len(patched)} SQS event source(s)")
    rest_api = next(
        (
            r.get("rest_api_url")
            for r in deployed.get("resources", [])
            if r.get("resource_type") == "rest_api"
        ),
        None,
    )
    print(json.dumps({**outputs, "RestApiUrl": rest_api}, indent=2))
    return 0


def _session(args: argparse.Namespace) -> Any:
    import boto3

    session = boto3.session.Session(profile_name=args.profile, region_name=args.region)
    if not session.region_name:
        raise SystemExit("no region: pass --region or set AWS_REGION / AWS_DEFAULT_REGION")
    return session


def _checked_stage(stage: str) -> str:
    if not STAGE_PATTERN.fullmatch(stage) or stage == "local":
        raise SystemExit(f"stage {stage!r}: use a name like dev or prod ('local' is the moto stack)")
    return stage


def plan(args: argparse.Namespace, log: Log = _stderr) -> int:
    """Build, lint, and show the change sets a deploy would execute (nothing is applied)."""
    stage = _checked_stage(args.stage)
    overrides = _parse_params(args.param)
    log("building the webhook package")
    webhook_zip = build_webhook_package(BUILD / "webhooks.zip")
    session = _session(args)
    lint_templates(session.region_name)
    account = caller_account(session)
    check_account(
        stage, account, session.region_name, allow_change=args.allow_account_change, record=False, log=log
    )
    webhook_key, sla_key = artifact_keys(webhook_zip, INFRA / "sla.asl.json")
    artifacts = Artifacts(
        artifact_bucket_name(account, session.region_name, stage),
        webhook_key,
        sla_key,
        ticket_sla_artifact_key(),
    )
    try:
        plans = plan_stacks(session, stage, artifacts, overrides)
    except ValueError as exc:
        raise SystemExit(str(exc)) from exc
    print(f"plan for stage {stage!r} in account {account} ({session.region_name}); nothing was applied")
    print(render_plan(plans))
    print(f"then: chalice deploy --stage {stage}; ReportBatchItemFailures on the SQS event sources")
    return 0


def destroy(args: argparse.Namespace, log: Log = _stderr) -> int:
    """Remove a stage; its data stays unless --delete-data."""
    stage = _checked_stage(args.stage)
    session = _session(args)
    account = caller_account(session)
    check_account(
        stage, account, session.region_name, allow_change=args.allow_account_change, record=False, log=log
    )

    def chalice_delete() -> None:
        import os

        bucket = artifact_bucket_name(account, session.region_name, stage)
        fetch_chalice_state(session.client("s3"), bucket, stage)
        if not (CHALICE_DEPLOYED / f"{stage}.json").exists():
            log("no Chalice deployment recorded for this stage")
            return
        env = {**os.environ, "AWS_DEFAULT_REGION": session.region_name}
        if session.profile_name and session.profile_name != "default":
            env["AWS_PROFILE"] = session.profile_name
        subprocess.run(  # noqa: S603 — fixed argument list, no shell
            [chalice_executable(), "--project-dir", str(REPO), "delete", "--stage", stage],
            check=True,
            env=env,
        )

    result = destroy_stage(
        session, stage, delete_data=args.delete_data, chalice_delete=chalice_delete, log=log
    )
    if args.delete_data:
        accounts = recorded_accounts()
        if accounts.pop(stage, None) is not None:
            DEPLOYED_ACCOUNTS.write_text(json.dumps(accounts, indent=2, sort_keys=True) + "\n")
    print(json.dumps(result, indent=2))
    return 0


def package(args: argparse.Namespace, log: Log = _stderr) -> int:
    """``chalice package`` with the merge template (the stage must have been deployed once, so
    its config holds the role and environment)."""
    out = Path(args.out) if args.out else BUILD / f"chalice-{args.stage}"
    template = package_core(args.stage, out)
    log(f"wrote {template}; deploy it with `aws cloudformation package` + `deploy` (SAM transform)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m infra.deploy", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    d = sub.add_parser("deploy", help="build, deploy both stacks, configure and deploy the Chalice app")
    d.add_argument("--stage", required=True)
    d.add_argument("--region", help="default: the AWS profile's or AWS_REGION")
    d.add_argument("--profile", help="AWS named profile")
    d.add_argument(
        "--param",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="stack parameter, e.g. WebhookConcurrencywechat=100 (remembered; KEY= forgets it)",
    )
    d.add_argument(
        "--dry-run", action="store_true", help="build and validate, print the plan, call no AWS API"
    )
    d.add_argument("--data-only", action="store_true", help="deploy only the data stack")
    d.add_argument("--skip-chalice", action="store_true", help="stop after writing .chalice/config.json")
    d.set_defaults(func=deploy)
    pl = sub.add_parser("plan", help="build, lint and show the change sets a deploy would execute")
    pl.add_argument("--stage", required=True)
    pl.add_argument("--region")
    pl.add_argument("--profile")
    pl.add_argument("--param", action="append", default=[], metavar="KEY=VALUE")
    pl.set_defaults(func=plan)
    x = sub.add_parser("destroy", help="remove a stage; its data is kept unless --delete-data")
    x.add_argument("--stage", required=True)
    x.add_argument("--region")
    x.add_argument("--profile")
    x.add_argument(
        "--delete-data", action="store_true", help="also the data stack, tables, buckets and user pool"
    )
    x.set_defaults(func=destroy)
    for command in (d, pl, x):
        command.add_argument(
            "--allow-account-change",
            action="store_true",
            help="act although the stage was first deployed to another AWS account",
        )
    p = sub.add_parser("package", help="chalice package the core with infra/chalice-merge.json")
    p.add_argument("--stage", required=True)
    p.add_argument("--out", help="output folder (default build/chalice-<stage>)")
    p.set_defaults(func=package)
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in {"deploy", "plan", "destroy", "package", "-h", "--help"}:
        argv.insert(0, "deploy")  # `python -m infra.deploy --stage prod` means deploy
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
