"""The local front door builds the events API Gateway builds: functions that work here meet the
same shapes in the cloud (HTTP API payload 2.0 for webhooks, REST v1 proxy events for the app)."""

from __future__ import annotations

import base64
import json
from typing import Any

from chalice import Chalice, CORSConfig

from infra.local.server import (
    Gateway,
    HttpRequest,
    http_api_v2_event,
    http_api_v2_response,
    media_type_matches,
    rest_v1_event,
)


def request(**kw: Any) -> HttpRequest:
    defaults: dict[str, Any] = {
        "method": "POST",
        "path": "/webhooks/wechat",
        "query": "",
        "headers": [("Host", "127.0.0.1:8000"), ("User-Agent", "test")],
        "body": b"",
    }
    return HttpRequest(**{**defaults, **kw})


def test_http_api_event_folds_duplicate_headers_and_query_values_and_splits_cookies():
    req = request(
        query="a=1&a=2&b=x%20y",
        headers=[("X-Dup", "one"), ("x-dup", "two"), ("Cookie", "c1=v1; c2=v2"), ("Host", "h")],
    )
    event = http_api_v2_event(req, route_key="ANY /webhooks/wechat", request_id="r1")
    assert event["version"] == "2.0"
    assert event["rawQueryString"] == "a=1&a=2&b=x%20y"
    assert event["queryStringParameters"] == {"a": "1,2", "b": "x y"}
    assert event["headers"]["x-dup"] == "one,two"
    assert "cookie" not in event["headers"] and event["cookies"] == ["c1=v1", "c2=v2"]
    ctx = event["requestContext"]
    assert ctx["stage"] == "$default" and ctx["http"]["method"] == "POST" and ctx["requestId"] == "r1"
    assert ctx["http"]["path"] == event["rawPath"] == "/webhooks/wechat"
    assert isinstance(ctx["timeEpoch"], int)
    assert "queryStringParameters" in event and "body" not in event


def test_http_api_passes_text_json_and_xml_as_text_and_everything_else_base64():
    for content_type in ("text/xml", "application/json; charset=utf-8", "application/xml"):
        event = http_api_v2_event(
            request(headers=[("Content-Type", content_type)], body="<x>你好</x>".encode()),
            route_key="$default",
            request_id="r",
        )
        assert (event["body"], event["isBase64Encoded"]) == ("<x>你好</x>", False), content_type
    for content_type in ("application/x-www-form-urlencoded", "application/octet-stream", ""):
        headers = [("Content-Type", content_type)] if content_type else []
        event = http_api_v2_event(
            request(headers=headers, body=b"a=1&b=%E4"), route_key="$default", request_id="r"
        )
        assert event["isBase64Encoded"] is True
        assert base64.b64decode(event["body"]) == b"a=1&b=%E4"


def test_http_api_proxy_route_carries_the_rest_of_the_path():
    event = http_api_v2_event(
        request(path="/webhooks/web/shop2/sessions"), route_key="ANY /webhooks/web/{proxy+}", request_id="r"
    )
    assert event["pathParameters"] == {"proxy": "shop2/sessions"}


def test_http_api_response_mapping():
    plain = http_api_v2_response(
        {"statusCode": 200, "headers": {"content-type": "text/plain"}, "body": "success"}
    )
    assert (plain.status, plain.body) == (200, b"success")
    binary = http_api_v2_response(
        {"statusCode": 200, "body": base64.b64encode(b"\x00\x01").decode(), "isBase64Encoded": True}
    )
    assert binary.body == b"\x00\x01"
    inferred = http_api_v2_response({"ok": True})  # no statusCode: a JSON body with 200
    assert inferred.status == 200 and json.loads(inferred.body) == {"ok": True}
    cookies = http_api_v2_response({"statusCode": 204, "cookies": ["a=1", "b=2"]})
    assert [v for k, v in cookies.headers if k == "Set-Cookie"] == ["a=1", "b=2"]


