"""The voice channel's resources in infra/app.yaml: Connect alone may invoke the caller lookup,
each function's role reaches only what its code reads and writes, and the transcript consumer
reports partial batch failures and parks what keeps failing."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def resources() -> dict[str, Any]:
    from cfnlint.decode import decode_str

    template, errors = decode_str((REPO / "infra" / "app.yaml").read_text())
    assert not errors, errors
    found: dict[str, Any] = template["Resources"]
    return found


def statements(role: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for p in role["Properties"]["Policies"] for s in p["PolicyDocument"]["Statement"]]


def actions(statement: dict[str, Any]) -> list[str]:
    value = statement["Action"]
    return value if isinstance(value, list) else [value]


def table_grants(role: dict[str, Any]) -> dict[str, str]:
    """DynamoDB action -> the tables (or indexes) it is granted on, as written in the template."""
    out: dict[str, set[str]] = {}
    for s in statements(role):
        for action in actions(s):
            if action.startswith("dynamodb:"):
                resources = s["Resource"] if isinstance(s["Resource"], list) else [s["Resource"]]
                out.setdefault(action, set()).update(
                    r["Fn::Sub"][0].removeprefix("${Prefix}") for r in resources
                )
    return {action: " ".join(sorted(tables)) for action, tables in out.items()}


def test_only_our_connect_instance_may_invoke_the_caller_lookup(resources):
    permission = resources["VoiceConnectPermission"]["Properties"]
    assert permission["Principal"] == "connect.amazonaws.com"
    assert permission["SourceArn"] == {"Ref": "ConnectInstanceArn"}
    assert permission["SourceAccount"] == {"Ref": "AWS::AccountId"}
    assert resources["VoiceConnectPermission"]["Condition"] == "HasVoice"


def test_the_caller_lookup_answers_within_connects_eight_seconds(resources):
    fn = resources["VoiceFunction"]["Properties"]
    assert fn["Handler"] == "functions.voice.handler" and (REPO / "functions" / "voice.py").exists()
    assert fn["Timeout"] <= 8
    assert float(fn["Environment"]["Variables"]["OMNIFLOW_VOICE_LOOKUP_SECONDS"]) < fn["Timeout"] - 2


def test_the_caller_lookup_only_reads_keys_and_remembers_contacts(resources):
    role = resources["VoiceRole"]
    assert table_grants(role) == {
        "dynamodb:GetItem": "customers identities",
        "dynamodb:Query": "conversations/index/by_customer",
        "dynamodb:PutItem": "state",
    }
    [remember] = [s for s in statements(role) if "dynamodb:PutItem" in actions(s)]
    assert remember["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["contact#*"]}}
    everything = {a for s in statements(role) for a in actions(s)}
    assert not {a for a in everything if a.startswith(("sqs:", "secretsmanager:", "kinesis:"))}


def test_the_transcript_consumer_reads_its_stream_and_enqueues_with_no_dedupe_table(resources):
    role = resources["VoiceTranscriptsRole"]
    assert table_grants(role) == {"dynamodb:GetItem": "state"}
    [contact] = [s for s in statements(role) if s["Sid"] == "CallerOfContact"]
    assert contact["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["contact#*"]}}
    for s in statements(role):
        if any(a.startswith("kinesis:") for a in actions(s)):
            assert s["Resource"] == {"Ref": "VoiceTranscriptStreamArn"}
        if "sqs:SendMessage" in actions(s):
            assert "InboundQueueArn" in json.dumps(s["Resource"]) or s["Resource"] == {
                "Fn::GetAtt": ["VoiceTranscriptsFailed", "Arn"]
            }
    fn = resources["VoiceTranscriptsFunction"]["Properties"]
    assert fn["Handler"] == "functions.voice_transcripts.handler"
    assert (REPO / "functions" / "voice_transcripts.py").exists()


def test_the_transcript_stream_reports_partial_failures_and_parks_what_keeps_failing(resources):
    mapping = resources["VoiceTranscriptsMapping"]["Properties"]
    assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["EventSourceArn"] == {"Ref": "VoiceTranscriptStreamArn"}
    assert mapping["BisectBatchOnFunctionError"] is True and mapping["MaximumRetryAttempts"] <= 5
    assert mapping["DestinationConfig"]["OnFailure"]["Destination"] == {
        "Fn::GetAtt": ["VoiceTranscriptsFailed", "Arn"]
    }
    alarm = resources["VoiceTranscriptsFailedAlarm"]["Properties"]
    assert alarm["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["VoiceTranscriptsFailed", "QueueName"]}


def test_voice_is_optional_and_its_transcripts_need_the_caller_lookup(resources):
    voice = [k for k in resources if k.startswith("Voice")]
    assert voice and all(resources[k]["Condition"] in ("HasVoice", "HasVoiceTranscripts") for k in voice)
