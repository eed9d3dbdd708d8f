"""Alert rules' pure parts: hysteresis (fire once past the threshold, resolve once back across the
clear value) and the rule body's checks."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from chalicelib.alerts.bodies import AlertRuleBody
from chalicelib.alerts.service import decide


class Rule:
    def __init__(self, op: str, threshold: float, clear: float, state: str = "ok") -> None:
        self.op, self.threshold, self.clear, self.state = op, threshold, clear, state


def test_an_ok_rule_fires_only_past_its_threshold() -> None:
    rule = Rule(">", 0.15, 0.10)
    assert decide(rule, 0.15) is None  # type: ignore[arg-type]
    assert decide(rule, 0.16) == "fired"  # type: ignore[arg-type]
    assert decide(rule, None) is None  # type: ignore[arg-type]  # no data: no change


def test_a_firing_rule_resolves_only_back_across_its_clear_value() -> None:
    rule = Rule(">", 0.15, 0.10, state="firing")
    for still in (0.2, 0.15, 0.12, 0.10):
        assert decide(rule, still) is None, still  # type: ignore[arg-type]
    assert decide(rule, 0.09) == "resolved"  # type: ignore[arg-type]
    low = Rule("<", 4.0, 4.2, state="firing")  # "CSAT < 4.0", resolves at 4.2 or more... above 4.2
    assert decide(low, 4.1) is None and decide(low, 4.2) is None  # type: ignore[arg-type]
    assert decide(low, 4.3) == "resolved"  # type: ignore[arg-type]


def test_a_rule_body_refuses_unknown_metrics_both_filters_and_a_clear_on_the_wrong_side() -> None:
    ok = AlertRuleBody(name="slow", metric="first_response_p90_s", op=">", threshold=120, clear=90)
    assert ok.window_minutes == 15
    for bad in (
        {"metric": "nope"},
        {"group": "g", "agent": "a"},
        {"clear": 130},
        {"window_minutes": 0},
        {"op": "=="},
    ):
        with pytest.raises(ValidationError):
            AlertRuleBody.model_validate(
                {"name": "slow", "metric": "first_response_p90_s", "op": ">", "threshold": 120} | bad
            )
