"""Lazily created boto3 clients, pointed at moto locally (only the endpoint differs from AWS)."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import boto3
from botocore.config import Config

from chalicelib.config import settings

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=3, read_timeout=10)


@lru_cache(maxsize=None)
def client(service: str) -> Any:
    s = settings()
    return boto3.session.Session().client(
        service, region_name=s.region, endpoint_url=s.endpoint_url, config=_CONFIG
    )


def reset() -> None:
    client.cache_clear()
