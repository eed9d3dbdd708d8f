"""Channel registry: name -> adapter module. Modules are imported lazily so a webhook Lambda loads
only its own channel."""

from __future__ import annotations

import importlib
from functools import cache

from chalicelib.channels.base import ChannelAdapter, NotFound

# Adding a channel: one module here plus one line in infra/app.yaml's channel list.
CHANNELS: dict[str, str] = {
    "web": "chalicelib.channels.web",
    "wechat": "chalicelib.channels.wechat",
    "sms": "chalicelib.channels.sms",
    "email": "chalicelib.channels.email",
}


@cache
def get(name: str) -> ChannelAdapter:
    module_name = CHANNELS.get(name)
    if module_name is None:
        raise NotFound(f"unknown channel {name!r}")
    module = importlib.import_module(module_name)
    adapter: ChannelAdapter = module.ADAPTER
    return adapter
