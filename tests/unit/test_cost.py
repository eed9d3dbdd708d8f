"""``make cost``'s arithmetic: capacity units per DynamoDB request as the bench names them, and
the per-message cost weighted by the mix (a conversation's first message vs the ones after it)."""

from __future__ import annotations

import pytest

from tests.bench.cost import MILLION, PRICES, Mix, capacity_units, per_message


@pytest.mark.parametrize(
    ("request_name", "units"),
    [
        ("GetItem identities", (1.0, 0.0)),
        ("Query queues/by_availability", (1.0, 0.0)),
        ("BatchGetItem [identities x3]", (3.0, 0.0)),
        ("BatchWriteItem [feed x2, audit x1]", (0.0, 3.0)),
        ("TransactWriteItems [Put messages, Put messages, Update conversations]", (0.0, 6.0)),
        ("UpdateItem customers", (0.0, 1.0)),
    ],
)
def test_capacity_units_follow_dynamodbs_billing_rules(request_name, units):
    assert capacity_units(request_name) == units


def calls(requests: list[str], **ops: int) -> dict:
    return {"by_operation": ops, "dynamodb_requests": requests}


def test_the_cost_weights_the_opening_message_and_the_ones_after_it():
    measured = {
        "webhook, steady state": calls([], **{"sqs:SendMessage": 1}),
        "router, new customer": calls(
            ["PutItem a", "PutItem b", "PutItem c", "PutItem d"], **{"stepfunctions:StartExecution": 1}
        ),
        "router, known customer (open conv.)": calls(["PutItem a"]),
    }
    mix = Mix(messages_per_conversation=4, breached_share=0.0, log_kb_per_message=0)
    costs = per_message(measured, mix)
    # (1/4) * 4 writes + (3/4) * 1 write = 1.75 write units a message
    assert costs["DynamoDB writes"] * MILLION == pytest.approx(1.75 * PRICES["dynamodb_wru"] * MILLION)
    # one clock per conversation, stopped by the first reply: one transition
    assert costs["Step Functions"] == pytest.approx(0.25 * PRICES["sfn_standard_transition"])
    assert costs["CloudWatch Logs"] == 0
    bot = per_message(measured, Mix(messages_per_conversation=4, breached_share=0.0, clockless_share=0.5))
    assert bot["Step Functions"] == pytest.approx(costs["Step Functions"] / 2)
