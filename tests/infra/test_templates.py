"""The CloudFormation templates: valid, consistent with each other and with the code, and least
privilege where it matters most (the internet-facing webhook Lambdas)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from infra.build import REPO, WEBHOOK_PLATFORM, WEBHOOK_PYTHON

INFRA = REPO / "infra"
CHANNEL_SCOPED = ("dynamodb:", "sqs:", "secretsmanager:", "s3:")


def _lint(name: str) -> list[str]:
    from cfnlint.api import lint

    return [f"{m.rule.id} {m.message} (line {m.linenumber})" for m in lint((INFRA / name).read_text())]


@pytest.mark.parametrize("template", ["data.yaml", "app.yaml"])
def test_templates_pass_cfn_lint_without_errors_or_warnings(template):
    assert _lint(template) == []


def _statements(policy_document: dict[str, Any]) -> list[dict[str, Any]]:
    statements = policy_document["Statement"]
    return statements if isinstance(statements, list) else [statements]


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _policies(resource: dict[str, Any]) -> list[dict[str, Any]]:
    props = resource["Properties"]
    if resource["Type"] == "AWS::IAM::Role":
        return [p["PolicyDocument"] for p in props.get("Policies", [])]
    return [props["PolicyDocument"]]


def _webhook_policies(app_template: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """channel -> every statement its webhook role gets (inline and attached policies)."""
    resources = app_template["Resources"]
    out: dict[str, list[dict[str, Any]]] = {}
    for logical_id, resource in resources.items():
        if logical_id.startswith("WebhookRole") and resource["Type"] == "AWS::IAM::Role":
            channel = logical_id.removeprefix("WebhookRole")
            out.setdefault(channel, []).extend(s for p in _policies(resource) for s in _statements(p))
    for resource in resources.values():
        if resource["Type"] == "AWS::IAM::RolePolicy":
            role = resource["Properties"]["RoleName"]
            channel = role["Ref"].removeprefix("WebhookRole")
            out[channel].extend(_statements(resource["Properties"]["PolicyDocument"]))
    return out


def test_every_channel_in_the_code_has_a_webhook_function_with_an_entry_point(app_template):
    from cfnlint.decode import decode_str

    from chalicelib.channels import webhook_channels

    raw, _ = decode_str((INFRA / "app.yaml").read_text())
    channels = raw["Resources"]["Fn::ForEach::Webhooks"][1]
    assert sorted(channels) == sorted(webhook_channels())
    resources = app_template["Resources"]
    for channel in channels:
        fn = resources[f"WebhookFunction{channel}"]["Properties"]
        assert fn["Handler"] == f"functions.{channel}.handler"
        assert fn["Environment"]["Variables"]["POWERTOOLS_SERVICE_NAME"] == f"omniflow-webhook-{channel}"
        assert (REPO / "functions" / f"{channel}.py").exists(), f"functions/{channel}.py is missing"
        assert f"WebhookConcurrency{channel}" in app_template["Parameters"]
        routes = {
            _literal(resources[f"{kind}{channel}"]["Properties"]["RouteKey"])
            for kind in ("WebhookRoute", "WebhookAccountRoute")
        }
        assert routes == {f"ANY /webhooks/{channel}", f"ANY /webhooks/{channel}/{{proxy+}}"}
        integration = resources[f"WebhookIntegration{channel}"]["Properties"]
        assert integration["PayloadFormatVersion"] == "2.0"


def _literal(value: Any) -> Any:
    """A Fn::Sub without variables is its string (cfn-lint folds some of them already)."""
    return value["Fn::Sub"] if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str) else value


def _timeout(app_template: dict[str, Any], channel: str) -> int:
    """Resolve Fn::FindInMap with DefaultValue the way CloudFormation does."""
    value = app_template["Resources"][f"WebhookFunction{channel}"]["Properties"]["Timeout"]
    if isinstance(value, int):
        return value
    mapping, key, attribute, default = value["Fn::FindInMap"]
    return app_template["Mappings"][mapping].get(key, {}).get(attribute, default["DefaultValue"])


def test_wechat_family_answers_within_five_seconds_others_get_ten(app_template):
    assert _timeout(app_template, "wechat") == 5
    assert {_timeout(app_template, c) for c in ("web", "sms", "email")} == {10}


def test_webhook_runtime_matches_what_the_package_is_built_for(app_template):
    fn = app_template["Resources"]["WebhookFunctionweb"]["Properties"]
    assert fn["Runtime"] == f"python{WEBHOOK_PYTHON}"
    assert fn["Architectures"] == ["x86_64"] and WEBHOOK_PLATFORM.endswith("x86_64")


def _import_names(node: Any) -> set[str]:
    found: set[str] = set()
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Fn::ImportValue":
                found.add(value["Fn::Sub"] if isinstance(value, dict) else value)
            else:
                found |= _import_names(value)
    elif isinstance(node, list):
        for value in node:
            found |= _import_names(value)
    return found


def test_every_import_of_the_app_stack_is_exported_by_the_data_stack(app_template, data_template):
    exports = {o["Export"]["Name"]["Fn::Sub"] for o in data_template["Outputs"].values() if "Export" in o}
    imports = _import_names(app_template["Resources"]) | _import_names(app_template["Outputs"])
    assert imports, "the app stack imports the data stack's resources"
    assert imports <= exports, imports - exports


def test_sla_definition_is_json_and_every_placeholder_is_substituted_by_both_deploy_paths(app_template):
    import boto3
    from moto import mock_aws

    from infra.local.provision import provision

    text = (INFRA / "sla.asl.json").read_text()
    json.loads(text)
    placeholders = set(re.findall(r"\$\{(\w+)\}", text))
    assert placeholders == {"ConversationsTable", "EventsQueueUrl", "AlertsTopicArn"}

    machine = app_template["Resources"]["SlaStateMachine"]["Properties"]
    assert set(machine["DefinitionSubstitutions"]) == placeholders
    assert machine["DefinitionS3Location"] == {
        "Bucket": {"Ref": "ArtifactBucket"},
        "Key": {"Ref": "SlaDefinitionKey"},
    }

    with mock_aws():
        env = provision("asl")
        definition = boto3.client("stepfunctions").describe_state_machine(
            stateMachineArn=env["OMNIFLOW_SLA_STATE_MACHINE_ARN"]
        )["definition"]
    assert "${" not in definition
    assert (
        json.loads(definition)["States"]["ReadConversation"]["Parameters"]["TableName"]
        == "omniflow-asl-conversations"
    )


def test_webhook_roles_have_no_wildcard_resource_for_data_queue_or_secret_actions(app_template):
    policies = _webhook_policies(app_template)
    from chalicelib.channels import webhook_channels

    assert set(policies) == set(webhook_channels())
    for channel, statements in policies.items():
        for statement in statements:
            actions = _as_list(statement["Action"])
            assert all(a != "*" and not a.endswith(":*") for a in actions), (channel, actions)
            if any(a.startswith(CHANNEL_SCOPED) for a in actions):
                for resource in _as_list(statement["Resource"]):
                    assert resource != "*", (channel, statement)
                    text = json.dumps(resource)
                    assert '"*"' not in text, (channel, statement)


def test_webhook_roles_reach_only_the_inbound_queue_and_their_own_secret_no_dedupe_table(app_template):
    """The lean path: a webhook's one AWS call per message is the SendMessage; its role grants no
    DynamoDB but a channel's own extras (the widget's and app's mailbox read, WeCom's cursors and
    token, the app's nonces), each on its own keys."""
    extras = {
        "web": {"dynamodb:Query", "dynamodb:GetItem"},
        "app": {"dynamodb:Query", "dynamodb:PutItem"},
        "wecom": {"dynamodb:GetItem", "dynamodb:UpdateItem"},
    }
    for channel, statements in _webhook_policies(app_template).items():
        actions = {a for s in statements for a in _as_list(s["Action"])}
        assert {a for a in actions if a.startswith("dynamodb:")} == extras.get(channel, set()), channel
        assert {a for a in actions if a.startswith("sqs:")} == {"sqs:SendMessage", "sqs:GetQueueUrl"}
        assert {a for a in actions if a.startswith("s3:")} == (
            {"s3:GetObject"} if channel == "email" else set()
        )
        for statement in statements:
            actions_here = _as_list(statement["Action"])
            text = json.dumps(statement["Resource"])
            assert "idempotency" not in text, (channel, statement)
            if "secretsmanager:GetSecretValue" in actions_here:
                assert f"channels/{channel}-??????" in text
            if "sqs:SendMessage" in actions_here:
                assert "InboundQueueArn" in text
            if actions_here == ["dynamodb:Query"]:
                assert "messages/index/" in text
            if "s3:GetObject" in actions_here:
                assert "${InboundMailBucket.Arn}/*" in text
            if "${Prefix}state" in text:  # shared state table: only under the channel's own key prefixes
                prefixes = statement["Condition"]["ForAllValues:StringLike"]["dynamodb:LeadingKeys"]
                assert all(f"#{channel}#" in p for p in prefixes), (channel, prefixes)
            if "${Prefix}config" in text:  # the widget's business hours: calendars only
                assert statement["Condition"]["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"] == [
                    "calendar"
                ]


