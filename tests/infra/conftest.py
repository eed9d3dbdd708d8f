"""Fixtures for the infrastructure tests: templates parsed (and Fn::ForEach expanded) once, the
webhook package and the Chalice package built once per session into build/ (cached across runs)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from infra.build import BUILD, REPO
from tests.infra.fakes import FAKE_APP_OUTPUTS, FAKE_DATA_OUTPUTS

INFRA = REPO / "infra"


def expand(path: Path) -> dict[str, Any]:
    """The template as CloudFormation will see it after AWS::LanguageExtensions (cfn-lint's own
    expansion of Fn::ForEach, with parameter defaults)."""
    from cfnlint.decode import decode_str
    from cfnlint.template import Template
    from cfnlint.template.transforms.transform import Transform

    raw, errors = decode_str(path.read_text())
    assert not errors, errors
    cfn = Template(str(path), raw, ["us-east-1"])
    assert not Transform().transform(cfn)
    template: dict[str, Any] = cfn.template
    return template


@pytest.fixture(scope="session")
def app_template() -> dict[str, Any]:
    return expand(INFRA / "app.yaml")


@pytest.fixture(scope="session")
def data_template() -> dict[str, Any]:
    return expand(INFRA / "data.yaml")


@pytest.fixture(scope="session")
def webhook_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built with the same function the deploy uses; dependencies cached in build/webhook-deps."""
    from infra.build import build_webhook_package

    return build_webhook_package(tmp_path_factory.mktemp("webhooks") / "webhooks.zip")


@pytest.fixture(scope="session")
def chalice_package() -> dict[str, Any]:
    """``chalice package`` of the real app with the merge template, for a stage configured the way
    the deploy configures it. Built in build/ so Chalice's dependency zip is reused across runs."""
    if not (REPO / "app.py").exists():
        pytest.skip("app.py does not exist yet (the core app is written separately)")
    from infra.build import package_core
    from infra.deploy import write_chalice_config

    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")  # parallel workers build apart
    project = BUILD / f"test-chalice-project-{worker}"
    for name in ("app.py", "chalicelib", "requirements.txt"):
        target = project / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    project.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO / "app.py", project / "app.py")
    shutil.copy2(REPO / "requirements.txt", project / "requirements.txt")
    shutil.copytree(REPO / "chalicelib", project / "chalicelib", ignore=shutil.ignore_patterns("__pycache__"))
    config = project / ".chalice" / "config.json"
    config.parent.mkdir(exist_ok=True)
    shutil.copy2(REPO / ".chalice" / "config.json", config)
    write_chalice_config("prod", {**FAKE_DATA_OUTPUTS, **FAKE_APP_OUTPUTS}, config)

    sam = package_core("prod", BUILD / f"test-chalice-package-{worker}", project_dir=project)
    return {"path": sam, "template": json.loads(sam.read_text())}
