"""Shapes of the orders connector (pydantic): its configuration, as stored in Secrets Manager, and
the company's answer. Parsing is lenient where shops differ harmlessly (extra fields, numbers for
order numbers, naive timestamps) and strict where it matters (an order needs a number)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, HttpUrl, SecretStr, field_serializer, field_validator

from chalicelib.messages import iso

UNAVAILABLE = "orders service unavailable"


class ConnectorConfig(BaseModel):
    """``omniflow/<stage>/connectors/orders``: where the company's order API is and how to sign in.
    ``auth_value`` is a ``SecretStr``: it never shows in a repr, a log line or a dump."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    url: HttpUrl
    auth_header: str | None = Field(default=None, pattern=r"^[A-Za-z0-9][A-Za-z0-9-]{0,63}$")
    auth_value: SecretStr | None = None
    timeout_seconds: float = Field(default=3.0, gt=0, le=10)

    def headers(self) -> dict[str, str]:
        out = {"Accept": "application/json"}
        if self.auth_header and self.auth_value is not None:
            out[self.auth_header] = self.auth_value.get_secret_value()
        return out


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, coerce_numbers_to_str=True)


class OrderItem(_Lenient):
    name: str | None = Field(default=None, max_length=300)
    sku: str | None = Field(default=None, max_length=100)
    quantity: int = Field(default=1, ge=0)
    price: Decimal | None = None


class Tracking(_Lenient):
    carrier: str | None = Field(default=None, max_length=100)
    number: str | None = Field(default=None, max_length=100)
    status: str | None = Field(default=None, max_length=100)


class Order(_Lenient):
    number: str = Field(min_length=1, max_length=100)
    status: str | None = Field(default=None, max_length=100)
    total: Decimal | None = None  # shown as a string ("129.00"): money is never a float
    currency: str | None = Field(default=None, max_length=10)
    placed_at: datetime | None = None
    items: list[OrderItem] = Field(default_factory=list, max_length=200)
    tracking: Tracking | None = None

    @field_validator("placed_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)

    @field_serializer("placed_at")
    def _iso(self, value: datetime | None) -> str | None:
        return iso(value) if value is not None else None

    def total_text(self) -> str | None:
        if self.total is None:
            return None
        return f"{self.total} {self.currency}" if self.currency else str(self.total)


@dataclass(frozen=True)
class OrderQuery:
    """Who the orders belong to, as the company knows them."""

    phones: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    customer_ids: tuple[str, ...] = ()  # the company's own user ids (verified external ids)

    def params(self) -> list[tuple[str, str]]:
        return [
            *(("phone", p) for p in self.phones),
            *(("email", e) for e in self.emails),
            *(("customer_id", c) for c in self.customer_ids),
        ]


@dataclass(frozen=True)
class OrdersAnswer:
    """What the console gets: the orders, or none with an error — never an exception."""

    orders: tuple[Order, ...] = ()
    reason: str | None = (
        None  # not_configured | misconfigured | timeout | unreachable | http_<n> | bad_response
    )
    skipped: int = field(default=0)  # orders in the answer that could not be read

    @property
    def error(self) -> str | None:
        return UNAVAILABLE if self.reason else None

    def latest(self) -> Order | None:
        dated = [o for o in self.orders if o.placed_at is not None]
        if dated:
            return max(dated, key=lambda o: o.placed_at or datetime.min.replace(tzinfo=UTC))
        return self.orders[0] if self.orders else None

    def find(self, number: str) -> Order | None:
        return next((o for o in self.orders if o.number == number), None)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"orders": [o.model_dump(mode="json") for o in self.orders]}
        if self.reason:
            out["error"] = UNAVAILABLE
            out["reason"] = self.reason
        return out