def test_other_roles_scope_their_data_actions(app_template):
    resources = app_template["Resources"]
    for logical_id in ("SlaRole", "CoreRole"):
        for document in _policies(resources[logical_id]):
            for statement in _statements(document):
                actions = _as_list(statement["Action"])
                if any(a.startswith((*CHANNEL_SCOPED, "states:", "sns:", "cognito-idp:")) for a in actions):
                    assert all(r != "*" for r in _as_list(statement["Resource"])), (logical_id, statement)
    core = [s for d in _policies(resources["CoreRole"]) for s in _statements(d)]
    assert not any("dynamodb:Scan" in _as_list(s["Action"]) for s in core), "hot paths never Scan"
    stop = next(s for s in core if "states:StopExecution" in _as_list(s["Action"]))
    assert ":execution:omniflow-${Stage}-sla:*" in stop["Resource"]["Fn::Sub"]


def test_every_dead_letter_queue_and_webhook_function_has_an_alarm_on_the_alerts_topic(
    app_template, data_template
):
    resources = app_template["Resources"]
    alarms = [r["Properties"] for r in resources.values() if r["Type"] == "AWS::CloudWatch::Alarm"]
    for alarm in alarms:
        assert _import_names(alarm["AlarmActions"]) == {"omniflow-${Stage}-AlertsTopicArn"}
    dlq_alarms = " ".join(json.dumps(a["AlarmName"]) for a in alarms if a["Namespace"] == "AWS/SQS")
    dlqs = [k for k, r in data_template["Resources"].items() if k.endswith("DeadLetterQueue")]
    assert len(dlqs) == 5
    # every data-stack DLQ (plus any function's own)
    for dlq in ("Inbound", "Outbound", "Events", "Webhooks", "Analytics"):
        assert f"omniflow-${{Stage}}-{dlq}-dlq-not-empty" in dlq_alarms
    function_alarms = [json.dumps(a["Dimensions"]) for a in alarms if a.get("MetricName") == "Errors"]
    from chalicelib.channels import webhook_channels

    for channel in webhook_channels():  # each webhook function has its own Errors alarm
        assert sum(f"${{WebhookFunction{channel}}}" in d for d in function_alarms) == 1, channel
    assert any(a["MetricName"] == "5xx" for a in alarms)


def test_webhook_api_serves_on_the_default_stage_so_signed_urls_match_the_raw_path(app_template):
    stage = app_template["Resources"]["WebhookStage"]["Properties"]
    assert stage["StageName"] == "$default" and stage["AutoDeploy"] is True
    assert "ThrottlingRateLimit" in stage["DefaultRouteSettings"]
