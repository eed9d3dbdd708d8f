"""Evaluate phrase matching through disguise (``make eval-quality``).

    python -m chalicelib.quality.evaluate                     # the repo's set
    python -m chalicelib.quality.evaluate --data DIR          # another set of the same shape
    python -m chalicelib.quality.evaluate --errors            # list every miss and false alarm

A set is a directory with ``rules.json`` (``{"rules": [...]}``, the PUT body's rules),
``hits.jsonl`` (``{"text", "rule"}``: a disguised phrase the rule must flag) and ``clean.jsonl``
(``{"text"}``: ordinary text sharing characters or words with a phrase, which nothing may flag).
Prints recall on hits (the right rule flagged), false alarms on clean texts, and per disguise.
Offline tooling, not on any request path.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from chalicelib.quality.rules import QualityRuleSet, check

DATA_DIR = Path(__file__).resolve().parents[2] / "tests" / "data" / "quality"


def load(directory: Path) -> tuple[QualityRuleSet, list[dict[str, Any]], list[dict[str, Any]]]:
    rules = json.loads((directory / "rules.json").read_text(encoding="utf-8"))["rules"]

    def lines(name: str) -> list[dict[str, Any]]:
        path = directory / name
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]

    return QualityRuleSet(version=1, rules=rules), lines("hits.jsonl"), lines("clean.jsonl")


def evaluate(directory: Path) -> dict[str, Any]:
    rule_set, hits, clean = load(directory)
    missed: list[dict[str, Any]] = []
    by_disguise: Counter[str] = Counter()
    found_by_disguise: Counter[str] = Counter()
    for case in hits:
        disguise = case.get("disguise", "-")
        by_disguise[disguise] += 1
        flagged = {v.rule_id for v in check(rule_set, case["text"])}
        if case["rule"] in flagged:
            found_by_disguise[disguise] += 1
        else:
            missed.append(case)
    alarms = []
    for case in clean:
        violations = check(rule_set, case["text"])
        if violations:
            spans = [(v.rule_id, case["text"][v.start : v.end]) for v in violations]
            alarms.append({**case, "flagged": spans})
    return {
        "hits": len(hits),
        "found": len(hits) - len(missed),
        "recall": (len(hits) - len(missed)) / len(hits) if hits else 0.0,
        "clean": len(clean),
        "false_alarms": len(alarms),
        "by_disguise": {d: (found_by_disguise[d], n) for d, n in sorted(by_disguise.items())},
        "missed": missed,
        "alarms": alarms,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA_DIR)
    parser.add_argument("--errors", action="store_true", help="list every miss and false alarm")
    args = parser.parse_args(argv)
    r = evaluate(args.data)
    print(f"disguise set: {args.data}")
    print(f"  recall        {r['found']}/{r['hits']} = {r['recall']:.1%}   (target >= 95%)")
    print(f"  false alarms  {r['false_alarms']}/{r['clean']}   (target 0)")
    print("  by disguise:   " + ", ".join(f"{d} {f}/{n}" for d, (f, n) in r["by_disguise"].items()))
    if args.errors or r["missed"] or r["alarms"]:
        for case in r["missed"]:
            print(f"  MISSED  [{case['rule']}] {case['text']!r}")
        for case in r["alarms"]:
            print(f"  ALARM   {case['flagged']} in {case['text']!r}")
    return 0 if r["recall"] >= 0.95 and r["false_alarms"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
