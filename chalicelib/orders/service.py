"""The orders connector: a customer's orders from the company's own order API.

Configured in Secrets Manager (``omniflow/<stage>/connectors/orders``)::

    {"url": "https://shop.example/api/orders", "auth_header": "Authorization",
     "auth_value": "Bearer …", "timeout_seconds": 3}

read through powertools Parameters (cached per Lambda instance for ``MAX_AGE``), as the channel
credentials are. A lookup is ``GET <url>?phone=…&email=…&customer_id=…`` (one parameter per known
verified phone, e-mail and company user id) answering
``{"orders": [{number, status, total, currency, placed_at, items, tracking}]}``.

The connector sits on the agent's screen path, so it never fails the request: unconfigured, slow,
down or answering garbage, the answer is ``{"orders": [], "error": "orders service unavailable",
"reason": …}``. Logs carry the reason only — never the URL's query (phones, e-mails) nor the
auth value. Redirects are not followed: they would carry the auth header to another host.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from pydantic import ValidationError

from chalicelib.aws import client
from chalicelib.config import settings
from chalicelib.errors import Invalid, NotFound
from chalicelib.identity import service as identity
from chalicelib.identity.models import Customer, Identity
from chalicelib.observability import logger
from chalicelib.orders.models import ConnectorConfig, Order, OrderQuery, OrdersAnswer

MAX_AGE = 300  # seconds a fetched config is reused by a warm Lambda
MAX_BYTES = 1024 * 1024  # a bigger answer is not an order list
MAX_ORDERS = 50


class Unavailable(Exception):
    """The connector cannot answer; ``args[0]`` is the reason shown to the console."""


def secret_name() -> str:
    return f"omniflow/{settings().stage}/connectors/orders"


# ---- configuration --------------------------------------------------------------------------------
@lru_cache(maxsize=1)
def _provider() -> Any:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return SecretsProvider(boto3_client=client("secretsmanager"))


def parse_config(raw: Any) -> ConnectorConfig:
    """The connector configuration from the secret's JSON; ValueError if unusable. Pure."""
    if not isinstance(raw, dict):
        raise Invalid("the orders connector secret must be a JSON object")
    try:
        config = ConnectorConfig.model_validate(raw)
    except ValidationError as exc:
        # Field names only: the input (which may hold the auth value) stays out of the message.
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
        raise Invalid(f"invalid orders connector config: {', '.join(fields)}") from None
    if bool(config.auth_header) != (config.auth_value is not None):
        raise Invalid("invalid orders connector config: auth_header and auth_value go together")
    return config


def connector_config() -> ConnectorConfig:
    """The current configuration; ``Unavailable`` if there is none or it is unusable."""
    from aws_lambda_powertools.utilities.parameters.exceptions import (
        GetParameterError,
        TransformParameterError,
    )

    try:
        raw = _provider().get(secret_name(), transform="json", max_age=MAX_AGE)
    except GetParameterError as exc:
        raise Unavailable("not_configured") from exc
    except TransformParameterError as exc:
        raise Unavailable("misconfigured") from exc
    try:
        return parse_config(raw)
    except ValueError as exc:
        logger.warning("orders connector misconfigured", extra={"problem": str(exc)})
        raise Unavailable("misconfigured") from exc


def reset() -> None:
    """Forget the cached configuration and HTTP session (tests; a rotated secret)."""
    _provider.cache_clear()
    _session.cache_clear()


# ---- the lookup -----------------------------------------------------------------------------------
def parse_orders(payload: Any) -> tuple[list[Order], int]:
    """(orders newest first, how many were unreadable) from the company's answer. ValueError if
    the answer is not ``{"orders": [...]}`` at all. One malformed order is skipped, not fatal. Pure."""
    if not isinstance(payload, dict) or not isinstance(payload.get("orders"), list):
        raise Invalid('expected {"orders": [...]}')
    orders: list[Order] = []
    skipped = 0
    for raw in payload["orders"]:
        try:
            orders.append(Order.model_validate(raw))
        except ValidationError:
            skipped += 1
    orders.sort(key=lambda o: o.placed_at.isoformat() if o.placed_at else "", reverse=True)
    return orders[:MAX_ORDERS], skipped


@lru_cache(maxsize=1)
def _session() -> Any:
    import requests

    return requests.Session()  # keeps the connection alive across warm invocations


def fetch(config: ConnectorConfig, params: list[tuple[str, str]]) -> bytes:
    """One GET of a company API (the orders and CRM connectors): the raw answer within
    ``timeout_seconds`` overall (not only per socket read); ``Unavailable`` with a reason that
    names no URL, query or credential."""
    import requests

    deadline = time.monotonic() + config.timeout_seconds
    try:
        with _session().get(
            str(config.url),
            params=params,
            headers=config.headers(),
            timeout=(config.timeout_seconds, config.timeout_seconds),
            allow_redirects=False,
            stream=True,
        ) as response:
            if response.status_code != 200:
                raise Unavailable(f"http_{response.status_code}")
            chunks, size = [], 0
            for chunk in response.iter_content(64 * 1024):
                size += len(chunk)
                if size > MAX_BYTES:
                    raise Unavailable("bad_response")
                if time.monotonic() > deadline:
                    raise Unavailable("timeout")
                chunks.append(chunk)
            return b"".join(chunks)
    except requests.Timeout as exc:
        raise Unavailable("timeout") from exc
    except requests.RequestException as exc:
        # The exception text can hold the URL with its query (phones, e-mails): keep it out.
        raise Unavailable("unreachable") from exc


def lookup(query: OrderQuery) -> OrdersAnswer:
    """The orders of whoever ``query`` describes; degraded (never raising) when the connector
    cannot answer. No identifiers, no call."""
    if not query.params():
        return OrdersAnswer()
    import json

    try:
        config = connector_config()
        raw = fetch(config, query.params())
        try:
            orders, skipped = parse_orders(json.loads(raw))
        except ValueError as exc:  # JSONDecodeError is a ValueError
            raise Unavailable("bad_response") from exc
    except Unavailable as exc:
        reason = str(exc.args[0])
        logger.warning("orders connector unavailable", extra={"reason": reason})
        return OrdersAnswer(reason=reason)
    if skipped:
        logger.warning("orders connector: unreadable orders skipped", extra={"skipped": skipped})
    return OrdersAnswer(tuple(orders), skipped=skipped)


def query_for(customer: Customer, identities: Iterable[Identity] | None = None) -> OrderQuery:
    """How the company can recognise this customer: verified phones and e-mails, and the company
    user ids that signed-in channels (web, app) vouched for. ``identities``: the customer's, when
    the caller has them already (one Query fewer)."""
    external = sorted(
        i.identity_key.split("#", 2)[2]
        for i in (identity.identities_of(customer.customer_id) if identities is None else identities)
        if i.kind == "external_id" and i.identity_key.count("#") >= 2
    )
    return OrderQuery(
        phones=tuple(sorted(customer.phones or ())),
        emails=tuple(sorted(customer.emails or ())),
        customer_ids=tuple(dict.fromkeys(external)),
    )


def orders_for(customer: Customer, identities: Iterable[Identity] | None = None) -> OrdersAnswer:
    return lookup(query_for(customer, identities))


def orders_of(customer_id: str) -> dict[str, Any]:
    """``GET /customers/{id}/orders``: the customer's orders (following merges), or the degraded
    answer. KeyError if there is no such customer."""
    from pynamodb.exceptions import DoesNotExist

    try:
        customer = identity.get_customer(customer_id)
    except DoesNotExist as exc:
        raise NotFound(f"customer {customer_id}") from exc
    return orders_for(customer).to_json()