def test_rest_event_keeps_single_and_multi_value_forms():
    req = request(
        method="GET", path="/api/items/a%20b", query="q=1&q=2", headers=[("Accept", "x"), ("Accept", "y")]
    )
    event = rest_v1_event(
        req,
        path="/items/a%20b",
        resource="/items/{id}",
        path_parameters={"id": "a%20b"},
        binary_types=[],
        request_id="r",
    )
    assert event["queryStringParameters"] == {"q": "2"}
    assert event["multiValueQueryStringParameters"] == {"q": ["1", "2"]}
    assert event["headers"]["Accept"] == "y" and event["multiValueHeaders"]["Accept"] == ["x", "y"]
    assert event["requestContext"]["stage"] == "api" and event["requestContext"]["path"] == "/api/items/a%20b"
    assert event["pathParameters"] == {"id": "a%20b"} and event["body"] is None


def test_binary_media_types_match_like_api_gateway():
    assert media_type_matches("image/png", ["image/*"])
    assert media_type_matches("application/zip; x=y", ["application/zip"])
    assert media_type_matches("text/plain", ["*/*"])
    assert not media_type_matches("application/json", ["application/octet-stream", "image/*"])


def make_app() -> Chalice:
    app = Chalice(app_name="gw-test")

    @app.route("/things/{thing_id}", methods=["GET", "POST"], cors=CORSConfig(allow_origin="https://x.test"))
    def thing(thing_id: str) -> dict[str, Any]:
        r = app.current_request
        return {"id": thing_id, "method": r.method, "q": r.query_params, "body": r.raw_body.decode()}

    return app


def test_gateway_routes_api_requests_to_the_chalice_app_without_the_stage_prefix():
    gw = Gateway(make_app(), webhook_loader=lambda channel: None)
    resp = gw.handle(request(method="POST", path="/api/things/t1", query="a=b", body=b'{"x":1}'))
    assert resp.status == 200
    assert json.loads(resp.body) == {"id": "t1", "method": "POST", "q": {"a": "b"}, "body": '{"x":1}'}
    assert ("Access-Control-Allow-Origin", "https://x.test") in resp.headers


def test_gateway_answers_like_api_gateway_for_preflights_and_missing_routes():
    gw = Gateway(make_app(), webhook_loader=lambda channel: None)
    preflight = dict(gw.handle(request(method="OPTIONS", path="/api/things/t1")).headers)
    assert preflight["Access-Control-Allow-Methods"] == "GET,POST,OPTIONS"
    assert preflight["Access-Control-Allow-Origin"] == "https://x.test"
    for req in (request(method="GET", path="/api/nothing"), request(method="DELETE", path="/api/things/t1")):
        resp = gw.handle(req)
        assert (resp.status, json.loads(resp.body)) == (403, {"message": "Missing Authentication Token"})


def test_gateway_sends_webhooks_to_the_channels_function_and_404s_unknown_channels():
    seen: list[dict[str, Any]] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append(event)
        assert context.get_remaining_time_in_millis() > 0
        return {"statusCode": 200, "headers": {"content-type": "text/plain"}, "body": "success"}

    gw = Gateway(make_app(), webhook_loader=lambda channel: handler if channel == "wechat" else None)
    ok = gw.handle(request(path="/webhooks/wechat", query="signature=s"))
    assert (ok.status, ok.body) == (200, b"success")
    assert seen[0]["routeKey"] == "ANY /webhooks/wechat" and seen[0]["queryStringParameters"] == {
        "signature": "s"
    }
    missing = gw.handle(request(path="/webhooks/myspace"))
    assert (missing.status, json.loads(missing.body)) == (404, {"message": "Not Found"})
    root = gw.handle(request(method="GET", path="/"))
    assert root.status == 302 and ("Location", "/api/console") in root.headers


def test_a_crashing_webhook_function_is_a_500_not_a_dead_server():
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        raise RuntimeError("boom")

    gw = Gateway(make_app(), webhook_loader=lambda channel: handler)
    resp = gw.handle(request(path="/webhooks/wechat"))
    assert (resp.status, json.loads(resp.body)) == (500, {"message": "Internal Server Error"})


def test_only_the_webhook_channels_are_routed_and_voices_lambdas_are_not():
    import importlib

    from chalicelib.channels import CHANNELS, WITHOUT_WEBHOOK, webhook_channels
    from infra.local.server import load_webhook_function

    assert set(webhook_channels()) == set(CHANNELS) - WITHOUT_WEBHOOK and "app" in webhook_channels()
    for channel in webhook_channels():
        assert load_webhook_function(channel) is importlib.import_module(f"functions.{channel}").handler
    # functions/ also holds voice's Lambdas (Amazon Connect invokes them) and the package itself
    for name in ("voice", "voice_transcripts", "__init__", "myspace"):
        assert load_webhook_function(name) is None, name
        resp = Gateway(make_app()).handle(request(path=f"/webhooks/{name}", body=b"{}"))
        assert (resp.status, json.loads(resp.body)) == (404, {"message": "Not Found"})


