"""The layers are enforced, not hoped for: import-linter's contracts (pyproject.toml,
``[tool.importlinter]``, run by ``make lint``) hold on the real tree and break on a deliberate
upward import or circle, and no two files inside one package import each other in a circle."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import grimp
import pytest

from tests.support.layers import sibling_circles

REPO = Path(__file__).resolve().parents[2]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")

LAYERS = "chalicelib layers: dependencies point down"
CHANNELS = "channels never import routing, assignment, tickets or the HTTP glue"
GLUE = "no capability imports the HTTP glue"
APP = "chalicelib never imports app.py"
SIBLINGS = "no circles between siblings, at any depth"
ALL = (LAYERS, CHANNELS, GLUE, APP, SIBLINGS)


def lint(root: Path) -> dict[str, str]:
    """Run lint-imports with the repository's contracts on the tree at ``root``: contract → KEPT/BROKEN."""
    env = {**os.environ, "PYTHONPATH": str(root)}
    run = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache"], cwd=root, env=env, capture_output=True, text=True, timeout=120
    )
    verdicts = {}
    for line in run.stdout.splitlines():
        for verdict in ("KEPT", "BROKEN"):
            if line.endswith(" " + verdict):
                verdicts[line[: -len(verdict) - 1]] = verdict
    assert verdicts, run.stdout + run.stderr
    assert (run.returncode == 0) == all(v == "KEPT" for v in verdicts.values()), run.stdout
    return verdicts


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of chalicelib and the contracts, to break on purpose."""
    skip = shutil.ignore_patterns("__pycache__")
    shutil.copytree(REPO / "chalicelib", tmp_path / "chalicelib", ignore=skip)
    shutil.copy(REPO / "pyproject.toml", tmp_path / "pyproject.toml")
    return tmp_path


def inject(tree: Path, module: str, statement: str) -> None:
    """Add ``statement`` to ``module`` inside a function: a lazy import is still a dependency."""
    path = tree / (module.replace(".", "/") + ".py")
    path.write_text(path.read_text() + f"\n\ndef _deliberate() -> None:\n    {statement}\n")


def broken(verdicts: dict[str, str]) -> set[str]:
    return {name for name, verdict in verdicts.items() if verdict == "BROKEN"}


def test_every_contract_holds_on_the_real_tree() -> None:
    verdicts = lint(REPO)
    assert set(verdicts) == set(ALL)
    assert broken(verdicts) == set()


def test_a_lazy_upward_import_breaks_the_layers(tree: Path) -> None:
    # upward without closing a circle: nothing below canned imports paging
    inject(tree, "chalicelib.paging", "from chalicelib.canned import text")
    assert broken(lint(tree)) == {LAYERS}


def test_a_circle_between_two_capabilities_breaks_the_layers_and_the_siblings(tree: Path) -> None:
    inject(tree, "chalicelib.agents.service", "from chalicelib.feed import service")
    assert broken(lint(tree)) == {LAYERS, SIBLINGS}


def test_a_circle_between_two_files_of_one_package_breaks_the_siblings(tree: Path) -> None:
    inject(tree, "chalicelib.channels.transport", "from chalicelib.channels import tokens")
    assert broken(lint(tree)) == {SIBLINGS}


def test_a_channel_importing_routing_breaks_the_channels_contract(tree: Path) -> None:
    inject(tree, "chalicelib.channels.sms", "from chalicelib.routing import rules")
    assert {CHANNELS, LAYERS} <= broken(lint(tree))


def test_a_capability_importing_the_glue_or_app_breaks_those_contracts(tree: Path) -> None:
    inject(tree, "chalicelib.feed.service", "from chalicelib import api")
    inject(tree, "chalicelib.messages", "import app")
    assert {GLUE, APP, LAYERS} <= broken(lint(tree))


def test_no_two_files_inside_one_package_import_each_other_in_a_circle() -> None:
    assert sibling_circles(grimp.build_graph("chalicelib"), "chalicelib") == []


def test_the_file_circle_check_finds_a_deliberate_circle(tree: Path) -> None:
    inject(tree, "chalicelib.routing.rules", "from chalicelib.routing import service")
    run = subprocess.run(
        [sys.executable, "-m", "tests.support.layers", "chalicelib"],
        cwd=tree,  # first on sys.path: the broken copy of chalicelib, and tests.support from REPO
        env={**os.environ, "PYTHONPATH": f"{tree}{os.pathsep}{REPO}"},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert run.stdout.splitlines() == ["chalicelib.routing.rules <-> chalicelib.routing.service"]
