"""Lazily created boto3 clients, pointed at moto locally (only the endpoint differs from AWS).

One boto3 session per process: creating sessions is the expensive part of making a client, and a
Lambda instance (or the local stack) needs each client once.
"""

from __future__ import annotations

import threading
from functools import cache, lru_cache
from typing import Any

import boto3
from botocore.config import Config

from chalicelib.config import settings

_CONFIG = Config(retries={"mode": "standard", "max_attempts": 4}, connect_timeout=3, read_timeout=10)
_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def session() -> boto3.session.Session:
    return boto3.session.Session()


@cache
def _client(service: str, region: str, endpoint_url: str | None) -> Any:
    with _LOCK:  # boto3 sessions are not thread-safe while creating clients
        return session().client(service, region_name=region, endpoint_url=endpoint_url, config=_CONFIG)  # type: ignore[call-overload]


def client(service: str) -> Any:
    s = settings()
    return _client(service, s.region, s.endpoint_url)


def queue_url(name: str) -> str:
    """URL of a queue: from OMNIFLOW_<NAME>_QUEUE_URL, else derived (one GetQueueUrl, cached in the
    settings, so a reset of the settings forgets it)."""
    s = settings()
    if name in s.queue_urls:
        return s.queue_urls[name]
    url: str = client("sqs").get_queue_url(QueueName=s.queue_name(name))["QueueUrl"]
    s.queue_urls[name] = url
    return url


def reset() -> None:
    _client.cache_clear()
