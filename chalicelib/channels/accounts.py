"""Channel accounts as admins manage them: write an account's credentials into the channel's secret
(``omniflow/<stage>/channels/<channel>``, ``{"<account>": {field: value}}``) and list which accounts
and field NAMES are configured. Values are write-only: nothing here returns or logs one.

A write is a compare-and-swap on the secret: the new JSON is stored as a version without the
``AWSCURRENT`` label, then ``UpdateSecretVersionStage`` moves ``AWSCURRENT`` from the version that
was read to the new one, which Secrets Manager refuses if another writer moved it meanwhile; the
write is then redone on top of theirs (a few times, then 409). So two admins editing different
accounts of one channel never lose each other's change.

Readers name the stage (``VersionStage="AWSCURRENT"``): on AWS that is the default, but moto's
unqualified GetSecretValue keeps answering the version last written with ``PutSecretValue``.

Only the API calls this module (the webhooks read credentials through ``credentials``).
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Annotated
from typing import Any

from botocore.exceptions import ClientError
from pydantic import Field
from pydantic import RootModel
from pydantic import StringConstraints

from chalicelib import channels
from chalicelib.audit import service as audit
from chalicelib.aws import client
from chalicelib.channels import credentials
from chalicelib.channels.base import NotFound as UnknownChannel
from chalicelib.config import settings
from chalicelib.errors import Invalid
from chalicelib.errors import NotFound
from chalicelib.versions import VersionConflict

ACCOUNT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
FIELD_PATTERN = r"^[a-z][a-z0-9_]{0,63}$"
PENDING_STAGE = "omniflow-pending"  # label of a written version until it wins AWSCURRENT
ATTEMPTS = 4

# Fields the adapters read when present, beyond their required ``credential_fields``
# (``templates``: approved templates any channel may list, see ``ChannelAdapter.templates``).
OPTIONAL_FIELDS: dict[str, tuple[str, ...]] = {
    "app": ("callback_key", "callback_url"),
    "email": ("from_name",),
    "sms": ("messaging_service_sid",),
    "web": ("allowed_origins",),
    "wechat": ("aes_key",),
}
COMMON_OPTIONAL = ("templates",)

FieldName = Annotated[str, StringConstraints(pattern=FIELD_PATTERN)]
FieldValue = Annotated[str, StringConstraints(min_length=1, max_length=8192)]


class ChannelAccountBody(
    RootModel[Annotated[dict[FieldName, FieldValue], Field(min_length=1, max_length=30)]]
):
    """The account's credential fields, each a string (JSON text for structured ones such as
    ``templates`` or the app channel's ``keys``). Given fields replace stored ones; fields not given
    keep their stored value."""


def required_fields(channel: str) -> tuple[str, ...]:
    return tuple(_adapter(channel).credential_fields)


def known_fields(channel: str) -> tuple[str, ...]:
    """Every field name the channel's adapter reads (required first); empty = not declared."""
    required = required_fields(channel)
    if not required:
        return ()
    return required + tuple(
        f for f in OPTIONAL_FIELDS.get(channel, ()) + COMMON_OPTIONAL if f not in required
    )


def _adapter(channel: str) -> Any:
    try:
        return channels.get(channel)
    except UnknownChannel as exc:
        raise NotFound(f"channel {channel}") from exc


def _read(channel: str) -> tuple[str | None, dict[str, Any]]:
    """(AWSCURRENT version id, accounts) of the channel's secret; (None, {}) when it does not exist."""
    try:
        got = client("secretsmanager").get_secret_value(
            SecretId=settings().secret_name(channel), VersionStage="AWSCURRENT"
        )
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
            return None, {}
        raise
    try:
        data = json.loads(got.get("SecretString") or "{}")
    except ValueError:
        data = {}  # not JSON: the first write replaces it
    return str(got["VersionId"]), data if isinstance(data, dict) else {}


def list_channels() -> list[dict[str, Any]]:
    """Every channel with its configured accounts and their field names (never values)."""
    out: list[dict[str, Any]] = []
    for name in channels.CHANNELS:
        required = required_fields(name)
        _, data = _read(name)
        accounts = []
        for account, fields in sorted(data.items()):
            names = sorted(fields) if isinstance(fields, dict) else []
            accounts.append(
                {"account": account, "fields": names, "missing": [f for f in required if f not in names]}
            )
        out.append(
            {
                "channel": name,
                "webhook": name not in channels.WITHOUT_WEBHOOK,
                "required_fields": list(required),
                "known_fields": list(known_fields(name)),
                "secret_name": settings().secret_name(name),
                "accounts": accounts,
            }
        )
    return out


def put_account(channel: str, account: str, fields: dict[str, str], actor: str) -> dict[str, Any]:
    """Merge ``fields`` into ``account``'s credentials (creating the account or the secret if
    needed) and answer the account's field names. 404 unknown channel; 400 bad account name,
    unknown field, or a required field still missing; 409 if the secret kept moving."""
    if not ACCOUNT.match(account):
        raise Invalid("account: 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit")
    known = known_fields(channel)
    unknown = sorted(f for f in fields if known and f not in known)
    if unknown:
        raise Invalid(f"unknown field(s) for {channel}: {', '.join(unknown)}; known: {', '.join(known)}")
    if not fields:
        raise Invalid("give at least one field")
    required = required_fields(channel)
    sm = client("secretsmanager")
    secret = settings().secret_name(channel)
    for _ in range(ATTEMPTS):
        version, data = _read(channel)
        stored = data.get(account)
        merged = {**(stored if isinstance(stored, dict) else {}), **fields}
        missing = [f for f in required if f not in merged]
        if missing:
            raise Invalid(f"missing required field(s) for {channel}: {', '.join(missing)}")
        text = json.dumps({**data, account: merged}, ensure_ascii=False)
        token = str(uuid.uuid4())
        if version is None:
            try:
                sm.create_secret(Name=secret, SecretString=text, ClientRequestToken=token)
            except ClientError as exc:
                if _code(exc) == "ResourceExistsException":
                    continue  # created meanwhile: merge into it
                raise
        else:
            sm.put_secret_value(
                SecretId=secret, SecretString=text, ClientRequestToken=token, VersionStages=[PENDING_STAGE]
            )
            try:
                sm.update_secret_version_stage(
                    SecretId=secret,
                    VersionStage="AWSCURRENT",
                    MoveToVersionId=token,
                    RemoveFromVersionId=version,
                )
            except ClientError as exc:
                if _code(exc) == "InvalidParameterException":
                    continue  # AWSCURRENT moved since the read: redo on top of the newer version
                raise
        break
    else:
        raise VersionConflict(f"the {channel} secret kept changing: retry")
    credentials.reset()  # this instance reads the new value now; others within credentials.MAX_AGE
    created = not isinstance(stored, dict)
    audit.record(
        f"channel#{channel}",
        actor,
        "channel_account.create" if created else "channel_account.update",
        {"account": account, "fields": sorted(fields)},  # names only, never values
    )
    return {
        "channel": channel,
        "account": account,
        "fields": sorted(merged),
        "created": created,
        "max_age_seconds": credentials.MAX_AGE,
    }


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
