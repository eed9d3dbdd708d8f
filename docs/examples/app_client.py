"""Omniflow `app` channel client for the company's backend. Python standard library only.

    client = OmniflowApp("https://hooks.example.com", "key-2024", "<secret>")
    client.send({"id": "u-42", "name": "Li Lei", "phone": "+8613800138000", "verified": ["phone"]},
                {"id": "m-1001", "type": "text", "text": "Where is my order?"})
    client.thread("u-42")                      # the user's messages and the agents' replies

Every request is signed with a fresh timestamp and nonce, so a retry is a new request: resending a
message is safe because Omniflow deduplicates on (user id, message id).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

RETRY_STATUSES = {409, 429, 500, 502, 503, 504}  # 409: nonce clash, sign again


class OmniflowError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(f"HTTP {status}: {body}")
        self.status, self.body = status, body


def signature(secret: str, timestamp: str, nonce: str, payload: bytes) -> str:
    """hex HMAC-SHA256(secret, timestamp + "\\n" + nonce + "\\n" + payload)."""
    message = timestamp.encode() + b"\n" + nonce.encode() + b"\n" + payload
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


class OmniflowApp:
    def __init__(
        self,
        base_url: str,
        key_id: str,
        secret: str,
        account: str | None = None,
        *,
        timeout: float = 10.0,
        attempts: int = 3,
    ) -> None:
        if urllib.parse.urlsplit(base_url).scheme not in ("https", "http"):  # http: local stack only
            raise ValueError("base_url must be an https URL")
        self.endpoint = base_url.rstrip("/") + "/webhooks/app" + (f"/{account}" if account else "")
        self.key_id, self.secret = key_id, secret
        self.timeout, self.attempts = timeout, attempts

    def _headers(self, payload: bytes) -> dict[str, str]:
        timestamp = str(int(time.time()))
        nonce = secrets.token_urlsafe(24)  # 32 characters of [A-Za-z0-9_-]
        return {
            "X-Omniflow-Key": self.key_id,
            "X-Omniflow-Timestamp": timestamp,
            "X-Omniflow-Nonce": nonce,
            "X-Omniflow-Signature": signature(self.secret, timestamp, nonce, payload),
        }

    def _call(self, method: str, url: str, payload: bytes, body: bytes | None) -> Any:
        for attempt in range(1, self.attempts + 1):
            headers = self._headers(payload)  # signed again on every attempt
            if body is not None:
                headers["Content-Type"] = "application/json"
            # The scheme was checked in __init__: only http(s) URLs are ever opened.
            request = urllib.request.Request(url, data=body, headers=headers, method=method)  # noqa: S310
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                    return json.load(response)
            except urllib.error.HTTPError as error:
                answer = error.read()
                try:
                    detail = json.loads(answer)
                except ValueError:
                    detail = answer.decode("utf-8", "replace")
                if error.code not in RETRY_STATUSES or attempt == self.attempts:
                    raise OmniflowError(error.code, detail) from None
            time.sleep(0.2 * 2**attempt)
        raise AssertionError("unreachable")

    def send(self, user: dict[str, Any], message: dict[str, Any], sent_at: str | None = None) -> Any:
        """One message from a logged-in user. Returns {"accepted": 1, "message_ids": [...]}."""
        entry: dict[str, Any] = {"user": user, "message": message}
        if sent_at:
            entry["sent_at"] = sent_at
        body = json.dumps(entry, ensure_ascii=False).encode()
        return self._call("POST", self.endpoint, body, body)

    def send_batch(self, entries: list[dict[str, Any]]) -> Any:
        """Up to 50 {"user", "message", "sent_at"?} entries in one request."""
        body = json.dumps({"messages": entries}, ensure_ascii=False).encode()
        return self._call("POST", self.endpoint, body, body)

    def thread(self, user_id: str, after: str | None = None) -> list[dict[str, Any]]:
        """The user's messages and the agents' replies, oldest first, at most 100 per call: pass
        the last "created_at" you saw as ``after`` to get the next ones."""
        query = urllib.parse.urlencode({"user": user_id, **({"after": after} if after else {})})
        answer = self._call("GET", f"{self.endpoint}/messages?{query}", query.encode(), None)
        messages: list[dict[str, Any]] = answer["messages"]
        return messages


def verify_callback(
    headers: dict[str, str], body: bytes, keys: dict[str, str], max_skew: int = 300
) -> dict[str, Any]:
    """For your callback endpoint: check that an agent reply really comes from Omniflow, then
    return it. Keep the nonces you saw for 10 minutes and refuse repeats; dedupe on message.id."""
    h = {k.lower(): v for k, v in headers.items()}
    secret = keys.get(h.get("x-omniflow-key", ""))
    timestamp, nonce = h.get("x-omniflow-timestamp", ""), h.get("x-omniflow-nonce", "")
    if secret is None or not timestamp.isdigit() or abs(time.time() - int(timestamp)) > max_skew:
        raise PermissionError("unknown key or stale timestamp")
    expected = signature(secret, timestamp, nonce, body)
    if not hmac.compare_digest(expected, h.get("x-omniflow-signature", "")):
        raise PermissionError("bad signature")
    reply: dict[str, Any] = json.loads(body)
    return reply


if __name__ == "__main__":  # python app_client.py http://127.0.0.1:8000 demo-key omniflow-demo-app-secret
    import sys

    client = OmniflowApp(*sys.argv[1:4])
    print(client.send({"id": "demo-user"}, {"id": secrets.token_hex(8), "type": "text", "text": "Hello"}))
    print(json.dumps(client.thread("demo-user"), indent=2, ensure_ascii=False))
