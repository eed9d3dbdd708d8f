"""The demo (infra/local/demo) seeded twice on moto in-process: the second seeding changes nothing,
and every reply the stories queued goes out without a failure on its channel."""

from __future__ import annotations

from typing import Any

import boto3
import pytest

from infra.local.demo.people import PEOPLE
from infra.local.demo.stories import STORIES


def count(table: str) -> int:
    return int(boto3.client("dynamodb").scan(TableName=f"omniflow-test-{table}", Select="COUNT")["Count"])


@pytest.mark.timeout(900)
def test_seeding_twice_changes_nothing_and_every_queued_reply_is_sent(
    aws: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import app as app_module
    from chalicelib import config

    monkeypatch.setenv("OMNIFLOW_OUTBOUND_MODE", "record")  # as on the local stack: nothing leaves
    config.settings.cache_clear()
    from infra.local import demo
    from infra.local.server import Gateway
    from infra.local.sqs_runner import SqsRunner

    gateway, runner = Gateway(app_module.app, stage="test"), SqsRunner(app_module.app, stage="test")
    first: Any = demo.seed(aws, gateway=gateway, runner=runner, level="full", settle=True)
    assert len(first.conversations) == len(PEOPLE)
    assert sum(len(ids) for ids in first.conversations.values()) == len(STORIES)
    tables = ("customers", "conversations", "messages", "tickets")
    before = {t: count(t) for t in tables}

    again: Any = demo.seed(aws, gateway=gateway, runner=runner, level="full", settle=True)

    assert again.conversations == {}  # the stories were not played again
    assert {t: count(t) for t in tables} == before
    statuses = boto3.client("dynamodb").scan(
        TableName="omniflow-test-messages",
        FilterExpression="direction = :out",
        ExpressionAttributeValues={":out": {"S": "out"}},
        ProjectionExpression="#s, channel, #e",
        ExpressionAttributeNames={"#s": "status", "#e": "error"},
    )["Items"]
    failed = [
        (i.get("channel", {}).get("S"), i.get("error", {}).get("S"))
        for i in statuses
        if i["status"]["S"] == "failed"
    ]
    assert statuses and not failed
