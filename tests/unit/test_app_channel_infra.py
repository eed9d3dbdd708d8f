"""The app channel's extra rights in infra/app.yaml: it may claim nonces (only ``nonce#app#…`` keys
of the state table) and read its users' mailboxes, nothing else of the core's tables."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_the_app_webhook_claims_only_its_nonces_and_reads_only_mailboxes():
    from cfnlint.decode import decode_str

    template, errors = decode_str((REPO / "infra" / "app.yaml").read_text())
    assert not errors
    assert "app" in template["Resources"]["Fn::ForEach::Webhooks"][1]
    assert "WebhookConcurrencyapp" in template["Parameters"]
    policy = template["Resources"]["AppWebhookPolicy"]["Properties"]
    assert policy["RoleName"] == {"Ref": "WebhookRoleapp"}
    by_sid = {s["Sid"]: s for s in policy["PolicyDocument"]["Statement"]}
    assert by_sid.keys() == {"ClaimNonce", "UserMailbox"}
    nonce, mailbox = by_sid["ClaimNonce"], by_sid["UserMailbox"]
    assert nonce["Action"] == "dynamodb:PutItem" and nonce["Resource"]["Fn::Sub"][0] == "${Prefix}state"
    assert nonce["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["nonce#app#*"]}}
    assert mailbox["Action"] == "dynamodb:Query"
    assert mailbox["Resource"]["Fn::Sub"][0] == "${Prefix}messages/index/by_mailbox"
