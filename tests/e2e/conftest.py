"""The local stack as the developer runs it (``python -m infra.local.stack``), in a subprocess on
free ports, shared by every e2e test (``make test`` keeps a file's tests on one xdist worker).
Tests talk to it over HTTP only, with the platforms' own client libraries (through
``infra.local.simulate``'s request builders)."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from infra.local.simulate import Target

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 60.0
# The whole demo is ~2,700 AWS calls to moto in the stack's own process: seconds on an idle machine,
# but minutes when the two cores are shared with a full parallel test run.
DEMO_START_TIMEOUT = 300.0
# A shared machine may need more still: OMNIFLOW_STACK_START_TIMEOUT=600 raises both.
if os.environ.get("OMNIFLOW_STACK_START_TIMEOUT"):
    START_TIMEOUT = DEMO_START_TIMEOUT = float(os.environ["OMNIFLOW_STACK_START_TIMEOUT"])
STOP_TIMEOUT = 15.0


@dataclass(frozen=True)
class LocalStack:
    url: str
    env: dict[str, str]
    local_dir: Path
    log: Path

    @property
    def target(self) -> Target:
        return Target(self.url, self.url)

    def sns_signing(self) -> dict[str, str]:
        data: dict[str, str] = json.loads((self.local_dir / "sns-signing.json").read_text())
        return data

    def log_tail(self, chars: int = 6000) -> str:
        return self.log.read_text(errors="replace")[-chars:]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/api/health", timeout=5) as resp:
            return bool(resp.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def _stop(proc: subprocess.Popen[bytes]) -> None:
    """Ctrl-C first (the stack shuts down its server, pollers and moto); kill only if it hangs."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGINT)
    try:
        proc.wait(STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(STOP_TIMEOUT)


@contextlib.contextmanager
def running_stack(
    local_dir: Path, start_timeout: float = START_TIMEOUT, **env_overrides: str
) -> Iterator[LocalStack]:
    """``python -m infra.local.stack`` in a subprocess on free ports, healthy, stopped cleanly."""
    port, moto_port = free_port(), free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "MOTO_PORT": str(moto_port),
        "OMNIFLOW_LOCAL_DIR": str(local_dir),
        "PYTHONUNBUFFERED": "1",
        "POWERTOOLS_LOG_LEVEL": "INFO",
        **env_overrides,
    }
    log = local_dir / "stack.log"
    url = f"http://127.0.0.1:{port}"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "infra.local.stack"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    stack = LocalStack(url, env, local_dir, log)
    try:
        deadline = time.monotonic() + start_timeout
        while not _healthy(url):
            if proc.poll() is not None:
                pytest.fail(f"local stack exited with {proc.returncode}:\n{stack.log_tail()}")
            if time.monotonic() > deadline:
                pytest.fail(f"local stack not healthy after {start_timeout:.0f}s:\n{stack.log_tail()}")
            time.sleep(0.25)
        yield stack
    finally:
        _stop(proc)
    assert proc.returncode == 0, f"local stack did not stop cleanly ({proc.returncode}):\n{stack.log_tail()}"


@pytest.fixture(scope="session")
def local_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The stack with the demo's team only (logins, groups, rules): the stories' customers and
    online agents would take the conversations these tests create."""
    with running_stack(tmp_path_factory.mktemp("omniflow-local"), OMNIFLOW_DEMO="team") as stack:
        yield stack


@pytest.fixture(scope="module")
def demo_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalStack]:
    """The stack as ``make dev`` starts it: the whole demo (customers, conversations, tickets),
    the demo agents online."""
    with running_stack(
        tmp_path_factory.mktemp("omniflow-demo"), DEMO_START_TIMEOUT, OMNIFLOW_DEMO="full"
    ) as stack:
        yield stack


class Api:
    """The agent API as the console uses it: a bearer token from /api/auth/login."""

    def __init__(self, base: str, token: str) -> None:
        self.base = base
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"

    def get(self, path: str, **kw: Any) -> requests.Response:
        return self.session.get(f"{self.base}/api{path}", timeout=30, **kw)

    def post(self, path: str, body: Any = None) -> requests.Response:
        return self.session.post(f"{self.base}/api{path}", json=body, timeout=30)


def login(stack: LocalStack, username: str) -> Api:
    from infra.local.demo import demo_password

    resp = requests.post(
        f"{stack.url}/api/auth/login", json={"username": username, "password": demo_password()}, timeout=30
    )
    assert resp.status_code == 200, resp.text
    return Api(stack.url, resp.json()["id_token"])


@pytest.fixture(scope="session")
def supervisor(local_stack: LocalStack) -> Api:
    return login(local_stack, "supervisor")
