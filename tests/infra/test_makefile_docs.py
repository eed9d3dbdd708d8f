"""The README and docs/*.md against the Makefile: every ``make TARGET`` they name exists, and every
``VAR=value`` they pass to it reaches the target's commands (``make -n``), so the docs and the
Makefile cannot drift apart again (as ``PROFILE=ops`` once did, silently ignored)."""

from __future__ import annotations

import re
import shlex
import subprocess
from functools import cache
from pathlib import Path

import pytest

from infra.build import REPO

DOCS = sorted([REPO / "README.md", *(REPO / "docs").glob("*.md")])
#: read by the program from its environment rather than by the Makefile (make exports command-line
#: variables to its recipes): PORT / MOTO_PORT by the local stack, OMNIFLOW_* and AWS_* by the code
ENVIRONMENT = re.compile(r"^(PORT|MOTO_[A-Z0-9_]+|OMNIFLOW_[A-Z0-9_]+|AWS_[A-Z0-9_]+|POWERTOOLS_[A-Z_]+)$")
CODE = re.compile(r"```[^\n]*\n(.*?)```|`([^`\n]+)`", re.S)
ASSIGNMENT = re.compile(r"^([A-Z][A-Z0-9_]*)=(.*)$", re.S)
TARGET = re.compile(r"^[a-z][a-z0-9-]*$")


def code_lines(text: str) -> list[str]:
    """Shell lines from fenced blocks and inline code spans, comments cut off."""
    out = []
    for block, span in CODE.findall(text):
        for line in (block or span).splitlines():
            out.append(line.split(" #", 1)[0].strip())
    return out


def make_commands(text: str) -> list[tuple[list[str], dict[str, str]]]:
    """``make TARGET... VAR=value...`` as (targets, variables), from the code in ``text``."""
    found = []
    for line in code_lines(text):
        for match in re.finditer(r"(?:^|[;&|(]\s*)((?:[A-Z_]+=\S+\s+)*)make\s+(.*)", line):
            try:
                words = shlex.split(match.group(1) + " " + match.group(2))
            except ValueError:
                words = match.group(2).split()
            targets, variables = [], {}
            for word in words:
                assignment = ASSIGNMENT.match(word)
                if assignment:
                    variables[assignment.group(1)] = assignment.group(2)
                elif TARGET.match(word):
                    targets.append(word)
                else:
                    break
            if targets:
                found.append((targets, variables))
    return found


def loose_variables(text: str) -> set[str]:
    """``VAR=value`` inline spans outside a make command (``REGION=eu-central-1``, ``QUEUE=inbound``):
    in prose they are the Makefile's knobs (shell variables of example scripts live in blocks)."""
    names = set()
    for line in (span.strip() for block, span in CODE.findall(text) if span):
        if "make " in line or not line:
            continue
        try:
            words = shlex.split(line)
        except ValueError:
            continue
        if words and all(ASSIGNMENT.match(w) for w in words) and len(words) <= 3:
            names |= {ASSIGNMENT.match(w).group(1) for w in words}  # type: ignore[union-attr]
    return names


@cache
def makefile_targets() -> set[str]:
    text = (REPO / "Makefile").read_text()
    return set(re.findall(r"^([a-z][a-z0-9-]*):(?!=)", text, re.M))


@cache
def makefile_variables() -> set[str]:
    return set(re.findall(r"\$\(([A-Z][A-Z0-9_]*)\)", (REPO / "Makefile").read_text()))


def dry_run(target: str, variables: dict[str, str]) -> str:
    run = subprocess.run(
        ["make", "-n", target, *(f"{k}={v}" for k, v in variables.items())],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    return run.stdout


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(REPO)))
def test_every_make_target_and_variable_a_doc_names_is_in_the_makefile(doc: Path) -> None:
    text = doc.read_text(encoding="utf-8")
    for targets, variables in make_commands(text):
        for target in targets:
            assert target in makefile_targets(), f"{doc.name}: `make {target}` is not a Makefile target"
        for name in variables:
            if ENVIRONMENT.match(name):
                continue
            probe = f"__probe_{name.lower()}__"
            others = {k: v for k, v in variables.items() if k != name}
            for target in targets:
                # its value in the commands, or (a switch like SKIP_CHALICE=1) the commands change
                reached = probe in dry_run(target, {**others, name: probe}) or dry_run(
                    target, variables
                ) != dry_run(target, others)
                assert reached, f"{doc.name}: `make {target} {name}=…` never reaches the command"
    for name in loose_variables(text):
        assert ENVIRONMENT.match(name) or name in makefile_variables(), (
            f"{doc.name}: {name}= is neither a Makefile variable nor read from the environment"
        )


def test_the_check_would_catch_an_ignored_variable() -> None:
    commands = make_commands("run `make deploy STAGE=prod NOSUCH=1` and `make no-such-target`")
    assert commands == [(["deploy"], {"STAGE": "prod", "NOSUCH": "1"}), (["no-such-target"], {})]
    assert "no-such-target" not in makefile_targets()
    assert "__probe__" not in dry_run("deploy", {"STAGE": "prod", "NOSUCH": "__probe__"})
    assert dry_run("deploy", {"STAGE": "prod", "NOSUCH": "1"}) == dry_run("deploy", {"STAGE": "prod"})
