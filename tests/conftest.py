"""Shared fixtures. The environment is fixed before any Omniflow module is imported, because
PynamoDB models read table names when their classes are created.

- ``aws``: moto in-process with Step Functions execution on, every resource created by
  ``infra/local/provision.py`` from the same definitions the cloud uses.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

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


def reset_caches() -> None:
    """Forget every cached client, setting and secret (each test gets fresh moto state)."""
    from chalicelib import config
    from chalicelib.channels import credentials, pipeline

    config.reset()
    credentials.reset()
    pipeline._idempotent_enqueue.cache_clear()
    try:
        from chalicelib import resets

        resets.run_all()
    except ImportError:
        pass


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, str]]:
    from moto import mock_aws

    from infra.local.provision import provision

    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        env = provision("test", visibility_seconds=1, max_receive_count=3)
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        reset_caches()
        yield env
    reset_caches()
