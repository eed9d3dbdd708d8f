"""infra/deploy.py against moto: the data stack comes up through the deploy's own function, the
stage config Chalice reads is complete, redeploys are idempotent, and SQS event sources get
partial batch failures."""

from __future__ import annotations

import io
import json
import shutil
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from infra import deploy
from infra.build import REPO
from tests.infra.fakes import FAKE_APP_OUTPUTS

CORE_FUNCTIONS = (
    "api_handler",
    "route_inbound",
    "send_outbound",
    "handle_event",
    "deliver_webhooks",
    "count_activity",
)


@pytest.fixture
def moto_session() -> Any:
    with mock_aws():
        yield boto3.session.Session(region_name="us-east-1")


@pytest.fixture
def chalice_config(tmp_path: Path) -> Path:
    """A copy of the real .chalice/config.json: the tests never write the real one."""
    path = tmp_path / "config.json"
    shutil.copy2(REPO / ".chalice" / "config.json", path)
    return path


def quiet(_: str) -> None:
    pass


def test_data_stack_deploys_through_the_deploy_function_and_exports_what_the_app_needs(moto_session):
    outputs = deploy.deploy_stacks(moto_session, "ci", log=quiet)

    tables = set(moto_session.client("dynamodb").list_tables()["TableNames"])
    expected = {
        "customers",
        "identities",
        "conversations",
        "messages",
        "agents",
        "skill-groups",
        "state",
        "idempotency",
        "audit",
        "webhooks",
    }
    assert {f"omniflow-ci-{t}" for t in expected} <= tables
    sqs = moto_session.client("sqs")
    for key in ("InboundQueueUrl", "OutboundQueueUrl"):
        attrs = sqs.get_queue_attributes(QueueUrl=outputs[key], AttributeNames=["All"])["Attributes"]
        assert attrs["FifoQueue"] == "true" and "deadLetterTargetArn" in attrs["RedrivePolicy"]
    assert outputs["EventsQueueUrl"].endswith("omniflow-ci-events")
    assert outputs["AlertsTopicArn"].endswith(":omniflow-ci-alerts")
    stack = moto_session.client("cloudformation").describe_stacks(StackName="omniflow-ci-data")["Stacks"][0]
    assert stack["EnableTerminationProtection"] is True


def test_stage_config_written_from_outputs_gives_every_core_lambda_a_complete_environment(
    moto_session, chalice_config
):
    from chalice.config import Config

    outputs = deploy.deploy_stacks(moto_session, "ci", log=quiet)
    section = deploy.write_chalice_config("ci", {**outputs, **FAKE_APP_OUTPUTS}, chalice_config)

    assert section["manage_iam_role"] is False
    assert section["iam_role_arn"] == FAKE_APP_OUTPUTS["CoreRoleArn"]
    on_disk = json.loads(chalice_config.read_text())
    assert (
        on_disk["stages"]["local"]
        == json.loads((REPO / ".chalice/config.json").read_text())["stages"]["local"]
    )
    for function in CORE_FUNCTIONS:
        config = Config(chalice_stage="ci", function_name=function, config_from_disk=on_disk)
        env = config.environment_variables
        missing = [var for var in deploy.REQUIRED_ENV if not env.get(var)]
        assert not missing, (function, missing)
        assert env["OMNIFLOW_STAGE"] == "ci"
        assert env["OMNIFLOW_INBOUND_QUEUE_URL"] == outputs["InboundQueueUrl"]
        assert "OMNIFLOW_AWS_ENDPOINT" not in env
        assert env["POWERTOOLS_SERVICE_NAME"].startswith("omniflow-")
        assert config.iam_role_arn == FAKE_APP_OUTPUTS["CoreRoleArn"]
        assert config.manage_iam_role is False
        assert config.automatic_layer is False
        assert config.api_gateway_stage == "api"


