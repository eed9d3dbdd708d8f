"""Build what a deploy uploads, without touching AWS.

- the webhook package: one zip for every per-channel webhook Lambda (``functions/`` +
  ``chalicelib/`` + the runtime dependencies, built for the Lambda platform, not this machine);
- the core CloudFormation package: ``chalice package`` merged with ``infra/chalice-merge.json`` (the
  alternative to ``chalice deploy`` for teams that deploy everything through CloudFormation).

Zips are deterministic (sorted entries, fixed timestamps), so an unchanged build hashes the same and
``infra/deploy.py``'s content-addressed S3 keys leave the functions untouched.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUILD = REPO / "build"

# Must match Runtime and Architectures of the webhook functions in infra/app.yaml (a test checks).
WEBHOOK_PYTHON = "3.11"  # matches the core Lambdas (chalice packages for the local 3.11)
WEBHOOK_PLATFORM = "manylinux2014_x86_64"
WEBHOOK_SOURCES = ("chalicelib", "functions")
MERGE_TEMPLATE = REPO / "infra" / "chalice-merge.json"

_SKIP_DIRS = {"__pycache__", "bin", ".mypy_cache", ".pytest_cache"}
_FIXED_TIME = (1980, 1, 1, 0, 0, 0)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def install_webhook_dependencies(requirements: Path, cache_root: Path) -> Path:
    """pip-install the runtime dependencies for the Lambda platform into a folder keyed by the
    requirements' hash, so rebuilding after a code-only change costs no network and no pip run."""
    key = hashlib.sha256(
        requirements.read_bytes() + f"{WEBHOOK_PYTHON}/{WEBHOOK_PLATFORM}".encode()
    ).hexdigest()[:16]
    target = cache_root / key
    if (target / ".complete").exists():
        return target
    # Install beside the target and rename into place: parallel test workers never see half a tree.
    staging = cache_root / f"{key}.{os.getpid()}.tmp"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    subprocess.run(  # noqa: S603 — fixed argument list, no shell
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-r",
            str(requirements),
            "--platform",
            WEBHOOK_PLATFORM,
            "--implementation",
            "cp",
            "--python-version",
            WEBHOOK_PYTHON,
            "--only-binary=:all:",
            "--target",
            str(staging),
            "--no-compile",
            "--quiet",
            "--disable-pip-version-check",
        ],
        check=True,
    )
    (staging / ".complete").write_text(key)
    try:
        staging.rename(target)
    except OSError:  # another process finished first (or a stale partial tree is in the way)
        if not (target / ".complete").exists():
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
    shutil.rmtree(staging, ignore_errors=True)
    return target


def _files(root: Path, prefix: str = "") -> Iterator[tuple[Path, str]]:
    """(file, archive name) pairs under ``root``, skipping caches and console scripts."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in _SKIP_DIRS)
        for name in sorted(filenames):
            if name.endswith((".pyc", ".pyo")) or name == ".complete":
                continue
            path = Path(dirpath) / name
            yield path, prefix + path.relative_to(root).as_posix()


def write_zip(dest: Path, entries: Iterable[tuple[Path, str]]) -> Path:
    """A zip whose bytes depend only on the files' names, modes and contents."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_suffix(".tmp")
    # Level 1: twice as fast as the default for a zip only 8 % bigger (S3 takes either).
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for path, arcname in sorted(entries, key=lambda e: e[1]):
            info = zipfile.ZipInfo(arcname, date_time=_FIXED_TIME)
            info.external_attr = (0o755 if os.access(path, os.X_OK) else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes(), compresslevel=1)
    tmp.replace(dest)
    return dest


def build_webhook_package(
    dest: Path = BUILD / "webhooks.zip",
    *,
    repo: Path = REPO,
    deps_cache: Path = BUILD / "webhook-deps",
) -> Path:
    """Build the webhook Lambdas' zip: dependencies at the root, then ``chalicelib/`` and
    ``functions/`` (handler ``functions.<channel>.handler``). Returns ``dest``."""
    deps = install_webhook_dependencies(repo / "requirements.txt", deps_cache)
    entries = list(_files(deps))
    for source in WEBHOOK_SOURCES:
        entries.extend(_files(repo / source, prefix=f"{source}/"))
    return write_zip(dest, entries)


def chalice_executable() -> str:
    """The chalice CLI of this interpreter's environment (the venv), else the one on PATH."""
    beside = Path(sys.executable).parent / "chalice"
    if beside.exists():
        return str(beside)
    found = shutil.which("chalice")
    if not found:
        raise RuntimeError("chalice is not installed: pip install -r requirements-dev.txt")
    return found


def package_core(
    stage: str,
    out_dir: Path,
    *,
    project_dir: Path = REPO,
    merge_template: Path = MERGE_TEMPLATE,
    env: dict[str, str] | None = None,
) -> Path:
    """``chalice package`` the core app for ``stage`` with the merge template applied (SQS event
    sources get ReportBatchItemFailures). Returns the generated SAM template (sam.json)."""
    shutil.rmtree(out_dir, ignore_errors=True)
    subprocess.run(  # noqa: S603 — fixed argument list, no shell
        [
            chalice_executable(),
            "--project-dir",
            str(project_dir),
            "package",
            "--stage",
            stage,
            "--merge-template",
            str(merge_template),
            str(out_dir),
        ],
        check=True,
        env={**os.environ, **(env or {})},
    )
    return out_dir / "sam.json"
