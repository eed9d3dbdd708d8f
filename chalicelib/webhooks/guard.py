"""SSRF guard: a webhook URL may only reach public addresses — never private, link-local (the
metadata service at 169.254.169.254 included), multicast or reserved ones. Loopback is allowed only
on the local stack (``OMNIFLOW_AWS_ENDPOINT`` set) or when ``OMNIFLOW_WEBHOOKS_ALLOW_LOOPBACK=1``.
Checked when the endpoint is saved and again before every delivery (DNS can change)."""

from __future__ import annotations

import ipaddress
import os
import socket
from urllib.parse import urlsplit

from chalicelib.config import settings
from chalicelib.errors import Invalid


class BlockedAddress(Invalid):
    code = "webhook_url_blocked"


def loopback_allowed() -> bool:
    return bool(settings().endpoint_url) or os.environ.get("OMNIFLOW_WEBHOOKS_ALLOW_LOOPBACK") == "1"


def check_url(url: str) -> None:
    """Raise :class:`BlockedAddress` unless every address ``url``'s host resolves to is public."""
    parts = urlsplit(url)
    if parts.scheme not in {"https", "http"} or not parts.hostname:
        raise BlockedAddress("the URL must be http(s) with a host name")
    loopback = loopback_allowed()
    if parts.scheme == "http" and not loopback:
        raise BlockedAddress("the URL must use https")
    try:
        infos = socket.getaddrinfo(parts.hostname, parts.port or 443, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError) as exc:
        raise BlockedAddress("the host name does not resolve") from exc
    for info in infos:
        address = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if address.is_loopback and loopback:
            continue
        if not address.is_global or address.is_multicast:
            raise BlockedAddress("the URL reaches a private, link-local or reserved address")