def test_writing_a_stage_keeps_values_ops_tuned_and_refuses_incomplete_outputs(chalice_config):
    from tests.infra.fakes import FAKE_DATA_OUTPUTS

    config = json.loads(chalice_config.read_text())
    config["stages"]["prod"]["environment_variables"]["OMNIFLOW_FIRST_RESPONSE_SECONDS"] = "120"
    chalice_config.write_text(json.dumps(config))
    section = deploy.write_chalice_config("prod", {**FAKE_DATA_OUTPUTS, **FAKE_APP_OUTPUTS}, chalice_config)
    assert section["environment_variables"]["OMNIFLOW_FIRST_RESPONSE_SECONDS"] == "120"

    incomplete = {**FAKE_DATA_OUTPUTS, **FAKE_APP_OUTPUTS, "UserPoolClientId": ""}
    with pytest.raises(ValueError, match="UserPoolClientId"):
        deploy.write_chalice_config("prod", incomplete, chalice_config)


def test_parameters_chosen_once_are_remembered_per_stage_until_forgotten(moto_session):
    s3 = moto_session.client("s3")
    s3.create_bucket(Bucket="artifacts")
    assert deploy.remembered_parameters(s3, "artifacts", "prod", {"WebhookConcurrencywechat": "80"}) == {
        "WebhookConcurrencywechat": "80"
    }
    assert deploy.remembered_parameters(s3, "artifacts", "prod", {"LogLevel": "DEBUG"}) == {
        "WebhookConcurrencywechat": "80",
        "LogLevel": "DEBUG",
    }
    assert deploy.remembered_parameters(s3, "artifacts", "dev", {}) == {}
    assert deploy.remembered_parameters(s3, "artifacts", "prod", {"LogLevel": ""}) == {
        "WebhookConcurrencywechat": "80"
    }


def test_redeploy_without_parameters_takes_the_template_defaults(moto_session):
    """A release that changes a default (a new channel, say) must take effect on update."""
    deploy.deploy_stacks(moto_session, "ci", parameters={"MaxReceiveCount": "3"}, log=quiet)
    deploy.deploy_stacks(moto_session, "ci", log=quiet)
    stack = moto_session.client("cloudformation").describe_stacks(StackName="omniflow-ci-data")["Stacks"][0]
    params = {p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}
    assert params["MaxReceiveCount"] == "5"


def test_unknown_parameters_are_refused_before_anything_is_deployed():
    with pytest.raises(ValueError, match="NoSuchParameter"):
        deploy.split_parameters(
            {"NoSuchParameter": "1"},
            (REPO / "infra/data.yaml").read_text(),
            (REPO / "infra/app.yaml").read_text(),
        )


class _UnchangedStack:
    """A CloudFormation client whose stack exists and has nothing to update."""

    def __init__(self) -> None:
        self.waited = False

    def describe_stacks(self, StackName: str) -> dict[str, Any]:
        return {
            "Stacks": [
                {
                    "StackStatus": "UPDATE_COMPLETE",
                    "Parameters": [],
                    "Outputs": [{"OutputKey": "Answer", "OutputValue": "42"}],
                }
            ]
        }

    def update_stack(self, **_: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "ValidationError", "Message": "No updates are to be performed."}},
            "UpdateStack",
        )

    def get_waiter(self, name: str) -> Any:
        self.waited = True
        raise AssertionError("nothing to wait for")


def test_an_unchanged_stack_is_not_an_error():
    cfn = _UnchangedStack()
    body = (REPO / "infra/data.yaml").read_text()
    assert deploy.deploy_stack(cfn, "omniflow-ci-data", body, {"Stage": "ci"}, log=quiet) == {"Answer": "42"}
    assert not cfn.waited


