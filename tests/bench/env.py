"""Where the bench runs: the environment of a Lambda (for the fresh child processes) and moto (for
the in-process sections).

The in-process environment is the test suite's own (``tests/conftest.py`` fixes it at import, before
any Omniflow module reads it), and resources come from ``infra/local/provision.py``, as in the
``aws`` fixture.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import tests.conftest as conftest  # fixes os.environ before any Omniflow import, as in the tests

REPO = Path(__file__).resolve().parents[2]
STAGE = os.environ["OMNIFLOW_STAGE"]
REGION = "us-east-1"
ACCOUNT = "123456789012"
PUBLIC_URL = os.environ["OMNIFLOW_PUBLIC_URL"]
# A Lambda with active tracing starts every invocation with a trace header in its environment.
TRACE_HEADER = "Root=1-65a1b2c3-0123456789abcdef01234567;Parent=53995c3f42cd8ad8;Sampled=1"
# What a child inherits from this process: only what a shell needs to start Python.
_PASS_THROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR")


def queue_url(name: str) -> str:
    """A queue URL of the shape AWS gives (the child processes of the import-time section never call
    AWS, they only read the variable)."""
    fifo = ".fifo" if name in ("inbound", "outbound") else ""
    return f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/omniflow-{STAGE}-{name}{fifo}"


def lambda_env(function: str, service: str, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment Lambda gives one of our functions (``infra/app.yaml``, ``.chalice/config.json``):
    fake credentials, the Lambda runtime's own variables (with ``LAMBDA_TASK_ROOT`` set, powertools'
    Tracer is on, as with ``TracingConfig: Active``), powertools settings and the OMNIFLOW_* names."""
    env = {k: os.environ[k] for k in _PASS_THROUGH if k in os.environ}
    env.update(
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_SESSION_TOKEN="testing",
        AWS_REGION=REGION,
        AWS_DEFAULT_REGION=REGION,
        AWS_LAMBDA_FUNCTION_NAME=f"omniflow-{STAGE}-{function}",
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE="256",
        AWS_LAMBDA_FUNCTION_VERSION="$LATEST",
        AWS_EXECUTION_ENV="AWS_Lambda_python3.12",
        LAMBDA_TASK_ROOT=str(REPO),
        _X_AMZN_TRACE_ID=TRACE_HEADER,
        AWS_XRAY_CONTEXT_MISSING="LOG_ERROR",
        POWERTOOLS_SERVICE_NAME=service,
        POWERTOOLS_METRICS_NAMESPACE="Omniflow",
        POWERTOOLS_LOG_LEVEL="WARNING",
        OMNIFLOW_STAGE=STAGE,
        OMNIFLOW_PUBLIC_URL=PUBLIC_URL,
        OMNIFLOW_INBOUND_QUEUE_URL=queue_url("inbound"),
    )
    env.update(extra or {})
    return env


def app_env() -> dict[str, str]:
    """The core (Chalice) Lambda's environment: every queue and the ids of Cognito and the SLA machine."""
    return lambda_env(
        "api_handler",
        "omniflow-api",
        {
            "OMNIFLOW_OUTBOUND_QUEUE_URL": queue_url("outbound"),
            "OMNIFLOW_EVENTS_QUEUE_URL": queue_url("events"),
            "OMNIFLOW_USER_POOL_ID": f"{REGION}_bench0000",
            "OMNIFLOW_USER_POOL_CLIENT_ID": "bench0client0id",
            "OMNIFLOW_SLA_STATE_MACHINE_ARN": (
                f"arn:aws:states:{REGION}:{ACCOUNT}:stateMachine:omniflow-{STAGE}-sla"
            ),
            "OMNIFLOW_ALERTS_TOPIC_ARN": f"arn:aws:sns:{REGION}:{ACCOUNT}:omniflow-{STAGE}-alerts",
        },
    )


def channel_status() -> dict[str, str | None]:
    """Every channel of the registry: None when its adapter and its ``functions/<channel>.py`` exist,
    else why it cannot be measured yet."""
    from chalicelib.channels import CHANNELS

    status: dict[str, str | None] = {}
    for name, module in CHANNELS.items():
        if importlib.util.find_spec(module) is None:
            status[name] = f"not built yet ({module} missing)"
        elif not (REPO / "functions" / f"{name}.py").exists():
            status[name] = f"not built yet (functions/{name}.py missing)"
        else:
            status[name] = None
    return status


@dataclass
class Stack:
    """moto with every resource provisioned; ``endpoint`` is a moto server on the same state, for
    child processes."""

    env: dict[str, str]
    endpoint: str
    workdir: Path
    extra_env: dict[str, str] = field(default_factory=dict)

    def set_env(self, name: str, value: str) -> None:
        """Set a variable here and for every child started later (e.g. the SNS cert file)."""
        os.environ[name] = value
        self.extra_env[name] = value
        conftest.reset_caches()

    def child_env(self, function: str, service: str) -> dict[str, str]:
        return lambda_env(
            function, service, {**self.env, **self.extra_env, "OMNIFLOW_AWS_ENDPOINT": self.endpoint}
        )


def reset_caches() -> None:
    """A fresh Lambda instance: no cached settings, clients or secrets (the tests' own reset)."""
    conftest.reset_caches()


@contextmanager
def moto_stack() -> Iterator[Stack]:
    """moto in-process plus a ``ThreadedMotoServer`` sharing its state, provisioned like the tests'
    ``aws`` fixture (Step Functions executions stay off: the SLA wait would only add threads)."""
    from moto import mock_aws
    from moto.server import ThreadedMotoServer

    from infra.local import moto_fast_transactions
    from infra.local.provision import provision

    moto_fast_transactions.install()
    saved = dict(os.environ)
    # The bench empties the inbound queue between timed chunks: moto's SQS recomputes queue
    # attributes over every stored message on each send, so a long queue would dominate the figures.
    os.environ["MOTO_SQS_ENFORCE_STRICT_QUEUE_PURGE_BEHAVIOUR"] = "false"
    with mock_aws(), tempfile.TemporaryDirectory(prefix="omniflow-bench-") as tmp:
        env = provision(STAGE)
        os.environ.update(env)
        conftest.reset_caches()
        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no access log line per request
        server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        server.start()
        host, port = server.get_host_and_port()
        try:
            yield Stack(env=env, endpoint=f"http://{host}:{port}", workdir=Path(tmp))
        finally:
            server.stop()
            os.environ.clear()
            os.environ.update(saved)
            conftest.reset_caches()
