"""Issue 17's integration story over HTTP on the local stack: an admin subscribes a receiver on this
machine to message.created; an SMS from a new number (signed as Twilio signs it) reaches the
receiver as a Standard Webhooks delivery that the ``standardwebhooks`` library verifies; the
receiver refuses the first try and gets the event exactly once more (the delivery log shows both
attempts); a machine client then reads that conversation with its own token and scope."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
import requests
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from infra.local import simulate
from tests.e2e.conftest import Api, LocalStack, login
from tests.e2e.test_local_stack import poll

pytestmark = pytest.mark.e2e


class Receiver:
    """Refuses (503) the first delivery of each webhook-id, accepts (204) the next; records all."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        self.url = ""


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length") or 0)).decode()
            with state.lock:
                seen = any(
                    r["headers"].get("webhook-id") == self.headers.get("webhook-id") for r in state.requests
                )
                status = 204 if seen else 503
                state.requests.append(
                    {"headers": dict(self.headers.items()), "body": body, "answered": status}
                )
            self.send_response(status)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/omniflow-events"
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()


def test_an_sms_from_a_new_number_reaches_a_local_receiver_signed_once_more_after_a_refusal(
    local_stack: LocalStack, receiver: Receiver
):
    admin: Api = login(local_stack, "admin")
    r = admin.post("/admin/webhooks", {"url": receiver.url, "events": ["message.created"]})
    assert r.status_code == 201, r.text
    endpoint = r.json()
    try:
        text = f"我的快递到哪了？order 1042 #{uuid.uuid4().hex[:8]}"
        sender = "+86139" + str(uuid.uuid4().int)[:8]
        sent = simulate.sms_request(
            local_stack.target, simulate.credentials("sms"), sender=sender, text=text
        ).send()
        assert sent.status_code == 200, sent.text

        def mine() -> list[dict[str, Any]]:
            with receiver.lock:
                return [r for r in receiver.requests if text in r["body"]]

        poll(
            "the retried delivery of the SMS", lambda: [r for r in mine() if r["answered"] == 204], timeout=60
        )
        deliveries = mine()
        assert [d["answered"] for d in deliveries] == [503, 204]
        assert len({d["headers"]["webhook-id"] for d in deliveries}) == 1
        payload = Webhook(endpoint["secret"]).verify(deliveries[1]["body"], deliveries[1]["headers"])
        assert payload["type"] == "message.created"
        data = payload["data"]
        assert (data["text"], data["channel"], data["direction"]) == (text, "sms", "in")
        with pytest.raises(WebhookVerificationError):  # another secret does not verify it
            Webhook("whsec_" + "A" * 43 + "=").verify(deliveries[1]["body"], deliveries[1]["headers"])

        log = admin.get(f"/admin/webhooks/{endpoint['endpoint_id']}/deliveries").json()
        (message,) = [m for m in log["messages"] if m["msg_id"] == deliveries[0]["headers"]["webhook-id"]]
        assert message["status"] == "delivered"
        assert [(a["attempt"], a["ok"], a["response_code"]) for a in message["attempts"]] == [
            (1, False, 503),
            (2, True, 204),
        ]
        assert all(a["latency_ms"] >= 0 for a in message["attempts"])

        # a CRM with conversations:read follows the link from the event with its own token
        client = admin.post(
            "/admin/api-clients", {"name": "CRM", "scopes": ["conversations:read"], "rate_limit": 60}
        ).json()
        token = requests.post(
            f"{local_stack.url}/api/oauth/token",
            data={"grant_type": "client_credentials"},
            auth=(client["client_id"], client["client_secret"]),
            timeout=30,
        )
        assert token.status_code == 200, token.text
        crm = Api(local_stack.url, token.json()["access_token"])
        seen = crm.get(f"/conversations/{data['conversation_id']}")
        assert seen.status_code == 200, seen.text
        assert text in json.dumps(seen.json(), ensure_ascii=False)
        assert crm.get("/tickets").status_code == 403  # not its scope
    finally:
        admin.post(f"/admin/webhooks/{endpoint['endpoint_id']}/disable")  # the receiver is going away
