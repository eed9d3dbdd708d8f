"""Channel credentials from Secrets Manager (``omniflow/<stage>/channels/<channel>``), read through
powertools Parameters so each Lambda instance fetches a secret at most once per ``MAX_AGE``.

A channel's secret is a JSON object keyed by account: ``{"default": {"token": ...}, "shop2": {...}}``.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

from chalicelib.aws import client
from chalicelib.channels.base import NotFound
from chalicelib.config import settings

MAX_AGE = 300


@lru_cache(maxsize=1)
def _provider() -> Any:
    from aws_lambda_powertools.utilities.parameters import SecretsProvider

    return SecretsProvider(boto3_client=client("secretsmanager"))


def channel_accounts(channel: str) -> Mapping[str, Mapping[str, str]]:
    from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError

    try:
        # AWSCURRENT named explicitly: the same as the default on AWS, and what moto needs to follow
        # the label when the admin API moves it (chalicelib/channels/accounts.py)
        data = _provider().get(
            settings().secret_name(channel), transform="json", max_age=MAX_AGE, VersionStage="AWSCURRENT"
        )
    except GetParameterError as exc:
        raise NotFound(f"channel {channel!r} is not configured") from exc
    if not isinstance(data, dict):
        raise NotFound(f"channel {channel!r} is not configured")
    return data


def account_credentials(channel: str, account: str) -> Mapping[str, str]:
    creds = channel_accounts(channel).get(account)
    if not isinstance(creds, dict):
        raise NotFound(f"unknown account {account!r} for channel {channel!r}")
    return creds


def reset() -> None:
    _provider.cache_clear()
