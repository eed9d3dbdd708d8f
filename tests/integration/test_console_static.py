"""The console's static files: served from the whitelist with the right types, a strict CSP,
caching by ETag, no way out of the folder, and no HTML-injection sinks in the scripts."""

from __future__ import annotations

import re

import pytest

from chalicelib.console import service as console

TYPES = {
    ".js": "application/javascript",
    ".mjs": "application/javascript",
    ".json": "application/json",
    ".css": "text/css",
    ".svg": "image/svg+xml",
    ".html": "text/html",
}


@pytest.fixture
def client(aws):
    from chalice.test import Client

    import app as app_module

    with Client(app_module.app, stage_name="test") as c:
        yield c


def _headers(r) -> dict[str, str]:
    return {k.lower(): v for k, v in r.headers.items()}


def _assert_secure(r) -> None:
    h = _headers(r)
    csp = h["content-security-policy"]
    for directive in (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    ):
        assert directive in csp
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp
    assert h["x-content-type-options"] == "nosniff"
    assert h["referrer-policy"] == "no-referrer"


def test_the_core_files_exist():
    names = set(console.ASSETS)
    assert {"index.html", "console.css", "app.js", "html.js", "ui.js", "api.js", "i18n.js"} <= names
    vendored = {f"vendor/{n}.mjs" for n in ("preact", "hooks", "htm", "marked", "purify")}
    assert vendored <= names


def test_every_static_file_is_served_with_its_type_and_the_csp(client):
    assert console.ASSETS
    for name, asset in console.ASSETS.items():
        r = client.http.get(f"/console/static/{name}")
        assert r.status_code == 200, name
        h = _headers(r)
        suffix = name[name.rindex(".") :]
        assert h["content-type"].startswith(TYPES[suffix]), (name, h["content-type"])
        assert r.body.decode("utf-8") == asset.text
        assert h["etag"] == f'"{asset.etag}"'
        assert h["cache-control"] == "no-cache"
        _assert_secure(r)


def test_the_console_page_and_the_widget_script(client):
    r = client.http.get("/console")
    assert r.status_code == 200
    assert _headers(r)["content-type"].startswith("text/html")
    page = r.body.decode()
    assert '<script type="module" src="console/static/app.js"></script>' in page
    assert "<script>" not in page and " style=" not in page  # nothing inline: the CSP forbids it
    _assert_secure(r)
    if "widget.js" in console.ASSETS:
        w = client.http.get("/widget.js")
        assert w.status_code == 200
        assert _headers(w)["content-type"].startswith("application/javascript")
        assert w.body.decode() == console.ASSETS["widget.js"].text


def test_a_versioned_request_may_be_cached_and_a_matching_etag_answers_304(client):
    asset = console.ASSETS["app.js"]
    r = client.http.get(f"/console/static/app.js?v={asset.etag}")
    assert _headers(r)["cache-control"] == console.IMMUTABLE
    r = client.http.get("/console/static/app.js", headers={"if-none-match": f'"{asset.etag}"'})
    assert r.status_code == 304 and not r.body
    r = client.http.get("/console/static/app.js", headers={"if-none-match": '"stale"'})
    assert r.status_code == 200 and r.body


@pytest.mark.parametrize(
    "name",
    [
        "nope.js",
        "..%2fservice.py",
        "..%2F..%2Fapp.py",
        "%2e%2e%2fservice.py",
        "service.py",
        "__init__.py",
        ".hidden.js",
    ],
)
def test_unknown_names_and_path_traversal_are_404(client, name):
    r = client.http.get(f"/console/static/{name}")
    assert r.status_code in (403, 404), (name, r.status_code)
    assert b"import" not in r.body and b"def " not in r.body


def test_the_whitelist_is_the_folder_and_nothing_else(tmp_path):
    (tmp_path / "a.js").write_text("export const a = 1;\n")
    (tmp_path / "b.py").write_text("secret = 1\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.js").write_text("x\n")
    assets = console.load(tmp_path)
    assert set(assets) == {"a.js"}
    assert console.serve("../b.py", assets=assets).status_code == 404
    assert console.serve("sub/c.js", assets=assets).status_code == 404
    assert console.serve("a.js", assets=assets).status_code == 200


