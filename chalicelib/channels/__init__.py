"""Channel registry: name -> adapter module. Modules are imported lazily so a webhook Lambda loads
only its own channel."""

from __future__ import annotations

import importlib
from functools import cache
from typing import Annotated

from pydantic import AfterValidator
from pydantic import Field

from chalicelib.channels.base import ChannelAdapter
from chalicelib.channels.base import NotFound

# Adding a channel: one module here plus one line in infra/app.yaml's channel list.
CHANNELS: dict[str, str] = {
    "web": "chalicelib.channels.web",
    "wechat": "chalicelib.channels.wechat",
    "wecom": "chalicelib.channels.wecom",
    "sms": "chalicelib.channels.sms",
    "email": "chalicelib.channels.email",
    "app": "chalicelib.channels.app",
    "voice": "chalicelib.channels.voice",  # no webhook: Amazon Connect invokes functions/voice*.py
    "telegram": "chalicelib.channels.telegram",
    "line": "chalicelib.channels.line",
    "douyin": "chalicelib.channels.douyin",
    "weibo": "chalicelib.channels.weibo",
    "whatsapp": "chalicelib.channels.whatsapp",
    "messenger": "chalicelib.channels.messenger",
    "instagram": "chalicelib.channels.instagram",
}

# Channels whose platform does not call an HTTP webhook (Amazon Connect invokes voice's Lambdas).
WITHOUT_WEBHOOK = frozenset({"voice"})


def _known_channel(value: str) -> str:
    if value not in CHANNELS:
        raise ValueError(f"unknown channel {value!r}")
    return value


# A channel's name in a request body or query (the schema lists them as an enum).
ChannelName = Annotated[
    str,
    AfterValidator(_known_channel),
    Field(json_schema_extra={"enum": list(CHANNELS)}, description="a channel"),
]


def webhook_channels() -> list[str]:
    """The channels that get a webhook Lambda and routes in infra/app.yaml."""
    return [name for name in CHANNELS if name not in WITHOUT_WEBHOOK]


@cache
def get(name: str) -> ChannelAdapter:
    module_name = CHANNELS.get(name)
    if module_name is None:
        raise NotFound(f"unknown channel {name!r}")
    module = importlib.import_module(module_name)
    adapter: ChannelAdapter = module.ADAPTER
    return adapter
