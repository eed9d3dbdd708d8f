"""The CRM/ERP connector: the orders connector generalised to any company system that can look a
contact up by phone, e-mail or the company's own id, configured per account in Secrets Manager
(``omniflow/<stage>/connectors/crm/<account>``)::

    {"url": "https://crm.example.com/api/contacts/search",
     "auth_header": "Authorization", "auth_value": "Bearer …", "timeout_seconds": 3,
     "lookup": {"phone": "mobile", "email": "mail", "external_id": "id"},
     "records": "data.items",
     "fields": {"external_id": "id", "name": "fullName", "tier": "level.name", "owner": "owner.email"}}

``lookup`` names the query parameter each kind of identifier is sent as (a kind left out is never
sent); ``records`` is the dotted path of the list of contacts in the answer (empty: the answer is
the list, or one contact); ``fields`` maps each of our contact fields to a dotted path in a record.
Like the orders connector it sits on the agent's screen path: unconfigured, slow, down or talking
nonsense, it answers ``{"contacts": [], "error": …, "reason": …}``, never an error, and logs the
reason only (no URL query, identifier or credential)."""

from __future__ import annotations

import json
from functools import lru_cache
from typing import Any, Literal

from pydantic import Field, ValidationError

from chalicelib.aws import client
from chalicelib.config import settings
from chalicelib.errors import Invalid, NotFound
from chalicelib.identity import service as identity
from chalicelib.observability import logger
from chalicelib.orders.models import ConnectorConfig
from chalicelib.orders.service import MAX_AGE, Unavailable, fetch

UNAVAILABLE = "CRM unavailable"
MAX_CONTACTS = 20
Kind = Literal["phone", "email", "external_id"]
ContactField = Literal["external_id", "name", "email", "phone", "company", "tier", "owner", "tags", "url"]
Path = str
DEFAULT_LOOKUP: dict[Kind, str] = {"phone": "phone", "email": "email", "external_id": "external_id"}
DEFAULT_FIELDS: dict[ContactField, str] = {
    "external_id": "id",
    "name": "name",
    "email": "email",
    "phone": "phone",
}


class CrmConfig(ConnectorConfig):
    lookup: dict[Kind, str] = Field(
        default_factory=lambda: dict(DEFAULT_LOOKUP),
        min_length=1,
        description="the query parameter each kind of identifier is sent as",
    )
    records: Path = Field(default="contacts", max_length=200, pattern=r"^$|^[A-Za-z0-9_.-]+$")
    fields: dict[ContactField, Path] = Field(
        default_factory=lambda: dict(DEFAULT_FIELDS),
        min_length=1,
    )


def secret_name(account: str) -> str:
    return f"omniflow/{settings().stage}/connectors/crm/{account}"


@lru_cache(maxsize=1)
def _provider() -> Any:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return SecretsProvider(boto3_client=client("secretsmanager"))


def reset() -> None:
    _provider.cache_clear()


def parse_config(raw: Any) -> CrmConfig:
    """The account's configuration from its secret's JSON; ``Invalid`` naming the bad fields only
    (the input may hold the auth value). Pure."""
    if not isinstance(raw, dict):
        raise Invalid("the CRM connector secret must be a JSON object")
    try:
        config = CrmConfig.model_validate(raw)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
        raise Invalid(f"invalid CRM connector config: {', '.join(fields)}") from None
    if bool(config.auth_header) != (config.auth_value is not None):
        raise Invalid("invalid CRM connector config: auth_header and auth_value go together")
    return config


def config_of(account: str) -> CrmConfig:
    from aws_lambda_powertools.utilities.parameters.exceptions import (
        GetParameterError,
        TransformParameterError,
    )

    try:
        raw = _provider().get(secret_name(account), transform="json", max_age=MAX_AGE)
    except GetParameterError as exc:
        raise Unavailable("not_configured") from exc
    except TransformParameterError as exc:
        raise Unavailable("misconfigured") from exc
    try:
        return parse_config(raw)
    except ValueError as exc:
        logger.warning("CRM connector misconfigured", extra={"account": account, "problem": str(exc)})
        raise Unavailable("misconfigured") from exc


def _at(node: Any, path: str) -> Any:
    """The value at a dotted path (``level.name``, ``phones.0``), None where it stops. Pure."""
    for part in [p for p in path.split(".") if p]:
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def map_contacts(payload: Any, config: CrmConfig) -> list[dict[str, Any]]:
    """Our contacts from the system's answer, through ``records`` and ``fields``; ``Invalid`` when
    there is no list (or record) where ``records`` points. Scalars become text, lists of scalars
    lists of text; anything else in a field is left out. Pure."""
    found = _at(payload, config.records) if config.records else payload
    if isinstance(found, dict):
        found = [found]
    if not isinstance(found, list):
        raise Invalid("no contact list where the configuration says")
    contacts = []
    for record in found[:MAX_CONTACTS]:
        if not isinstance(record, dict):
            continue
        contact: dict[str, Any] = {}
        for ours, path in config.fields.items():
            value = _at(record, path)
            if isinstance(value, (str, int, float)) and not isinstance(value, bool):
                contact[ours] = str(value)[:500]
            elif isinstance(value, list) and all(isinstance(v, (str, int)) for v in value):
                contact[ours] = [str(v)[:100] for v in value[:50]]
        if contact:
            contacts.append(contact)
    return contacts


def lookup(account: str, identifiers: list[tuple[Kind, str]]) -> dict[str, Any]:
    """The account's contacts for the first identifier (in the order given) that finds any; one
    call per identifier tried; degraded, never raising, when the system cannot answer."""
    answer: dict[str, Any] = {"account": account, "contacts": [], "matched_by": None}
    try:
        config = config_of(account)
        for kind, value in identifiers:
            param = config.lookup.get(kind)
            if not param:
                continue
            try:
                contacts = map_contacts(json.loads(fetch(config, [(param, value)])), config)
            except ValueError as exc:  # JSONDecodeError and Invalid are ValueErrors
                raise Unavailable("bad_response") from exc
            if contacts:
                return {**answer, "contacts": contacts, "matched_by": kind}
    except Unavailable as exc:
        reason = str(exc.args[0])
        logger.warning("CRM connector unavailable", extra={"account": account, "reason": reason})
        return {**answer, "error": UNAVAILABLE, "reason": reason}
    return answer


def contacts_of(customer_id: str, account: str) -> dict[str, Any]:
    """``GET /customers/{id}/crm?account=``: the CRM's record of this customer, looked up by their
    company ids, then verified phones, then e-mails. ``NotFound`` for an unknown customer."""
    from pynamodb.exceptions import DoesNotExist

    try:
        customer = identity.get_customer(customer_id)
    except DoesNotExist as exc:
        raise NotFound(f"customer {customer_id}") from exc
    external = [
        i.identity_key.split("#", 2)[2]
        for i in identity.identities_of(customer.customer_id)
        if i.kind == "external_id" and i.identity_key.count("#") >= 2
    ]
    identifiers: list[tuple[Kind, str]] = [("external_id", x) for x in dict.fromkeys(external)]
    identifiers += [("phone", p) for p in sorted(customer.phones or ())]
    identifiers += [("email", e) for e in sorted(customer.emails or ())]
    return lookup(account, identifiers[:6])
