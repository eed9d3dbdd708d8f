"""Logging context per invocation for the handlers Chalice dispatches (queue consumers, API routes):
each starts clean and carries its own Lambda context, as the webhooks' handlers do."""

from __future__ import annotations

import json
from typing import Any

import pytest


def test_each_queue_consumer_invocation_logs_with_its_own_context_and_none_of_the_last_ones_keys(
    aws, monkeypatch: pytest.MonkeyPatch
):
    from chalice.test import Client

    import app as app_module
    from chalicelib.observability import logger
    from chalicelib.sla import service as sla

    seen: list[dict[str, Any]] = []

    def handle_event(event: dict[str, Any]) -> None:
        seen.append(dict(logger.get_current_keys()))
        logger.append_keys(correlation_id=f"conversation-{len(seen)}")  # what a real handler does

    monkeypatch.setattr(sla, "handle_event", handle_event)
    logger.append_keys(channel="wechat")  # left over by an earlier invocation in this process
    with Client(app_module.app, stage_name="test") as client:  # no stage env over the tests' own
        event = client.events.generate_sqs_event(
            queue_name=aws["OMNIFLOW_EVENTS_QUEUE_URL"].rsplit("/", 1)[1],
            message_bodies=[json.dumps({"type": "test.event"})],
        )
        for _ in range(2):
            assert client.lambda_.invoke("handle_event", event).payload == {"batchItemFailures": []}

    first, second = seen
    for keys in seen:
        assert keys["function_name"] == "handle_event"
        assert "channel" not in keys and keys.get("correlation_id") is None
    assert first["function_request_id"] != second["function_request_id"]


def test_an_api_request_logs_with_its_lambda_context(aws, api, monkeypatch: pytest.MonkeyPatch):
    from chalicelib import workspace
    from chalicelib.observability import logger

    seen: list[dict[str, Any]] = []
    inbox = workspace.inbox

    def spying_inbox(*args: Any, **kwargs: Any) -> Any:
        seen.append(dict(logger.get_current_keys()))
        return inbox(*args, **kwargs)

    monkeypatch.setattr(workspace, "inbox", spying_inbox)
    logger.append_keys(correlation_id="left-by-an-earlier-message")
    assert api("agent1").get("/conversations?view=mine").status_code == 200
    [keys] = seen
    assert keys["function_request_id"] and keys.get("correlation_id") is None
