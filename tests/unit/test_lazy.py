"""Lazy service imports (chalicelib.lazy): a core Lambda pays at cold start only for its own path."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from chalicelib.lazy import lazy
from tests.bench.env import app_env

REPO = Path(__file__).resolve().parents[2]


def test_a_lazy_module_runs_on_first_read_and_writes_reach_the_real_module(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "lazyprobe.py").write_text("import os\nos.environ['LAZYPROBE'] = 'ran'\nVALUE = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("LAZYPROBE", raising=False)
    try:
        probe = lazy("lazyprobe")
        assert "lazyprobe" not in sys.modules and "LAZYPROBE" not in os.environ
        assert probe.VALUE == 1
        assert os.environ["LAZYPROBE"] == "ran"
        probe.VALUE = 2
        assert sys.modules["lazyprobe"].VALUE == 2
        del probe.VALUE
        assert not hasattr(sys.modules["lazyprobe"], "VALUE")
    finally:
        sys.modules.pop("lazyprobe", None)


def test_importing_the_core_app_leaves_canned_replies_media_and_ticket_changes_unloaded() -> None:
    code = (
        "import sys, app\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('chalicelib'))))\n"
        "app.router.route_batch\n"  # the router's path, as route_inbound's first call would
        "print(' '.join(sorted(m for m in sys.modules if m.startswith('chalicelib'))))\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={**os.environ, **app_env()},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    at_import, after_router = (set(line.split()) for line in run.stdout.splitlines())
    for unused in ("chalicelib.canned.service", "chalicelib.media.service", "chalicelib.sla.reports"):
        assert unused not in at_import and unused not in after_router
    for service in ("chalicelib.router.service", "chalicelib.workspace", "chalicelib.tickets.changes"):
        assert service not in at_import
    assert "chalicelib.router.service" in after_router
