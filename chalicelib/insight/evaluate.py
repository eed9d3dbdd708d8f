"""Precision and recall of the auto-tags per tag on a labelled set (``make eval-tags``).

    python -m chalicelib.insight.evaluate                 # tests/data/tags/conversations.jsonl
    python -m chalicelib.insight.evaluate --data FILE     # another labelled file (JSON lines)
    python -m chalicelib.insight.evaluate --errors        # also list every miss and false tag

One ``{"id", "lang", "messages": [text, ...], "orders": {order_count, total_spent} | absent,
"tags": [...]}`` per line: the tags a human would set (an empty list for the many that deserve none).
Offline tooling, not on any request path.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from chalicelib.insight.tags import TAGS, Message, OrderFacts, infer

DATA = Path(__file__).resolve().parents[2] / "tests" / "data" / "tags" / "conversations.jsonl"


def evaluate(path: Path, errors: bool = False) -> dict[str, dict[str, float]]:
    tp = dict.fromkeys(TAGS, 0)
    fp = dict.fromkeys(TAGS, 0)
    fn = dict.fromkeys(TAGS, 0)
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        case = json.loads(line)
        orders = OrderFacts(**case["orders"]) if case.get("orders") else None
        messages = [Message(text, f"{case['id']}-{i}") for i, text in enumerate(case["messages"])]
        got = {t.tag: t for t in infer(messages, orders)}
        want = set(case["tags"])
        for tag in TAGS:
            if tag in got and tag in want:
                tp[tag] += 1
            elif tag in got:
                fp[tag] += 1
                if errors:
                    print(f"  false {tag:20} {case['id']}: {[r.phrase for r in got[tag].reasons]}")
            elif tag in want:
                fn[tag] += 1
                if errors:
                    print(f"  missed {tag:19} {case['id']}")
    figures = {}
    for tag in (*TAGS, "all"):
        t, f, n = (sum(d.values()) for d in (tp, fp, fn)) if tag == "all" else (tp[tag], fp[tag], fn[tag])
        figures[tag] = {
            "precision": t / (t + f) if t + f else 1.0,
            "recall": t / (t + n) if t + n else 1.0,
            "support": float(t + n),
            "false": float(f),
        }
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--errors", action="store_true")
    args = parser.parse_args()
    figures = evaluate(args.data, args.errors)
    print(f"{args.data.name}:")
    print(f"{'tag':22}{'precision':>10}{'recall':>8}{'support':>9}{'false':>7}")
    for tag, f in figures.items():
        print(f"{tag:22}{f['precision']:>10.1%}{f['recall']:>8.1%}{int(f['support']):>9}{int(f['false']):>7}")


if __name__ == "__main__":
    main()
