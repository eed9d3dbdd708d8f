"""Shared fixtures. The environment is fixed before any Omniflow module is imported, because
PynamoDB models read table names when their classes are created.

- ``aws``: moto in-process with Step Functions execution on, every resource created by
  ``infra/local/provision.py`` from the same definitions the cloud uses.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest

os.environ.update(
    AWS_ACCESS_KEY_ID="testing",
    AWS_SECRET_ACCESS_KEY="testing",
    AWS_SECURITY_TOKEN="testing",
    AWS_SESSION_TOKEN="testing",
    AWS_DEFAULT_REGION="us-east-1",
    AWS_REGION="us-east-1",
    OMNIFLOW_STAGE="test",
    OMNIFLOW_OUTBOUND_MODE="live",
    OMNIFLOW_PUBLIC_URL="https://omniflow.test",
    POWERTOOLS_TRACE_DISABLED="1",
    POWERTOOLS_METRICS_NAMESPACE="OmniflowTest",
    POWERTOOLS_LOG_LEVEL="WARNING",
)
for _var in ("OMNIFLOW_AWS_ENDPOINT", "AWS_ENDPOINT_URL", "AWS_PROFILE"):
    os.environ.pop(_var, None)

# moto's botocore stubber joins botocore's built-in handlers when moto is imported, and a boto3
# session copies those handlers when it is made. chalicelib.aws keeps one session per process, so
# moto is imported before any test can make it: a test without moto that made it first (a Stubber
# on aws.client) left every later moto test in that process talking to the real endpoints.
import moto  # noqa: E402, F401


def reset_caches() -> None:
    """Forget every cached client, setting and secret (each test gets fresh moto state)."""
    from chalicelib import aws, config
    from chalicelib.auth.service import JWKS
    from chalicelib.channels import credentials, tokens

    config.reset()
    aws.reset()
    credentials.reset()
    tokens.reset()
    JWKS.clear()
    from chalicelib.auth import tokens as api_tokens

    api_tokens.reset()
    from chalicelib.console import service as console

    console.security_headers.cache_clear()
    from chalicelib.orders import service as orders

    orders.reset()
    from chalicelib.orders import crm

    crm.reset()
    from chalicelib.calendars import service as calendars
    from chalicelib.routing import service as routing_rules

    calendars.reset()
    routing_rules.reset()
    from chalicelib.routing import placement

    placement.reset()
    from chalicelib.sla import policies as sla_policies

    sla_policies.reset()
    from chalicelib.quality import service as quality

    quality.reset()
    from chalicelib.assist import suggestions

    suggestions.reset()
    from chalicelib.bot import knowledge
    from chalicelib.bot import service as bot

    bot.reset()
    knowledge.use(None)
    from chalicelib.kb import searcher as kb_searcher

    kb_searcher.reset()
    from chalicelib.webhooks import service as webhooks

    webhooks.reset()
    from chalicelib.proactive import service as proactive

    proactive.reset()


@pytest.fixture(autouse=True, scope="session")
def event_subscriptions() -> None:
    """The in-process event subscriptions app.py installs: tests call services without app.py."""
    from chalicelib import bootstrap

    bootstrap.install()


_MOTO_LOCK = threading.RLock()


def _atomic_moto_requests(monkeypatch: pytest.MonkeyPatch) -> None:
    """AWS applies each request atomically (a conditional write checks and writes as one step);
    moto in-process does not lock its backends, so concurrent tests would see races AWS cannot
    have. Serialize moto's request handling, as one request at a time is what AWS guarantees."""
    from moto.core.botocore_stubber import BotocoreStubber

    original = BotocoreStubber.process_request

    def locked(self: Any, request: Any) -> Any:
        with _MOTO_LOCK:
            return original(self, request)

    monkeypatch.setattr(BotocoreStubber, "process_request", locked)


@pytest.fixture
def aws(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    """moto in-process with every resource. Step Functions executions really run only for tests
    marked ``sfn`` (the SLA tests): elsewhere they would outlive their test, still waiting on
    their deadline, and wake up inside a later test's moto."""
    from moto import mock_aws

    from infra.local.provision import provision

    _atomic_moto_requests(monkeypatch)
    run_executions = request.node.get_closest_marker("sfn") is not None
    with mock_aws(config={"stepfunctions": {"execute_state_machine": run_executions}}):
        env = provision("test", visibility_seconds=1, max_receive_count=3)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        reset_caches()
        yield env
    reset_caches()
