"""Section 1: cold start, a fresh Python process per sample.

1a. Import and init: the process imports ``functions.<channel>`` (which builds the handler) and
    loads the channel's adapter (``chalicelib.channels.get``, done lazily on the first request, so
    it is on the cold path too); for the core, ``import app``. Its wall time, median of N runs after
    a warm-up round that fills the OS file cache, is divided by the floor's, measured the same way
    in the same rounds: ``python -c "import boto3; boto3.client('sqs', region_name='us-east-1')"``.
    Targets are run round-robin, so a burst of load on this shared machine hits all of them alike.
1b. First request: the same, plus one signed delivery through the Lambda handler against a moto
    server (secrets, DynamoDB, SQS over HTTP), next to a floor that also sends one SQS message.

``python -X importtime`` (one extra run per target) says which packages dominate.
"""

from __future__ import annotations

import json
import re
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.bench.env import REPO, Stack, app_env, lambda_env
from tests.bench.report import Summary, heading, table, verdict

FLOOR_CODE = "import boto3; boto3.client('sqs', region_name='us-east-1')"
WEBHOOK_TARGET_RATIO = 1.3  # issue 19
APP_TARGET_RATIO = 1.5  # issue 12: the core app (import app) against the same floor
OMNIFLOW_PACKAGES = frozenset({"functions", "chalicelib", "app"})
CHILD_TIMEOUT_SECONDS = 120
TOP_PACKAGES = 5

_WEBHOOK_CODE = """\
import time
_t0 = time.perf_counter()
import functions.{channel}
_t1 = time.perf_counter()
from chalicelib import channels
channels.get({channel!r})
print("BENCH", _t1 - _t0, time.perf_counter() - _t1)
"""

# With LAMBDA_TASK_ROOT set, powertools' Tracer calls aws_xray_sdk's patch_all(), which imports every
# library it can patch (requests among them). This prelude makes the Tracer patch botocore only, as
# ``Tracer(patch_modules=["botocore"])`` in chalicelib/observability.py would.
_TRACER_BOTOCORE_ONLY = """\
import aws_lambda_powertools.tracing.tracer as _tracer
_init = _tracer.Tracer.__init__
def _botocore_only(self, *args, **kwargs):
    kwargs.setdefault("patch_modules", ["botocore"])
    _init(self, *args, **kwargs)
_tracer.Tracer.__init__ = _botocore_only
"""

_FIRST_REQUEST_CODE = """\
import time
_t0 = time.perf_counter()
import functions.{channel} as _function
from chalicelib import channels
channels.get({channel!r})
_t1 = time.perf_counter()
import json, sys

class _Context:
    function_name = "omniflow-bench-webhook-{channel}"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:omniflow-bench-webhook-{channel}"
    aws_request_id = "00000000-0000-0000-0000-000000000000"

    def get_remaining_time_in_millis(self):
        return 10000

with open(sys.argv[1]) as _f:
    _event = json.load(_f)[int(sys.argv[2])]
_reply = _function.handler(_event, _Context())
print("BENCH", _t1 - _t0, time.perf_counter() - _t1, _reply["statusCode"])
"""

_FLOOR_SEND_CODE = (
    "import sys, boto3; boto3.client('sqs', region_name='us-east-1', endpoint_url=sys.argv[1])"
    ".send_message(QueueUrl=sys.argv[2], MessageBody='x', MessageGroupId='bench',"
    " MessageDeduplicationId=sys.argv[3])"
)


@dataclass
class Target:
    """One kind of fresh process, run N times."""

    name: str
    kind: str  # interpreter | floor | webhook | app
    code: str
    env: dict[str, str]
    args: Callable[[int], list[str]] = lambda _i: []
    channel: str | None = None
    samples: list[float] = field(default_factory=list)
    printed: list[list[float]] = field(default_factory=list)  # what the child measured itself
    error: str | None = None

    @property
    def median(self) -> float | None:
        return statistics.median(self.samples) if self.samples else None

    def printed_median(self, index: int) -> float | None:
        values = [p[index] for p in self.printed if len(p) > index]
        return statistics.median(values) if values else None


def _run_once(target: Target, index: int) -> tuple[float, list[float]]:
    argv = [sys.executable, "-c", target.code, *target.args(index)]
    start = time.perf_counter()
    proc = subprocess.run(
        argv, cwd=REPO, env=target.env, capture_output=True, text=True, timeout=CHILD_TIMEOUT_SECONDS
    )
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"exit {proc.returncode}: {proc.stderr.strip().splitlines()[-1:]}")
    printed: list[float] = []
    for line in proc.stdout.splitlines():
        if line.startswith("BENCH "):
            printed = [float(x) for x in line.split()[1:]]
    return wall, printed


