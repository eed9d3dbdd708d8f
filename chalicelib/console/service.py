"""Serves the console's static files (``static/``, flat, no build step) and the widget script.

These are public assets (the console logs in with the API; the files carry no data), registered
with ``app.route`` directly rather than ``chalicelib.api.route``: no JWT, no role. The whitelist is
the folder's content at import, so a request can only ever name one of those files (a name with a
slash, ``..`` or anything else unknown is a 404). Every answer carries a strict Content Security
Policy: no inline script or style, nothing from another origin.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from chalice import Chalice, Response

STATIC = Path(__file__).parent / "static"
CONTENT_TYPES = {
    ".js": "application/javascript; charset=utf-8",
    ".mjs": "application/javascript; charset=utf-8",
    ".json": "application/json; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".html": "text/html; charset=utf-8",
}
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@functools.lru_cache(maxsize=1)
def security_headers() -> dict[str, str]:
    """SECURITY_HEADERS, with the media store's origin allowed for images, audio and video: the
    console shows customers' attachments through short-lived links to it (chalicelib/media)."""
    from chalicelib.channels.transport import MediaUnavailable
    from chalicelib.media.service import origin

    try:
        media = origin()
    except MediaUnavailable:
        return dict(SECURITY_HEADERS)
    csp = CSP.replace("img-src 'self' data:", f"img-src 'self' data: {media}; media-src {media}")
    return {**SECURITY_HEADERS, "Content-Security-Policy": csp}


# Unversioned requests revalidate (ETag) so a deploy is seen at once; ``?v=<etag>`` may be cached.
REVALIDATE = "no-cache"
IMMUTABLE = "public, max-age=31536000, immutable"
# The routes registered by ``register`` (public: no token), for tests and the route inventory.
PATHS = ("/console", "/console/static/{name}", "/console/static/vendor/{name}", "/widget.js", "/favicon.ico")
# The one sub-folder: third-party libraries copied from npm at pinned versions (infra/vendor.py,
# `make vendor`), served as "vendor/<name>".
VENDOR = "vendor"
FAVICON = "favicon.svg"


@dataclass(frozen=True)
class Asset:
    name: str
    content_type: str
    text: str
    etag: str


def load(folder: Path = STATIC) -> dict[str, Asset]:
    """Every servable file in ``folder`` and its ``vendor/`` folder (known extensions only; no
    other sub-folder), read once. Vendored files are named ``vendor/<name>``."""
    assets: dict[str, Asset] = {}
    for prefix, where in (("", folder), (f"{VENDOR}/", folder / VENDOR)):
        if not where.is_dir():
            continue
        for path in sorted(where.iterdir()):
            content_type = CONTENT_TYPES.get(path.suffix)
            if not path.is_file() or content_type is None or path.name.startswith("."):
                continue
            raw = path.read_bytes()
            etag = hashlib.sha256(raw).hexdigest()[:16]
            name = prefix + path.name
            assets[name] = Asset(name, content_type, raw.decode("utf-8"), etag)
    return assets


@functools.cache
def _assets() -> dict[str, Asset]:
    return load()


def __getattr__(name: str) -> Any:
    """``ASSETS`` is read on first use, not at import: every core Lambda imports app.py (and so
    this module), but only the API's serves the console; the router and sender skip the reads."""
    if name == "ASSETS":
        return _assets()
    raise AttributeError(name)


def serve(
    name: str,
    *,
    if_none_match: str | None = None,
    version: str | None = None,
    assets: dict[str, Asset] | None = None,
) -> Response:
    """The file ``name`` from the whitelist (404 otherwise), with its content type, CSP and caching."""
    asset = (_assets() if assets is None else assets).get(name)
    if asset is None:
        return Response(
            body="not found",
            status_code=404,
            headers={"Content-Type": "text/plain; charset=utf-8", **security_headers()},
        )
    etag = f'"{asset.etag}"'
    headers: dict[str, str | list[str]] = {
        "Content-Type": asset.content_type,
        "ETag": etag,
        "Cache-Control": IMMUTABLE if version == asset.etag else REVALIDATE,
        **security_headers(),
    }
    if if_none_match and etag in {t.strip() for t in if_none_match.split(",")}:
        return Response(body="", status_code=304, headers=headers)
    return Response(body=asset.text, status_code=200, headers=headers)


def register(app: Chalice) -> None:
    """``GET /console`` (index.html), ``GET /console/static/{name}`` and ``…/vendor/{name}``,
    ``GET /widget.js`` and ``GET /favicon.ico``."""

    def _serve(name: str) -> Response:
        req = app.current_request
        headers = req.headers if req is not None else {}
        params: Mapping[str, str] = (req.query_params if req is not None else None) or {}
        return serve(name, if_none_match=headers.get("if-none-match"), version=params.get("v"))

    @app.route("/console", methods=["GET"])
    def console_index() -> Response:
        return _serve("index.html")

    @app.route("/console/static/{name}", methods=["GET"])
    def console_static(name: str) -> Response:
        return _serve(name)

    @app.route("/console/static/vendor/{name}", methods=["GET"])
    def console_vendor(name: str) -> Response:
        return _serve(f"{VENDOR}/{name}")

    @app.route("/widget.js", methods=["GET"])
    def widget_script() -> Response:
        return _serve("widget.js")

    @app.route("/favicon.ico", methods=["GET"])
    def favicon() -> Response:
        """The console's icon (an SVG; browsers accept it under the conventional name)."""
        return _serve(FAVICON)
