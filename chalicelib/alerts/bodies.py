"""Request body of the alert rules' admin route."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from chalicelib.analytics.reports import METRICS
from chalicelib.bodies import Body


class AlertRuleBody(Body):
    name: str = Field(min_length=1, max_length=120, description="shown in notifications")
    metric: str = Field(max_length=64, description="an analytics metric (docs/metrics.md)")
    op: Literal[">", ">=", "<", "<="] = Field(description="fires when the value compares so to threshold")
    threshold: float = Field(ge=-1e9, le=1e9)
    clear: float | None = Field(
        default=None,
        ge=-1e9,
        le=1e9,
        description="hysteresis: a firing alert resolves once back across this (default: threshold)",
    )
    window_minutes: int = Field(
        default=15, ge=1, le=1440, description="the value is taken over the last N minutes"
    )
    group: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[\w.:-]+$")
    agent: str | None = Field(default=None, min_length=1, max_length=64, pattern=r"^[\w.@:-]+$")
    channel: str | None = Field(default=None, min_length=1, max_length=32, pattern=r"^[a-z_]+$")
    enabled: bool = True

    @field_validator("metric")
    @classmethod
    def _known(cls, metric: str) -> str:
        if metric not in METRICS:
            raise ValueError(f"unknown metric; one of {', '.join(METRICS)}")
        return metric

    @model_validator(mode="after")
    def _consistent(self) -> AlertRuleBody:
        if self.group and self.agent:
            raise ValueError("filter by group or by agent, not both")
        if self.clear is not None:
            above = self.op in (">", ">=")
            if (above and self.clear > self.threshold) or (not above and self.clear < self.threshold):
                raise ValueError("clear must be on the ok side of threshold")
        return self
