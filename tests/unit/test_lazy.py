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
    # request models are built on a route's first use, not at every core Lambda's cold start
    built_at_import = {
        m for m in at_import if m.endswith((".bodies", ".queries", ".payloads", ".rules", ".policies"))
    }
    assert not built_at_import, built_at_import


def test_a_model_reference_imports_its_module_on_first_resolve_and_refuses_what_is_no_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pydantic import BaseModel

    from chalicelib.api import ModelRef, Models, resolve

    (tmp_path / "modelprobe.py").write_text(
        "from pydantic import BaseModel\nclass Probe(BaseModel):\n    n: int\nNOT_A_MODEL = 3\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        models = Models("modelprobe")
        ref = models.Probe
        assert ref is models.Probe  # one reference per name: every route shares the resolved class
        assert "modelprobe" not in sys.modules
        probe = resolve(ref)
        assert issubclass(probe, BaseModel) and probe.model_validate({"n": "2"}).n == 2
        assert resolve(probe) is probe  # a class passes through
        with pytest.raises(TypeError, match="not a pydantic model"):
            ModelRef("modelprobe", "NOT_A_MODEL").resolve()
    finally:
        sys.modules.pop("modelprobe", None)


def test_every_routes_body_and_query_reference_resolves_to_a_model() -> None:
    from pydantic import BaseModel

    import app  # noqa: F401  (registers the routes)
    from chalicelib.api import ROUTES

    named = [r for r in ROUTES if r.body_model is not None or r.query_model is not None]
    assert len(named) > 50
    for r in named:
        for model in (r.body, r.query):
            assert model is None or issubclass(model, BaseModel), (r.path, model)