def test_the_banner_lists_every_webhook_and_the_telegram_set_webhook_call_without_secrets(monkeypatch):
    import shlex
    import subprocess
    from types import SimpleNamespace

    from chalicelib.channels import telegram, webhook_channels
    from infra.local.provision import DEMO_CHANNELS
    from infra.local.stack import banner

    creds = {"bot_token": "5000000002:AAreal-looking-bot-token", "secret_token": "s3cret_-token"}
    monkeypatch.setenv("OMNIFLOW_TELEGRAM_BOT_TOKEN", creds["bot_token"])
    monkeypatch.setenv("OMNIFLOW_TELEGRAM_SECRET_TOKEN", creds["secret_token"])
    public = "https://abc.tunnel.example"
    stack = SimpleNamespace(
        url="http://127.0.0.1:8000", env={"OMNIFLOW_AWS_ENDPOINT": "http://m", "OMNIFLOW_PUBLIC_URL": public}
    )
    text = banner(stack)  # type: ignore[arg-type]

    listed = [line.split("/webhooks/")[1] for line in text.splitlines() if "127.0.0.1:8000/webhooks/" in line]
    assert list(dict.fromkeys(path.split("/")[0] for path in listed)) == webhook_channels()
    # what answers, not a bare /webhooks/web (a 404: the visitor API lives below it)
    assert "web" not in listed and {"web/sessions", "web/messages", "web/status"} <= set(listed)
    for secret in (*creds.values(), *DEMO_CHANNELS["telegram"].values()):
        assert secret not in text
    [command] = [line.strip() for line in text.splitlines() if "setWebhook" in line]
    assert shlex.split(command)[0] == "curl"
    # Run the printed command in a shell whose curl prints its arguments: with the variables make
    # dev reads set, it is exactly the library's setWebhook call.
    shown = subprocess.run(
        ["bash", "-c", f'curl() {{ printf "%s\\0" "$@"; }}; {command}'],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split("\0")[:-1]
    expected = telegram.set_webhook_call(public, creds)
    assert shown[:2] == ["-X", expected.method] and shown[2] == expected.url
    assert shown[3:5] == ["-H", "content-type: application/json"] and shown[5] == "-d"
    assert json.loads(shown[6]) == expected.json
    assert expected.json["url"] == f"{public}/webhooks/telegram"


def test_unknown_methods_over_the_wire_get_api_gateways_json_answer_not_an_html_501():
    import http.client

    from infra.local.server import LocalHttpServer, serve_in_thread

    server = LocalHttpServer(("127.0.0.1", 0), Gateway(make_app(), webhook_loader=lambda channel: None))
    serve_in_thread(server)
    try:
        for method, path in (("TRACE", "/api/things/t1"), ("PROPFIND", "/api/things/t1"), ("TRACE", "/x")):
            conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
            conn.request(method, path)
            resp = conn.getresponse()
            body = json.loads(resp.read())
            conn.close()
            assert resp.status in (403, 404), (method, path, resp.status)
            assert resp.getheader("Content-Type") == "application/json"
            assert "message" in body
        conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
        conn.request("TRACE", "/api/things/t1")
        assert json.loads(conn.getresponse().read()) == {"message": "Missing Authentication Token"}
        conn.close()
    finally:
        server.shutdown()
        server.server_close()


def test_the_local_server_queues_a_burst_of_connections_it_has_not_accepted_yet():
    """A surge opens connections faster than the accept loop takes them: they wait in the listen
    backlog (socketserver's default of 5 would drop the SYNs of the rest and connect would time out)."""
    import socket

    from infra.local.server import LocalHttpServer

    server = LocalHttpServer(("127.0.0.1", 0), Gateway(make_app(), webhook_loader=lambda channel: None))
    clients: list[socket.socket] = []
    try:  # not serving: nothing is accepted, every connection waits in the backlog
        for _ in range(64):
            clients.append(socket.create_connection(server.server_address, timeout=0.5))
        assert len(clients) == 64
    finally:
        for c in clients:
            c.close()
        server.server_close()
