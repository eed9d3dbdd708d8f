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

``--dry-run`` builds and validates everything and prints the plan without any AWS call.
``package`` is the CloudFormation-only alternative to step 6 (``chalice package`` + merge template).
"""

from __future__ import annotations

import argparse
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
STAGE_PATTERN = re.compile(r"[a-z][a-z0-9-]{0,15}")
MAX_TEMPLATE_BODY = 51_200  # CloudFormation's limit for an inline template
DEFAULT_FIRST_RESPONSE_SECONDS = "300"

# Environment of every core Lambda, and the stack output each value comes from.
ENV_FROM_OUTPUTS: dict[str, str] = {
    "OMNIFLOW_INBOUND_QUEUE_URL": "InboundQueueUrl",
    "OMNIFLOW_OUTBOUND_QUEUE_URL": "OutboundQueueUrl",
    "OMNIFLOW_EVENTS_QUEUE_URL": "EventsQueueUrl",
    "OMNIFLOW_ALERTS_TOPIC_ARN": "AlertsTopicArn",
    "OMNIFLOW_SLA_STATE_MACHINE_ARN": "SlaStateMachineArn",
    "OMNIFLOW_TICKET_SLA_STATE_MACHINE_ARN": "TicketSlaStateMachineArn",
    "OMNIFLOW_USER_POOL_ID": "UserPoolId",
    "OMNIFLOW_USER_POOL_ARN": "UserPoolArn",
    "OMNIFLOW_USER_POOL_CLIENT_ID": "UserPoolClientId",
    "OMNIFLOW_PUBLIC_URL": "WebhookApiUrl",
    "OMNIFLOW_INTENT_BACKEND": "IntentBackend",
    "OMNIFLOW_MEDIA_BUCKET": "MediaBucketName",
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

    template_url = None
    if len(app_body.encode()) > MAX_TEMPLATE_BODY:
        key = f"templates/{sha256_file(app_template)[:24]}.yaml"
        session.client("s3").upload_file(str(app_template), artifacts.bucket, key)
        template_url = f"https://{artifacts.bucket}.s3.{session.region_name}.amazonaws.com/{key}"
    app_outputs = deploy_stack(
        cfn,
        f"omniflow-{stage}-app",
        app_body,
        {
            "Stage": stage,
            "ArtifactBucket": artifacts.bucket,
            "WebhookCodeKey": artifacts.webhook_key,
            "SlaDefinitionKey": artifacts.sla_key,
            "TicketSlaDefinitionKey": artifacts.ticket_sla_key,
            **app_params,
        },
        capabilities=("CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"),  # AUTO_EXPAND: Fn::ForEach
        template_url=template_url,
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
    stage = args.stage
    if not STAGE_PATTERN.fullmatch(stage) or stage == "local":
        raise SystemExit(f"stage {stage!r}: use a name like dev or prod ('local' is the moto stack)")
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
        from cfnlint.api import lint

        for template in ("data.yaml", "app.yaml"):
            matches = lint((INFRA / template).read_text(), regions=[args.region or "us-east-1"])
            errors = [m for m in matches if m.rule.id.startswith("E")]
            if errors:
                raise SystemExit(f"{template}: {errors}")
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

    import boto3

    session = boto3.session.Session(profile_name=args.profile, region_name=args.region)
    if not session.region_name:
        raise SystemExit("no region: pass --region or set AWS_REGION / AWS_DEFAULT_REGION")
    account = session.client("sts").get_caller_identity()["Account"]
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
    p = sub.add_parser("package", help="chalice package the core with infra/chalice-merge.json")
    p.add_argument("--stage", required=True)
    p.add_argument("--out", help="output folder (default build/chalice-<stage>)")
    p.set_defaults(func=package)
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in {"deploy", "package", "-h", "--help"}:
        argv.insert(0, "deploy")  # `python -m infra.deploy --stage prod` means deploy
    args = parser.parse_args(argv)
    result: int = args.func(args)
    return result


if __name__ == "__main__":
    sys.exit(main())
