"""The first-response SLA runs on Step Functions (moto's executor, real Wait/DynamoDB/SQS/SNS)."""

from __future__ import annotations

import json
import time

import boto3
import pytest

from chalicelib.conversations import service as conversations
from chalicelib.outbound import service as outbound
from chalicelib.router import service as router
from chalicelib.sla import service as sla
from tests.support.factories import inbound

pytestmark = pytest.mark.sfn

# moto runs Wait states on real time but may finish them up to ~3 s early: keep deadlines clear of that.
DEADLINE_SECONDS = 6


@pytest.fixture
def short_sla(aws, monkeypatch):
    monkeypatch.setenv("OMNIFLOW_FIRST_RESPONSE_SECONDS", str(DEADLINE_SECONDS))
    from tests.conftest import reset_caches

    reset_caches()
    return aws


def wait_for_execution(arn: str, timeout: float = 20) -> dict:
    sfn = boto3.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.2)
    raise AssertionError(f"execution {arn} still running after {timeout}s")


def states_entered(arn: str) -> list[str]:
    events = boto3.client("stepfunctions").get_execution_history(executionArn=arn)["events"]
    return [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]


def test_an_unanswered_conversation_breaches_once_and_escalates(short_sla):
    cid = router.store(inbound("sms", "+15550300001", "anyone there?")).conversation.conversation_id
    result = wait_for_execution(sla.execution_arn(cid))
    assert result["status"] == "SUCCEEDED"
    assert states_entered(sla.execution_arn(cid)) == [
        "WaitForDeadline",
        "ReadConversation",
        "Answered",
        "MarkBreached",
        "EmitEscalation",
        "Alert",
    ]
    assert conversations.get(cid).sla_status == "breached"
    sqs = boto3.client("sqs")
    got = sqs.receive_message(QueueUrl=short_sla["OMNIFLOW_EVENTS_QUEUE_URL"], MaxNumberOfMessages=10)[
        "Messages"
    ]
    assert len(got) == 1
    event = json.loads(got[0]["Body"])
    assert (event["type"], event["conversation_id"]) == ("sla.breached", cid)
    sla.handle_event(event)
    sla.handle_event(event)  # a redelivered event is recorded once
    timeline = [m.event for m in conversations.messages_of(cid) if m.direction == "event"]
    assert timeline == ["sla.breached.first_response"]


def test_a_first_reply_before_the_deadline_stops_the_clock(short_sla):
    cid = router.store(inbound("sms", "+15550300002", "hello")).conversation.conversation_id
    outbound.reply(cid, "agent1", "Hi! Right here.", channel=None, may_take_over=False)
    result = wait_for_execution(sla.execution_arn(cid))
    assert result["status"] == "ABORTED"
    assert conversations.get(cid).sla_status is None


def test_an_answer_the_stop_missed_is_still_seen_by_the_machine(short_sla, monkeypatch):
    """If stopping the execution failed, the machine reads the answer and ends without a breach."""
    monkeypatch.setattr(sla, "stop_first_response_clock", lambda *a, **k: None)
    cid = router.store(inbound("sms", "+15550300003", "hello")).conversation.conversation_id
    outbound.reply(cid, "agent1", "Hi!", channel=None, may_take_over=False)
    result = wait_for_execution(sla.execution_arn(cid))
    assert result["status"] == "SUCCEEDED"
    assert states_entered(sla.execution_arn(cid))[-1] == "Met"
    assert conversations.get(cid).sla_status is None
