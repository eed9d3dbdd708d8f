"""Encryption at rest on the customer-managed key (issue 17): every table, queue, bucket, log group
and state machine of both stacks names the data stack's KMS key; every bucket refuses plain HTTP."""

from __future__ import annotations

import json
from typing import Any

KEY_IMPORT = "omniflow-${Stage}-DataKeyArn"


def _of(template: dict[str, Any], kind: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == kind}


def _names_key(value: Any) -> bool:
    text = json.dumps(value)
    return '"DataKey"' in text or KEY_IMPORT in text


def test_every_table_and_queue_of_the_data_stack_is_encrypted_with_the_data_key(data_template):
    tables = _of(data_template, "AWS::DynamoDB::Table")
    assert len(tables) >= 20
    for name, table in tables.items():
        sse = table["Properties"]["SSESpecification"]
        assert sse["SSEType"] == "KMS" and _names_key(sse["KMSMasterKeyId"]), name
    for name, queue in _of(data_template, "AWS::SQS::Queue").items():
        assert _names_key(queue["Properties"]["KmsMasterKeyId"]), name
    key = data_template["Resources"]["DataKey"]["Properties"]
    assert key["EnableKeyRotation"] is True


def test_every_queue_log_group_and_state_machine_of_the_app_stack_uses_the_data_key(app_template):
    for name, queue in _of(app_template, "AWS::SQS::Queue").items():
        assert _names_key(queue["Properties"]["KmsMasterKeyId"]), name
    groups = _of(app_template, "AWS::Logs::LogGroup")
    assert groups
    for name, group in groups.items():
        assert _names_key(group["Properties"]["KmsKeyId"]), name
    machines = _of(app_template, "AWS::StepFunctions::StateMachine")
    assert {"SlaStateMachine", "TicketSlaStateMachine", "ErasureStateMachine"} <= set(machines)
    for name, machine in machines.items():
        enc = machine["Properties"]["EncryptionConfiguration"]
        assert enc["Type"] == "CUSTOMER_MANAGED_KMS_KEY" and _names_key(enc["KmsKeyId"]), name


def test_every_bucket_is_encrypted_with_the_data_key_and_refuses_plain_http(app_template, data_template):
    for template in (data_template, app_template):
        buckets = _of(template, "AWS::S3::Bucket")
        policies = _of(template, "AWS::S3::BucketPolicy").values()
        for name, bucket in buckets.items():
            [rule] = bucket["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
            default = rule["ServerSideEncryptionByDefault"]
            assert default["SSEAlgorithm"] == "aws:kms" and _names_key(default["KMSMasterKeyID"]), name
            [policy] = [p for p in policies if p["Properties"]["Bucket"] == {"Ref": name}]
            denies = [
                s
                for s in policy["Properties"]["PolicyDocument"]["Statement"]
                if s["Effect"] == "Deny" and s["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            ]
            assert denies, f"{name} accepts plain HTTP"