SINKS = re.compile(
    r"\.innerHTML\b|\.outerHTML\b|insertAdjacentHTML|document\.write|\beval\s*\(|new\s+Function\s*\("
)


# Third-party libraries, copied verbatim from npm (infra/vendor.py): exempt from our own rules below.
VENDORED = console.STATIC / console.VENDOR
# The one module allowed to turn text into HTML: Markdown through marked, then DOMPurify.
MARKDOWN = "markdown.js"


def _own_scripts() -> list:
    scripts = sorted(p for p in console.STATIC.rglob("*") if p.suffix in (".js", ".mjs"))
    return [p for p in scripts if VENDORED not in p.parents]


def test_no_html_injection_sinks_in_the_scripts():
    scripts = _own_scripts()
    assert scripts and all(VENDORED not in p.parents for p in scripts)
    offenders = [
        f"{path.name}:{n}: {line.strip()}"
        for path in scripts
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if SINKS.search(line)
    ]
    assert offenders == []


def test_only_the_markdown_component_sets_html_and_only_after_dompurify():
    users = [p.name for p in _own_scripts() if "dangerouslySetInnerHTML" in p.read_text(encoding="utf-8")]
    assert users == [MARKDOWN]
    text = (console.STATIC / MARKDOWN).read_text(encoding="utf-8")
    assert "DOMPurify.sanitize(" in text and 'from "./vendor/purify.mjs"' in text


def test_the_vendored_libraries_match_their_manifest_and_carry_their_licences():
    import hashlib
    import json

    from infra import vendor

    manifest = json.loads((VENDORED / vendor.MANIFEST).read_text())
    assert {p.name: p.version for p in vendor.PINS} == {k: v["version"] for k, v in manifest.items()}
    listed = set()
    for package in vendor.PINS:
        files = manifest[package.name]["files"]
        assert any(".LICENSE" in name for name in files), package.name
        for name, digest in files.items():
            assert hashlib.sha256((VENDORED / name).read_bytes()).hexdigest() == digest, name
            listed.add(name)
    present = {p.name for p in VENDORED.iterdir()} - {vendor.MANIFEST}
    assert present == listed  # nothing unlisted sits in vendor/
    for name in listed:
        if name.endswith(".mjs"):
            text = (VENDORED / name).read_text(encoding="utf-8")
            assert 'from"preact"' not in text and "from 'preact'" not in text, name  # no bare import
            assert f"vendor/{name}" in console.ASSETS


def test_no_inline_styles_or_handlers_in_the_html():
    for path in console.STATIC.glob("*.html"):
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"\son[a-z]+\s*=", text), path.name
        assert not re.search(r"\sstyle\s*=", text), path.name
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), path.name


def test_the_static_routes_are_public_and_outside_the_jwt_route_table():
    import app as app_module
    from chalicelib.api import ROUTES

    assert not {r.path for r in ROUTES} & set(console.PATHS)
    for path in console.PATHS:
        assert path in app_module.app.routes


def test_the_csp_allows_the_media_store_for_images_and_video_only(client):
    from chalicelib.media.service import origin

    csp = _headers(client.http.get("/console"))["content-security-policy"]
    media = origin()
    assert media.startswith(("http://", "https://")) and "*" not in media
    assert f"img-src 'self' data: {media};" in csp and f"media-src {media}" in csp
    assert "script-src 'self';" in csp and "connect-src 'self';" in csp  # nothing else opened


def test_the_favicon_is_served_at_the_conventional_path_and_linked_from_the_page(client):
    r = client.http.get("/favicon.ico")
    assert r.status_code == 200
    assert _headers(r)["content-type"].startswith("image/svg+xml")
    assert r.body.decode().startswith("<svg")
    _assert_secure(r)
    assert 'href="console/static/favicon.svg"' in console.ASSETS["index.html"].text
