"""Channel accounts through the admin API: only admins, credentials written to Secrets Manager and
never shown back, merged with a compare-and-swap on the secret, audited, caches refreshed."""

from __future__ import annotations

import json
from typing import Any

import pytest

from chalicelib.audit import service as audit
from chalicelib.aws import client
from chalicelib.channels import accounts, credentials
from chalicelib.config import settings

WECHAT = {"token": "tok-shop2-0001", "app_id": "wx0shop2", "app_secret": "s3cr3t-shop2-value"}


def call(session: Any, method: str, path: str, body: Any = None) -> tuple[int, dict[str, Any], str]:
    raw = json.dumps(body).encode() if body is not None else b""
    r = session.client.http.request(method, path, headers=session._headers(), body=raw)
    text = r.body.decode() if isinstance(r.body, bytes) else (r.body or "")
    return r.status_code, json.loads(text) if text else {}, text


def stored(channel: str) -> dict[str, Any]:
    raw = client("secretsmanager").get_secret_value(
        SecretId=settings().secret_name(channel), VersionStage="AWSCURRENT"
    )
    return json.loads(raw["SecretString"])


@pytest.fixture
def admin(api):
    return api("admin")


def test_only_admins_list_or_write_channel_accounts(api):
    for who in ("agent1", "supervisor"):
        assert call(api(who), "GET", "/admin/channels")[0] == 403
        assert call(api(who), "PUT", "/admin/channels/wechat/shop2", WECHAT)[0] == 403
    assert call(api(None), "PUT", "/admin/channels/wechat/shop2", WECHAT)[0] == 401
    assert "shop2" not in stored("wechat")


def test_the_list_names_accounts_and_fields_but_never_values(admin):
    status, body, text = call(admin, "GET", "/admin/channels")
    assert status == 200
    by_channel = {c["channel"]: c for c in body["items"]}
    assert set(by_channel) >= {"wechat", "sms", "web", "telegram", "voice"}
    wechat = by_channel["wechat"]
    assert wechat["required_fields"] == ["token", "app_id", "app_secret"]
    assert "aes_key" in wechat["known_fields"]
    assert wechat["accounts"] == [
        {"account": "default", "fields": ["aes_key", "app_id", "app_secret", "token"], "missing": []}
    ]
    assert by_channel["voice"]["webhook"] is False
    for channel in by_channel:
        for account in stored(channel).values() if by_channel[channel]["accounts"] else []:
            for value in account.values():
                assert value not in text, channel  # not one stored value appears in the answer


def test_an_admin_adds_an_account_it_is_stored_audited_and_never_echoed(admin):
    status, body, text = call(admin, "PUT", "/admin/channels/wechat/shop2", WECHAT)
    assert status == 200, body
    assert body["fields"] == ["app_id", "app_secret", "token"] and body["created"] is True
    assert all(value not in text for value in WECHAT.values())
    secret = stored("wechat")
    assert secret["shop2"] == WECHAT
    assert secret["default"]["app_secret"] == "omniflow-demo-wechat-secret"  # other accounts kept

    listed = {c["channel"]: c for c in call(admin, "GET", "/admin/channels")[1]["items"]}["wechat"]
    assert [a["account"] for a in listed["accounts"]] == ["default", "shop2"]

    record = audit.history("channel#wechat")[0]
    assert record.actor == "admin" and record.action == "channel_account.create"
    assert record.details == {"account": "shop2", "fields": ["app_id", "app_secret", "token"]}
    assert all(value not in json.dumps(record.details) for value in WECHAT.values())


def test_rotating_one_field_keeps_the_others_and_refreshes_the_cached_credentials(admin):
    assert credentials.account_credentials("sms", "default")["auth_token"] == "omniflow-demo-twilio-token"
    status, body, _ = call(admin, "PUT", "/admin/channels/sms/default", {"auth_token": "rotated-token-2"})
    assert status == 200 and body["created"] is False
    assert body["fields"] == ["account_sid", "auth_token", "from_number"]
    # the cache this instance read through answers the new value at once (not after MAX_AGE)
    assert credentials.account_credentials("sms", "default")["auth_token"] == "rotated-token-2"
    assert stored("sms")["default"]["from_number"] == "+15005550006"
    assert audit.history("channel#sms")[0].action == "channel_account.update"


def test_bad_writes_get_clear_4xx_and_change_nothing(admin):
    before = stored("wechat")
    cases = [
        ("/admin/channels/nochannel/x", WECHAT, 404),
        ("/admin/channels/wechat/shop2", {"app_id": "wx1"}, 400),  # new account, required fields missing
        ("/admin/channels/wechat/shop2", {**WECHAT, "password": "x"}, 400),  # unknown field
        ("/admin/channels/wechat/shop2", {**WECHAT, "token": 7}, 400),  # values are strings
        ("/admin/channels/wechat/shop2", {**WECHAT, "token": ""}, 400),
        ("/admin/channels/wechat/shop2", {}, 400),
        ("/admin/channels/wechat/-bad", WECHAT, 400),  # account name
    ]
    for path, body, expected in cases:
        status, answer, text = call(admin, "PUT", path, body)
        assert status == expected, (path, body, answer)
        assert "s3cr3t-shop2-value" not in text  # a refused value is not echoed in the error either
    assert stored("wechat") == before


def test_a_concurrent_write_is_merged_not_lost(admin, monkeypatch):
    """Another admin's write lands between our read and our swap: the swap is refused and redone on
    top of theirs, so both accounts survive."""
    original = accounts._read
    calls = {"n": 0}

    def read_then_someone_writes(channel: str) -> Any:
        result = original(channel)
        calls["n"] += 1
        if calls["n"] == 1:
            theirs = {**result[1], "other": {**WECHAT, "app_id": "wx0other"}}
            client("secretsmanager").put_secret_value(
                SecretId=settings().secret_name(channel), SecretString=json.dumps(theirs)
            )
        return result

    monkeypatch.setattr(accounts, "_read", read_then_someone_writes)
    status, body, _ = call(admin, "PUT", "/admin/channels/wechat/shop2", WECHAT)
    assert status == 200, body
    assert calls["n"] == 2  # read, swap refused, read again, swap
    secret = stored("wechat")
    assert {"default", "other", "shop2"} <= set(secret)
    assert secret["other"]["app_id"] == "wx0other" and secret["shop2"] == WECHAT


def test_a_channel_without_a_secret_gets_one(admin):
    sm = client("secretsmanager")
    sm.delete_secret(SecretId=settings().secret_name("line"), ForceDeleteWithoutRecovery=True)
    listed = {c["channel"]: c for c in call(admin, "GET", "/admin/channels")[1]["items"]}
    assert listed["line"]["accounts"] == []
    fields = {"channel_secret": "line-secret-1", "channel_access_token": "line-token-1"}
    status, body, _ = call(admin, "PUT", "/admin/channels/line/default", fields)
    assert status == 200 and body["created"] is True
    assert credentials.account_credentials("line", "default") == fields
