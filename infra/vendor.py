"""Re-fetch the console's vendored JavaScript libraries: exactly the pinned versions, from npm.

    make vendor                      # = python -m infra.vendor
    python -m infra.vendor --check   # fetch into a temporary folder and compare, change nothing

The console (chalicelib/console/static) has no build step: the browser loads ES modules as they
are. The libraries it uses are copied from their npm packages' ESM builds into
``chalicelib/console/static/vendor/`` with their licence files, and ``MANIFEST.json`` records each
package's version and each file's SHA-256 (a test checks the folder against it). Two edits only,
both mechanical: a bare ``from "preact"`` import becomes ``./preact.mjs`` (a CSP without inline
scripts allows no import map), and the ``sourceMappingURL`` comment goes (the maps are not shipped).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
VENDOR = REPO / "chalicelib" / "console" / "static" / "vendor"
MANIFEST = "MANIFEST.json"


@dataclass(frozen=True)
class Package:
    name: str
    version: str
    files: tuple[tuple[str, str], ...]  # (path in the package, name in vendor/)
    licenses: tuple[str, ...]
    license_id: str


PINS: tuple[Package, ...] = (
    Package(
        "preact",
        "11.2.0",
        (("dist/preact.mjs", "preact.mjs"), ("hooks/dist/hooks.mjs", "hooks.mjs")),
        ("LICENSE",),
        "MIT",
    ),
    Package("htm", "3.1.1", (("dist/htm.mjs", "htm.mjs"),), ("LICENSE",), "Apache-2.0"),
    Package("marked", "18.3.0", (("lib/marked.esm.js", "marked.mjs"),), ("LICENSE",), "MIT"),
    Package(
        "dompurify",
        "3.5.0",
        (("dist/purify.es.mjs", "purify.mjs"),),
        ("LICENSE", "LICENSE-MPL"),
        "(MPL-2.0 OR Apache-2.0)",
    ),
    # the dashboards' and the wallboard's charts (view-reports.js): time series on a canvas, 50 kB
    # minified, no dependencies; its stylesheet is loaded by the page that draws a chart
    Package(
        "uplot",
        "1.6.32",
        (("dist/uPlot.esm.js", "uplot.mjs"), ("dist/uPlot.min.css", "uplot.css")),
        ("LICENSE",),
        "MIT",
    ),
)

_BARE_PREACT = re.compile(r"""from\s*(["'])preact\1""")
_SOURCE_MAP = re.compile(r"\n?//# sourceMappingURL=\S+\s*$")


def transform(text: str) -> str:
    """The two mechanical edits (see the module docstring)."""
    text = _BARE_PREACT.sub('from"./preact.mjs"', text)
    return _SOURCE_MAP.sub("\n", text)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def fetch(into: Path) -> dict[str, object]:
    """npm-install the pinned packages into a scratch folder, copy their files into ``into``."""
    into.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="omniflow-vendor-") as scratch:
        root = Path(scratch)
        (root / "package.json").write_text('{"name": "omniflow-vendor", "private": true}\n')
        specs = [f"{p.name}@{p.version}" for p in PINS]
        npm = shutil.which("npm")
        if npm is None:
            raise SystemExit("npm not found: apt-get install npm (only `make vendor` needs it)")
        subprocess.run(  # noqa: S603 (fixed arguments: the pinned specs above)
            [npm, "install", "--no-audit", "--no-fund", "--ignore-scripts", "--save-exact", *specs],
            cwd=root,
            check=True,
            stdout=subprocess.DEVNULL,
        )
        manifest: dict[str, object] = {}
        for package in PINS:
            src = root / "node_modules" / package.name
            installed = json.loads((src / "package.json").read_text())["version"]
            if installed != package.version:
                raise SystemExit(f"{package.name}: npm installed {installed}, pinned {package.version}")
            files: dict[str, str] = {}
            for inner, name in package.files:
                (into / name).write_text(
                    transform((src / inner).read_text(encoding="utf-8")), encoding="utf-8"
                )
                files[name] = sha256(into / name)
            for lic in package.licenses:
                name = f"{package.name}.{lic}"
                shutil.copyfile(src / lic, into / name)
                files[name] = sha256(into / name)
            manifest[package.name] = {
                "version": package.version,
                "license": package.license_id,
                "files": files,
            }
    (into / MANIFEST).write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return manifest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="compare a fresh fetch with vendor/, change nothing"
    )
    args = parser.parse_args(argv)
    if not args.check:
        fetch(VENDOR)
        print(f"vendored {', '.join(f'{p.name} {p.version}' for p in PINS)} into {VENDOR.relative_to(REPO)}")
        return 0
    with tempfile.TemporaryDirectory(prefix="omniflow-vendor-check-") as tmp:
        fresh = fetch(Path(tmp))
    current = json.loads((VENDOR / MANIFEST).read_text())
    if fresh != current:
        print("vendor/ differs from a fresh fetch of the pinned versions: run `make vendor`", file=sys.stderr)
        return 1
    print("vendor/ matches the pinned versions")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
