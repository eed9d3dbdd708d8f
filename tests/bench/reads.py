"""Section "DynamoDB requests per API action": one read per fact, counted.

The actions agents take most (``tests/support/agent_actions.py``: inbox page, conversation view,
claim, reply, note, customer 360, ticket from conversation, ticket patch, public ticket comment,
transfer, close), each one HTTP request through the Chalice app on moto. Beside its DynamoDB
requests, the number of distinct items it touched (read or written; ``tests/support/ddbcount.py``
says how an item is named). Target: requests <= distinct items for every action — no item fetched
twice, no request for nothing. tests/integration/test_reads_per_action.py asserts the same.
"""

from __future__ import annotations

from typing import Any

from tests.bench.env import Stack
from tests.bench.report import Summary, heading, table, verdict
from tests.support.agent_actions import measure, signed_in
from tests.support.ddbcount import DynamoCounter


def run(stack: Stack, summary: Summary) -> dict[str, Any]:
    print(heading("DynamoDB requests per API action (one read per fact)"))
    counter = DynamoCounter()
    counter.install()
    try:
        with signed_in(stack.env["OMNIFLOW_USER_POOL_ID"]) as session:
            rows = measure(session, counter, tag="9")
    except Exception as exc:  # the figures of a broken story are none: say why
        summary.add("requests per API action", False, f"{type(exc).__name__}: {exc}"[:300])
        return {"error": str(exc)}
    finally:
        counter.uninstall()
    printed: list[list[Any]] = []
    out: dict[str, Any] = {}
    for r in rows:
        t = r.tally
        printed.append(
            [r.action, r.request, t.total, t.distinct, verdict(r.at_target), len(t.reread()), t.breakdown()]
        )
        out[r.action] = {
            "request": r.request,
            "status": r.status,
            "dynamodb_requests": t.total,
            "distinct_items": t.distinct,
            "items_fetched_twice": len(t.reread()),
            "by_operation": dict(t.requests),
        }
    print(
        table(
            [
                "action",
                "request",
                "ddb requests",
                "distinct items",
                "req <= items",
                "re-read",
                "by operation",
            ],
            printed,
            right=(2, 3, 5),
        )
    )
    missed = [r.action for r in rows if not r.at_target]
    summary.add(
        "DynamoDB requests <= distinct items, per action",
        not missed,
        f"{len(rows) - len(missed)}/{len(rows)} actions at target"
        + (f"; over: {', '.join(missed)}" if missed else ""),
    )
    return out