def test_chalice_sqs_event_sources_get_report_batch_item_failures(moto_session):
    iam, lam, sqs = (moto_session.client(s) for s in ("iam", "lambda", "sqs"))
    role = iam.create_role(RoleName="core", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as zf:
        zf.writestr("app.py", "def route_inbound(event, context):\n    return None\n")
    fn = lam.create_function(
        FunctionName="omniflow-ci-route_inbound",
        Runtime="python3.11",
        Role=role,
        Handler="app.route_inbound",
        Code={"ZipFile": code.getvalue()},
    )["FunctionArn"]
    url = sqs.create_queue(QueueName="omniflow-ci-inbound.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    uuid = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=fn, BatchSize=10)["UUID"]
    deployed = {
        "resources": [
            {"name": "route_inbound", "resource_type": "lambda_function", "lambda_arn": fn},
            {
                "name": "route_inbound-sqs-event-source",
                "resource_type": "sqs_event",
                "queue_arn": arn,
                "event_uuid": uuid,
                "lambda_arn": fn,
            },
        ]
    }

    assert deploy.enable_partial_batch_failures(lam, deployed) == [uuid]
    assert lam.get_event_source_mapping(UUID=uuid)["FunctionResponseTypes"] == ["ReportBatchItemFailures"]


def test_artifact_bucket_is_private_and_uploads_are_content_addressed(moto_session, tmp_path):
    s3 = moto_session.client("s3")
    name = deploy.artifact_bucket_name("123456789012", "ap-southeast-2", "abcdefghijklmnop")
    assert len(name) <= 63
    bucket = deploy.artifact_bucket_name("123456789012", "us-east-1", "ci")
    deploy.ensure_artifact_bucket(s3, bucket, "us-east-1")
    deploy.ensure_artifact_bucket(s3, bucket, "us-east-1")  # idempotent
    assert s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]["BlockPublicPolicy"]

    package = tmp_path / "webhooks.zip"
    package.write_bytes(b"zip-1")
    first = deploy.upload_artifacts(s3, bucket, package)
    package.write_bytes(b"zip-2")
    second = deploy.upload_artifacts(s3, bucket, package)
    assert first.webhook_key != second.webhook_key and first.sla_key == second.sla_key
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    assert {first.webhook_key, second.webhook_key, first.sla_key, first.ticket_sla_key} == keys


def test_chalice_deployed_state_round_trips_through_the_artifact_bucket(moto_session, tmp_path):
    s3 = moto_session.client("s3")
    s3.create_bucket(Bucket="artifacts")
    here, elsewhere = tmp_path / "checkout-1", tmp_path / "checkout-2"
    here.mkdir()
    (here / "prod.json").write_text('{"resources": []}')
    deploy.store_chalice_state(s3, "artifacts", "prod", here)
    deploy.fetch_chalice_state(s3, "artifacts", "prod", elsewhere)
    assert (elsewhere / "prod.json").read_text() == '{"resources": []}'
    deploy.fetch_chalice_state(s3, "artifacts", "dev", elsewhere)  # first deploy: nothing to fetch
    assert not (elsewhere / "dev.json").exists()


@pytest.mark.xdist_group("webhook-package")
def test_dry_run_builds_validates_and_prints_the_plan_without_aws(webhook_zip, capsys, monkeypatch):
    monkeypatch.setattr(deploy, "build_webhook_package", lambda dest: webhook_zip)

    def no_aws(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("dry run called AWS")

    monkeypatch.setattr(boto3.session, "Session", no_aws)
    assert deploy.main(["--stage", "prod", "--dry-run", "--param", "WebhookConcurrencywechat=80"]) == 0
    plan = json.loads(capsys.readouterr().out)
    app_stack = plan["stacks"]["omniflow-prod-app"]
    assert app_stack["WebhookConcurrencywechat"] == "80"
    assert app_stack["WebhookCodeKey"].startswith("webhooks/") and app_stack["SlaDefinitionKey"].startswith(
        "sla/"
    )
    assert set(deploy.REQUIRED_ENV) <= set(plan["chalice_config_stage"]["environment_variables"])


# ---- a deploy an operator can trust: the account guard, the plan, destroy ------------------------------
def test_a_stage_is_recorded_in_its_first_account_and_another_account_is_refused(tmp_path):
    accounts = tmp_path / "deployed-accounts.json"
    deploy.check_account("prod", "111111111111", "eu-west-1", path=accounts, log=quiet)
    assert json.loads(accounts.read_text()) == {"prod": {"account": "111111111111", "region": "eu-west-1"}}

    deploy.check_account("prod", "111111111111", "eu-west-1", path=accounts, log=quiet)  # same account: fine
    with pytest.raises(deploy.AccountMismatch, match="ALLOW_ACCOUNT_CHANGE=1") as refused:
        deploy.check_account("prod", "222222222222", "eu-west-1", path=accounts, log=quiet)
    assert "111111111111" in str(refused.value) and "222222222222" in str(refused.value)
    assert json.loads(accounts.read_text())["prod"]["account"] == "111111111111"  # unchanged

    deploy.check_account("dev", "222222222222", "eu-west-1", path=accounts, log=quiet)  # another stage
    deploy.check_account("prod", "222222222222", "eu-west-1", allow_change=True, path=accounts, log=quiet)
    assert json.loads(accounts.read_text())["prod"]["account"] == "222222222222"


def test_a_deploy_with_credentials_for_another_account_stops_before_anything_is_created(
    moto_session, tmp_path, monkeypatch
):
    accounts = tmp_path / "deployed-accounts.json"
    accounts.write_text(json.dumps({"prod": {"account": "999999999999", "region": "us-east-1"}}))
    monkeypatch.setattr(deploy, "DEPLOYED_ACCOUNTS", accounts)
    monkeypatch.setattr(deploy, "build_webhook_package", lambda dest: tmp_path / "webhooks.zip")
    monkeypatch.setattr(deploy, "artifact_keys", lambda *a: ("webhooks/x.zip", "sla/x.asl.json"))
    monkeypatch.setattr(deploy, "_session", lambda args: moto_session)

    with pytest.raises(SystemExit, match="999999999999"):
        deploy.main(["deploy", "--stage", "prod", "--region", "us-east-1"])
    assert moto_session.client("s3").list_buckets()["Buckets"] == []
    assert moto_session.client("cloudformation").describe_stacks()["Stacks"] == []


def test_the_plan_of_a_new_stage_lists_what_would_be_created_and_leaves_no_stack_behind(moto_session):
    cfn = moto_session.client("cloudformation")
    body = (REPO / "infra" / "data.yaml").read_text()
    plan = deploy.plan_stack(cfn, "omniflow-ci-data", body, {"Stage": "ci"})

    assert plan.action == "create", plan
    created = {c["resource"]: c["type"] for c in plan.changes}
    assert created.get("ConversationsTable") == "AWS::DynamoDB::Table"
    assert all(c["action"] == "Add" for c in plan.changes)
    assert deploy._stack(cfn, "omniflow-ci-data") is None  # the plan applied nothing
    assert moto_session.client("dynamodb").list_tables()["TableNames"] == []
    assert "ConversationsTable (AWS::DynamoDB::Table)" in deploy.render_plan([plan])


def test_the_plan_of_a_deployed_stage_is_a_change_set_that_is_never_executed(moto_session):
    cfn = moto_session.client("cloudformation")
    deploy.deploy_stacks(moto_session, "ci", log=quiet)
    before = cfn.describe_stacks(StackName="omniflow-ci-data")["Stacks"][0]
    body = (REPO / "infra" / "data.yaml").read_text()

    plan = deploy.plan_stack(cfn, "omniflow-ci-data", body, {"Stage": "ci", "MaxReceiveCount": "7"})

    assert plan.action in ("update", "no changes"), plan
    after = cfn.describe_stacks(StackName="omniflow-ci-data")["Stacks"][0]
    assert after["StackStatus"] == before["StackStatus"] and after.get("Parameters") == before.get(
        "Parameters"
    )
    assert cfn.list_change_sets(StackName="omniflow-ci-data")["Summaries"] == []  # deleted after describing


APP_STAND_IN = """
Resources:
  Queue:
    Type: AWS::SQS::Queue
    Properties: {QueueName: omniflow-ci-app-queue}
  InboundMailBucket:
    Type: AWS::S3::Bucket
    DeletionPolicy: Retain
    Properties: {BucketName: omniflow-ci-inbound-mail}
"""


@pytest.fixture
def protection_lifted(monkeypatch) -> list[str]:
    """moto does not implement UpdateTerminationProtection: record the call instead (the call itself
    is checked against botocore's model by the Stubber test below)."""
    lifted: list[str] = []
    monkeypatch.setattr(deploy, "disable_termination_protection", lambda cfn, name: lifted.append(name))
    return lifted


def test_lifting_termination_protection_is_a_valid_cloudformation_call():
    from botocore.stub import Stubber

    cfn = boto3.client("cloudformation", region_name="us-east-1")
    with Stubber(cfn) as stub:
        stub.add_response(
            "update_termination_protection",
            {"StackId": "arn:aws:cloudformation:us-east-1:1:stack/omniflow-ci-data/x"},
            {"EnableTerminationProtection": False, "StackName": "omniflow-ci-data"},
        )
        deploy.disable_termination_protection(cfn, "omniflow-ci-data")
        stub.assert_no_pending_responses()


def test_destroy_removes_the_core_and_the_app_stack_and_keeps_the_data(moto_session, protection_lifted):
    cfn = moto_session.client("cloudformation")
    deploy.deploy_stacks(moto_session, "ci", log=quiet)
    cfn.create_stack(StackName="omniflow-ci-app", TemplateBody=APP_STAND_IN)
    deleted_core = []

    result = deploy.destroy_stage(
        moto_session, "ci", chalice_delete=lambda: deleted_core.append(1), log=quiet
    )

    assert deleted_core == [1]
    assert result["removed"] == ["omniflow-ci-app"]
    assert deploy._stack(cfn, "omniflow-ci-app") is None
    assert deploy._stack(cfn, "omniflow-ci-data") is not None
    assert "omniflow-ci-conversations" in moto_session.client("dynamodb").list_tables()["TableNames"]
    assert "omniflow-ci-data" in result["kept"] and "omniflow-ci-inbound-mail" in result["kept"]
    assert protection_lifted == ["omniflow-ci-app"]  # never the data stack's


def test_destroy_with_delete_data_removes_tables_buckets_and_the_artifact_bucket(
    moto_session, protection_lifted
):
    cfn = moto_session.client("cloudformation")
    deploy.deploy_stacks(moto_session, "ci", log=quiet)
    cfn.create_stack(StackName="omniflow-ci-app", TemplateBody=APP_STAND_IN)
    s3 = moto_session.client("s3")
    artifacts = deploy.artifact_bucket_name("123456789012", "us-east-1", "ci")
    deploy.ensure_artifact_bucket(s3, artifacts, "us-east-1")
    s3.put_object(Bucket=artifacts, Key="webhooks/a.zip", Body=b"zip")
    s3.put_object(Bucket=artifacts, Key="webhooks/a.zip", Body=b"zip again")  # a second version

    deploy.destroy_stage(moto_session, "ci", delete_data=True, log=quiet)

    assert protection_lifted == ["omniflow-ci-app", "omniflow-ci-data"]
    assert deploy._stack(cfn, "omniflow-ci-data") is None
    tables = moto_session.client("dynamodb").list_tables()["TableNames"]
    assert not [t for t in tables if t.startswith("omniflow-ci-")]
    assert not [b["Name"] for b in s3.list_buckets()["Buckets"]]


def test_make_passes_profile_region_params_and_the_account_switch_to_the_deploy():
    import subprocess

    def dry(*args: str) -> str:
        out = subprocess.run(
            ["make", "-n", *args], cwd=REPO, capture_output=True, text=True, check=True
        ).stdout
        return out.replace("\\\n", " ")

    line = dry(
        "deploy", "STAGE=prod", "PROFILE=ops", "REGION=eu-west-1", "PARAMS=WebhookConcurrencywechat=120 X=1"
    )
    command = next(cmd for cmd in line.splitlines() if "infra.deploy" in cmd).split()
    assert command[command.index("--stage") + 1] == "prod"
    assert command[command.index("--profile") + 1] == "ops"
    assert command[command.index("--region") + 1] == "eu-west-1"
    assert [command[i + 1] for i, a in enumerate(command) if a == "--param"] == [
        "WebhookConcurrencywechat=120",
        "X=1",
    ]
    assert "--allow-account-change" in dry("deploy", "STAGE=prod", "ALLOW_ACCOUNT_CHANGE=1")
    assert "infra.deploy plan --stage prod --profile ops" in dry("deploy-plan", "STAGE=prod", "PROFILE=ops")
    assert "--delete-data" in dry("destroy", "STAGE=dev", "DELETE_DATA=1")
    assert "--delete-data" not in dry("destroy", "STAGE=dev")