def measure(targets: Sequence[Target], runs: int) -> None:
    """Round 0 warms the file cache and is dropped; rounds 1..runs are kept. Each round starts at a
    different target, so no target always runs right after the same neighbour."""
    for round_no in range(runs + 1):
        shift = round_no % len(targets)
        for target in [*targets[shift:], *targets[:shift]]:
            if target.error:
                continue
            try:
                wall, printed = _run_once(target, round_no)
            except (RuntimeError, subprocess.TimeoutExpired) as exc:
                target.error = str(exc)[:300]
                continue
            if round_no:
                target.samples.append(wall)
                target.printed.append(printed)


# ---- python -X importtime ------------------------------------------------------------------------
_IMPORT_LINE = re.compile(r"^import time:\s*(\d+)\s*\|\s*(\d+)\s*\| (\s*)(\S+)\s*$")


@dataclass(frozen=True)
class PackageCost:
    package: str
    cumulative_ms: float  # the package's first import, with whatever it imported for the first time
    self_ms: float  # its own modules only
    via: str  # the Omniflow module (or, failing that, the module) whose import brought it in


def package_costs(importtime_stderr: str) -> list[PackageCost]:
    """Per top-level package, from ``-X importtime`` output, most expensive (cumulative) first.

    The output is a post-order tree (children first, indented two spaces per level). A package's
    cumulative time is the sum over its outermost entries (no ancestor from the same package), so
    nothing is counted twice within the package; packages overlap each other (boto3 inside
    powertools), which is the point: it says what making one import lazy would save."""
    entries: list[tuple[int, int, int, str]] = []
    for line in importtime_stderr.splitlines():
        m = _IMPORT_LINE.match(line)
        if m:
            entries.append((int(m[1]), int(m[2]), len(m[3]) // 2, m[4]))
    parent: list[int | None] = [None] * len(entries)
    latest_at_depth: dict[int, int] = {}
    for i in range(len(entries) - 1, -1, -1):  # a parent is printed after its children
        depth = entries[i][2]
        parent[i] = latest_at_depth.get(depth - 1) if depth else None
        latest_at_depth[depth] = i

    def ancestors(i: int) -> list[int]:
        out, p = [], parent[i]
        while p is not None:
            out.append(p)
            p = parent[p]
        return out

    cumulative: dict[str, float] = {}
    own: dict[str, float] = {}
    via: dict[str, tuple[float, str]] = {}
    for i, (self_us, cum_us, _depth, name) in enumerate(entries):
        package = name.split(".")[0]
        own[package] = own.get(package, 0.0) + self_us / 1000
        chain = ancestors(i)
        if any(entries[a][3].split(".")[0] == package for a in chain):
            continue
        cumulative[package] = cumulative.get(package, 0.0) + cum_us / 1000
        importer = _importer(entries, i, chain)
        if cum_us / 1000 > via.get(package, (-1.0, ""))[0]:
            via[package] = (cum_us / 1000, importer)
    return sorted(
        (PackageCost(p, cumulative[p], own[p], via[p][1]) for p in cumulative),
        key=lambda c: c.cumulative_ms,
        reverse=True,
    )


def _importer(entries: list[tuple[int, int, int, str]], index: int, chain: list[int]) -> str:
    """``omniflow.module > what it imported`` for the entry at ``index`` (its ancestors: ``chain``),
    or its direct importer when no Omniflow module is on the chain."""
    for k, a in enumerate(chain):
        if entries[a][3].split(".")[0] in OMNIFLOW_PACKAGES:
            below = entries[chain[k - 1]][3] if k else entries[index][3]
            return f"{entries[a][3]} > {below}"
    return entries[chain[0]][3] if chain else "-"


def import_profile(target: Target, runs: int) -> list[PackageCost]:
    """Per-package import costs of ``target``, each figure the median over ``runs`` processes."""
    samples: list[list[PackageCost]] = []
    for _ in range(runs):
        argv = [sys.executable, "-X", "importtime", "-c", target.code, *target.args(0)]
        proc = subprocess.run(
            argv, cwd=REPO, env=target.env, capture_output=True, text=True, timeout=CHILD_TIMEOUT_SECONDS
        )
        if proc.returncode == 0:
            samples.append(package_costs(proc.stderr))
    if not samples:
        return []
    by_package: dict[str, list[PackageCost]] = {}
    for costs in samples:
        for c in costs:
            by_package.setdefault(c.package, []).append(c)
    merged = [
        PackageCost(
            package,
            statistics.median([c.cumulative_ms for c in found] + [0.0] * (len(samples) - len(found))),
            statistics.median([c.self_ms for c in found] + [0.0] * (len(samples) - len(found))),
            found[0].via,
        )
        for package, found in by_package.items()
    ]
    return sorted(merged, key=lambda c: c.cumulative_ms, reverse=True)


# ---- 1a ------------------------------------------------------------------------------------------
def import_targets(channels: dict[str, str | None]) -> list[Target]:
    targets = [
        Target("python -c pass", "interpreter", "pass", lambda_env("bench", "bench")),
        Target("floor (boto3 + 1 client)", "floor", FLOOR_CODE, lambda_env("bench", "bench")),
    ]
    for channel, missing in channels.items():
        if missing is None:
            targets.append(
                Target(
                    f"webhook {channel}",
                    "webhook",
                    _WEBHOOK_CODE.format(channel=channel),
                    lambda_env(f"webhook-{channel}", f"omniflow-webhook-{channel}"),
                    channel=channel,
                )
            )
    targets.append(Target("app (import app)", "app", "import app", app_env()))
    first = next((t for t in targets if t.kind == "webhook"), None)
    if first is not None:  # what the tracing recommendations in docs/bench.md would buy
        targets += [
            Target(
                f"what-if: {first.name}, Tracer patches botocore only",
                "what-if",
                _TRACER_BOTOCORE_ONLY + first.code,
                first.env,
                channel=first.channel,
            ),
            Target(
                f"what-if: {first.name}, tracing off",
                "what-if",
                first.code,
                {**first.env, "POWERTOOLS_TRACE_DISABLED": "1"},
                channel=first.channel,
            ),
        ]
    return targets


def _ms(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1000:.0f}"


def run_imports(
    channels: dict[str, str | None], runs: int, importtime_runs: int, summary: Summary
) -> dict[str, Any]:
    print(heading(f"1a. Cold start: import + init, fresh process (median of {runs}, after 1 warm-up)"))
    targets = import_targets(channels)
    measure(targets, runs)
    floor = next(t for t in targets if t.kind == "floor").median
    rows: list[list[Any]] = []
    out: dict[str, Any] = {"runs": runs, "floor_code": FLOOR_CODE, "targets": {}}
    for t in targets:
        if t.kind == "app":  # channels not built yet are listed with the webhooks
            for channel, missing in channels.items():
                if missing:
                    rows.append(
                        [
                            f"webhook {channel}",
                            "-",
                            "-",
                            "",
                            "-",
                            f"<= {WEBHOOK_TARGET_RATIO}x",
                            "not built yet",
                        ]
                    )
                    out["targets"][f"webhook {channel}"] = {
                        "kind": "webhook",
                        "channel": channel,
                        "error": missing,
                    }
        ratio = t.median / floor if (t.median and floor) else None
        target_ratio = {"webhook": WEBHOOK_TARGET_RATIO, "app": APP_TARGET_RATIO}.get(t.kind)
        ok = (ratio <= target_ratio) if (ratio is not None and target_ratio is not None) else None
        target_text = f"<= {target_ratio}x" if target_ratio is not None else ""
        adapter = _ms(t.printed_median(1)) if t.kind in ("webhook", "what-if") else ""
        rows.append(
            [
                t.name,
                _ms(t.median) if not t.error else "error",
                _ms(min(t.samples)) if t.samples else "-",
                adapter,
                f"{ratio:.2f}x" if ratio else "-",
                target_text,
                verdict(ok) if not t.error else "error",
            ]
        )
        out["targets"][t.name] = {
            "kind": t.kind,
            "channel": t.channel,
            "median_s": t.median,
            "samples_s": t.samples,
            "in_process_s": t.printed,
            "ratio_to_floor": ratio,
            "error": t.error,
        }
        if t.kind == "webhook":
            figure = f"{ratio:.2f}x floor (<= {WEBHOOK_TARGET_RATIO}x)" if ratio else "floor not measured"
            summary.add(f"cold start webhook {t.channel}", False if t.error else ok, t.error or figure)
        if t.kind == "app":
            figure = f"{ratio:.2f}x floor (<= {APP_TARGET_RATIO}x)" if ratio else "floor not measured"
            summary.add("cold start core app", False if t.error else ok, t.error or figure)
    print(
        table(
            ["process", "median ms", "min ms", "adapter ms", "vs floor", "target", "verdict"],
            rows,
            right=(1, 2, 3, 4),
        )
    )
    print("  adapter ms: in-process time of chalicelib.channels.get(<channel>) (the first request's import)")
    print("  what-if: the same process with a tracing change applied in the child only (docs/bench.md)")
    for t in targets:
        if t.error:
            print(f"  {t.name}: {t.error}")
    for channel, missing in channels.items():
        if missing:
            print(f"  webhook {channel}: {missing}")

    print(
        heading(
            f"1a'. What the imports cost (python -X importtime, median of {importtime_runs},"
            f" top {TOP_PACKAGES} packages)"
        )
    )
    profiles: dict[str, Any] = {}
    floor_packages: set[str] = set()
    for t in targets:  # the floor comes first: what it imports is the baseline
        if t.kind in ("interpreter", "what-if") or t.error:
            continue
        costs = import_profile(t, importtime_runs)
        if t.kind == "floor":
            floor_packages = {c.package for c in costs}
        top = [c for c in costs if c.package not in OMNIFLOW_PACKAGES][:TOP_PACKAGES]
        extra = sorted((c for c in costs if c.package not in floor_packages), key=lambda c: -c.self_ms)
        total = sum(c.self_ms for c in costs)
        beyond = sum(c.self_ms for c in extra)
        profiles[t.name] = {
            "total_ms": total,
            "beyond_floor_ms": beyond if t.kind != "floor" else None,
            "packages": [c.__dict__ for c in costs[:30]],
        }
        print(f"{t.name}: {total:.0f} ms of imports under -X importtime")
        print(
            table(
                [
                    "  package",
                    "cumulative ms",
                    "self ms",
                    "first imported by (Omniflow module > its import)",
                ],
                [[f"  {c.package}", f"{c.cumulative_ms:.0f}", f"{c.self_ms:.0f}", c.via] for c in top],
                right=(1, 2),
            )
        )
        if t.kind != "floor":
            listed = ", ".join(f"{c.package} {c.self_ms:.0f}" for c in extra[:8])
            print(f"  not in the floor: {beyond:.0f} ms own time: {listed}")
    out["import_profiles"] = profiles
    return out


# ---- 1b ------------------------------------------------------------------------------------------
def _event_argv(path: Path) -> Callable[[int], list[str]]:
    """The child's argv for run ``i``: the events file and which event to send."""
    return lambda i: [str(path), str(i)]


def run_first_request(
    stack: Stack, builders: dict[str, Any], runs: int, seq_base: int, summary: Summary
) -> dict[str, Any]:
    """Init plus one signed delivery through the Lambda handler, against the moto server."""
    print(heading(f"1b. Cold start incl. the first request, against a moto server (median of {runs})"))
    inbound = stack.env["OMNIFLOW_INBOUND_QUEUE_URL"]
    run_id = uuid.uuid4().hex[:12]
    targets = [
        Target(
            "floor + 1 SendMessage",
            "floor",
            _FLOOR_SEND_CODE,
            stack.child_env("bench", "bench"),
            args=lambda i: [stack.endpoint, inbound, f"floor-{run_id}-{i}"],
        )
    ]
    for channel, deliveries in builders.items():
        try:
            events = [deliveries.event(f"cold-{run_id}-{i}", seq_base + i) for i in range(runs + 1)]
        except Exception as exc:  # one broken channel must not hide the others' figures
            summary.add(f"first request webhook {channel}", False, f"building deliveries: {exc}"[:300])
            continue
        path = stack.workdir / f"first-request-{channel}.json"
        path.write_text(json.dumps(events))
        targets.append(
            Target(
                f"webhook {channel}",
                "webhook",
                _FIRST_REQUEST_CODE.format(channel=channel),
                stack.child_env(f"webhook-{channel}", f"omniflow-webhook-{channel}"),
                args=_event_argv(path),
                channel=channel,
            )
        )
    measure(targets, runs)
    floor = targets[0].median
    rows = []
    out: dict[str, Any] = {"runs": runs, "targets": {}}
    for t in targets:
        ratio = t.median / floor if (t.median and floor) else None
        statuses = sorted({int(p[2]) for p in t.printed if len(p) > 2})
        bad = [s for s in statuses if s >= 300]
        if bad and not t.error:
            t.error = f"webhook answered {bad}"
        rows.append(
            [
                t.name,
                _ms(t.median) if not t.error else "error",
                _ms(t.printed_median(0)) if t.kind == "webhook" else "",
                _ms(t.printed_median(1)) if t.kind == "webhook" else "",
                f"{ratio:.2f}x" if ratio else "-",
                ",".join(map(str, statuses)) if statuses else "",
            ]
        )
        out["targets"][t.name] = {
            "kind": t.kind,
            "channel": t.channel,
            "median_s": t.median,
            "samples_s": t.samples,
            "in_process_s": t.printed,
            "ratio_to_floor": ratio,
            "error": t.error,
        }
    print(
        table(
            ["process", "median ms", "init ms", "1st request ms", "vs floor", "HTTP"],
            rows,
            right=(1, 2, 3, 4),
        )
    )
    print("  init / 1st request: measured inside the child; the rest of the wall time is interpreter")
    print("  start-up and exit. The 1st request creates the boto3 clients and fetches the channel secret.")
    for t in targets:
        if t.error:
            print(f"  {t.name}: {t.error}")
            summary.add(f"first request webhook {t.channel}", False, t.error)
    return out
