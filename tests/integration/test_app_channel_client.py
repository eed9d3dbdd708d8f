"""The documented example client, run exactly as published, over real HTTP against the local
gateway (API Gateway HTTP API events → functions/app.py → the pipeline) on moto."""

from __future__ import annotations

import importlib.util
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest

from infra.local.provision import DEMO_CHANNELS
from tests.support.queues import drain_inbound

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "docs" / "examples" / "app_client.py"
DOC = REPO / "docs" / "channels" / "app.md"
KEY_ID, SECRET = next(iter(json.loads(DEMO_CHANNELS["app"]["keys"]).items()))


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("omniflow_app_client", EXAMPLE)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def gateway_url(aws: dict[str, str]) -> Iterator[str]:
    """The local stack's front door on a free port, serving the webhook functions."""
    from chalice import Chalice

    from infra.local.server import Gateway, LocalHttpServer

    server = LocalHttpServer(("127.0.0.1", 0), Gateway(Chalice("omniflow-test"), stage="test"))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_the_docs_publish_the_example_client_verbatim():
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(), flags=re.DOTALL)
    assert EXAMPLE.read_text() in blocks, "docs/channels/app.md must show docs/examples/app_client.py as is"


def test_the_example_client_sends_and_reads_a_thread_through_the_gateway(aws, gateway_url):
    from chalicelib.outbound import service as outbound
    from chalicelib.router import service as router

    example = load_example()
    client = example.OmniflowApp(gateway_url, KEY_ID, SECRET)
    user = {"id": "u-42", "name": "Li Lei", "phone": "+8613800138000", "verified": ["phone"]}
    answer = client.send(user, {"id": "m-1001", "type": "text", "text": "我的订单到哪了？"})
    assert answer == {"accepted": 1, "message_ids": ["m-1001"]}
    batch = client.send_batch(
        [{"user": user, "message": {"id": "m-1002", "type": "image", "url": "https://cdn.example/p.jpg"}}]
    )
    assert batch["accepted"] == 1

    messages = drain_inbound(aws)
    assert [m.platform_message_id for m in messages] == ["u-42/m-1001", "u-42/m-1002"]
    assert messages[0].hints.verified == ("external_id", "phone")
    conversation_id = ""
    for msg in messages:
        conversation_id = router.store(msg).conversation.conversation_id
    outbound.reply(conversation_id, "agent1", "今天发货。", channel=None, may_take_over=False)

    thread = client.thread("u-42")
    assert [(m["direction"], m["type"], m["text"]) for m in thread] == [
        ("in", "text", "我的订单到哪了？"),
        ("in", "image", ""),
        ("out", "text", "今天发货。"),
    ]
    assert thread[1]["attachments"] == [{"kind": "image", "url": "https://cdn.example/p.jpg"}]
    assert [m["text"] for m in client.thread("u-42", after=thread[1]["created_at"])] == ["今天发货。"]


def test_the_example_client_reports_refusals_without_retrying_them(aws, gateway_url):
    example = load_example()
    wrong = example.OmniflowApp(gateway_url, KEY_ID, "not-the-secret")
    with pytest.raises(example.OmniflowError) as refused:
        wrong.send({"id": "u-42"}, {"id": "m-1", "type": "text", "text": "hi"})
    assert refused.value.status == 401
    good = example.OmniflowApp(gateway_url, KEY_ID, SECRET)
    with pytest.raises(example.OmniflowError) as malformed:
        good.send({"id": "u-42"}, {"id": "m-1", "type": "sticker"})
    assert malformed.value.status == 400 and malformed.value.body["error"] == "bad_request"
    with pytest.raises(ValueError, match="https"):
        example.OmniflowApp("file:///etc/passwd", KEY_ID, SECRET)
    assert drain_inbound(aws) == []
