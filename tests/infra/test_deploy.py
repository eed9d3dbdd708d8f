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

CORE_FUNCTIONS = ("api_handler", "route_inbound", "send_outbound", "handle_event", "deliver_webhooks")


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
