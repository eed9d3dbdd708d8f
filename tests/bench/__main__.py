"""``python -m tests.bench`` (``make bench``): print the figures, write them to .local/bench.json."""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
import warnings
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tests.bench.env import REPO, channel_status, moto_stack
from tests.bench.report import Summary, heading

SECTIONS = (
    "coldstart",
    "awscalls",
    "reads",
    "throughput",
    "assignment",
    "bot",
    "kb",
    "quality",
    "suggest",
    "analytics",
)
# analytics is opt-in (--only analytics): seeding 90 days through moto's TransactWriteItems, which
# deep-copies every table per call, takes longer than the rest of the bench.
DEFAULT_SECTIONS = tuple(s for s in SECTIONS if s != "analytics")
# Disjoint message-number ranges per section: every delivery of a run is a new one.
SEQ_FIRST_REQUEST, SEQ_CALLS, SEQ_THROUGHPUT = 1_000_000, 2_000_000, 3_000_000


def _git_commit() -> str | None:
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True, timeout=10
        )
    except OSError:
        return None
    dirty = subprocess.run(
        ["git", "status", "--porcelain"], cwd=REPO, capture_output=True, text=True, timeout=10
    )
    return proc.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "") if proc.returncode == 0 else None


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.bench", description=__doc__)
    parser.add_argument("--runs", type=int, default=7, help="fresh processes per cold-start figure (>= 7)")
    parser.add_argument(
        "--first-request-runs", type=int, default=3, help="fresh processes per first-request figure"
    )
    parser.add_argument(
        "--importtime-runs", type=int, default=1, help="python -X importtime runs per target (median)"
    )
    parser.add_argument(
        "--messages", type=int, default=200, help="messages per side in the throughput section"
    )
    parser.add_argument(
        "--only",
        default=",".join(DEFAULT_SECTIONS),
        help=f"comma-separated sections to run: {', '.join(SECTIONS)}",
    )
    parser.add_argument(
        "--no-first-request", action="store_true", help="skip the cold start incl. 1st request"
    )
    parser.add_argument("--channels", default="", help="comma-separated channels to measure (default: all)")
    parser.add_argument(
        "--out", type=Path, default=REPO / ".local" / "bench.json", help="where to write JSON"
    )
    args = parser.parse_args(argv)
    args.sections = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = set(args.sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    args.channel_list = [c.strip() for c in args.channels.split(",") if c.strip()]
    return args


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    # pipeline.handle is called without a Lambda context (as in the tests, whose pyproject filter
    # hides the same warning): powertools idempotency then warns once per process.
    warnings.filterwarnings("ignore", message="Couldn.t determine the remaining time left")
    from tests.bench import awscalls, coldstart, throughput
    from tests.bench.deliveries import Deliveries, builder

    started = time.perf_counter()
    load_before = os.getloadavg()
    results: dict[str, Any] = {
        "meta": {
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "python": sys.executable,
            "python_version": platform.python_version(),
            "machine": platform.platform(),
            "cpus": os.cpu_count(),
            "commit": _git_commit(),
            "args": {
                "runs": args.runs,
                "first_request_runs": args.first_request_runs,
                "importtime_runs": args.importtime_runs,
                "channels": args.channel_list or "all",
                "messages": args.messages,
                "sections": args.sections,
            },
        }
    }
    print(f"Omniflow bench: {platform.python_version()} on {os.cpu_count()} CPUs, load {load_before[0]:.1f}")
    summary = Summary()
    status = channel_status()
    if args.channel_list:
        unknown = [c for c in args.channel_list if c not in status]
        for channel in unknown:
            print(f"  channel {channel}: not in chalicelib.channels.CHANNELS")
        status = {c: m for c, m in status.items() if c in args.channel_list}
    for channel, missing in status.items():
        if missing:
            print(f"  channel {channel}: {missing}")
            summary.add(f"channel {channel}", None, missing)

    timings: dict[str, float] = {}

    def timed(name: str, run: Callable[[], dict[str, Any]]) -> None:
        start = time.perf_counter()
        results[name] = run()
        timings[name] = round(time.perf_counter() - start, 1)

    if "coldstart" in args.sections:
        timed("coldstart", lambda: coldstart.run_imports(status, args.runs, args.importtime_runs, summary))

    if "quality" in args.sections:
        from tests.bench import quality

        timed("quality", lambda: quality.run(summary))

    moto_sections = ("awscalls", "reads", "throughput", "assignment", "suggest", "analytics")
    in_process = [s for s in args.sections if s in moto_sections]
    if in_process or ("coldstart" in args.sections and not args.no_first_request):
        with moto_stack() as stack:
            builders: dict[str, Deliveries] = {}
            for channel, missing in status.items():
                if missing is None:
                    made = builder(channel, stack)
                    if isinstance(made, str):
                        print(f"  channel {channel}: {made}")
                        summary.add(f"channel {channel}", None, made)
                    else:
                        builders[channel] = made
            if "coldstart" in args.sections and not args.no_first_request:
                timed(
                    "first_request",
                    lambda: coldstart.run_first_request(
                        stack, builders, args.first_request_runs, SEQ_FIRST_REQUEST, summary
                    ),
                )
            if "awscalls" in args.sections:
                timed("aws_calls", lambda: awscalls.run(stack, builders, SEQ_CALLS, summary))
            if "reads" in args.sections:
                from tests.bench import reads

                timed("reads", lambda: reads.run(stack, summary))
            if "suggest" in args.sections:
                from tests.bench import suggest

                timed("suggest", lambda: suggest.run(summary))
            if "assignment" in args.sections:
                from tests.bench import assignment

                timed("assignment", lambda: assignment.run(summary))
            if "analytics" in args.sections:
                from tests.bench import analytics

                timed("analytics", lambda: analytics.run(summary))
            if "throughput" in args.sections:
                timed(
                    "throughput",
                    lambda: throughput.run(stack, builders, args.messages, SEQ_THROUGHPUT, summary),
                )

    if "bot" in args.sections:  # on the local stack (its own moto server), after the in-process ones
        from tests.bench import bot

        timed("bot_calls", lambda: bot.run_calls(summary))
        timed("bot", lambda: bot.run(summary))

    if "kb" in args.sections:  # in process, with its own moto for publish -> searchable
        from tests.bench import kb

        timed("kb", lambda: kb.run(summary))

    load_after = os.getloadavg()
    results["meta"].update(
        seconds=round(time.perf_counter() - started, 1),
        section_seconds=timings,
        load_before=load_before,
        load_after=load_after,
    )
    results["summary"] = summary.as_json()
    print(heading("Summary"))
    print(summary.render())
    if max(load_before[0], load_after[0]) > (os.cpu_count() or 1):
        print(
            f"  note: load average {load_before[0]:.1f} -> {load_after[0]:.1f} on {os.cpu_count()} CPUs: "
            "other work shared the machine; ratios (same-run, interleaved) hold up better than ms."
        )
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=2, default=str))
    spent = ", ".join(f"{name} {seconds:.0f} s" for name, seconds in timings.items())
    print(f"\n{results['meta']['seconds']:.0f} s ({spent}); figures written to {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
