"""Channel reply rules enforced by the core: reply windows, per-message limits, templates, and
delivery reports from the platforms."""

from __future__ import annotations

import json
from datetime import timedelta

import boto3
import pytest

from chalicelib.channels.sms import SmsAdapter
from chalicelib.conversations import service as conversations
from chalicelib.conversations.models import Conversation, Message
from chalicelib.messages import DeliveryStatus, TemplateRef, iso, utcnow
from chalicelib.outbound import service as outbound
from chalicelib.router import service as router
from tests.support.factories import inbound


def age_last_message(cid: str, key: str, hours: float) -> None:
    Conversation(cid).update(
        actions=[Conversation.inbound_at[key].set(iso(utcnow() - timedelta(hours=hours)))]
    )


def test_free_text_outside_the_wechat_48h_window_needs_a_template(api):
    cid = router.store(inbound("wechat", "openid-window", "hello")).conversation.conversation_id
    agent = api("agent1")
    age_last_message(cid, "wechat#default", 49)
    r = agent.post(f"/conversations/{cid}/reply", {"text": "sorry for the wait"})
    assert r.status_code == 409
    body = json.loads(r.body)
    assert body["error"] == "template_required" and body["last_inbound_at"]
    age_last_message(cid, "wechat#default", 47)
    assert agent.post(f"/conversations/{cid}/reply", {"text": "still in time"}).status_code == 202


def test_a_customer_message_reopens_the_window(aws):
    cid = router.store(inbound("wechat", "openid-w2", "hi")).conversation.conversation_id
    age_last_message(cid, "wechat#default", 72)
    with pytest.raises(conversations.ReplyWindowClosed):
        outbound.reply(cid, "agent1", "late", channel=None, may_take_over=False)
    router.store(inbound("wechat", "openid-w2", "are you there?"))
    assert outbound.reply(cid, "agent1", "yes!", channel=None, may_take_over=False).status == "queued"


def test_replies_per_customer_message_are_limited_and_reset_by_the_next_message(aws, monkeypatch):
    monkeypatch.setattr(SmsAdapter, "replies_per_inbound", 2)
    cid = router.store(inbound("sms", "+15550400001", "hi")).conversation.conversation_id
    outbound.reply(cid, "agent1", "one", channel=None, may_take_over=False)
    outbound.reply(cid, "agent1", "two", channel=None, may_take_over=False)
    with pytest.raises(conversations.ReplyLimitReached):
        outbound.reply(cid, "agent1", "three", channel=None, may_take_over=False)
    router.store(inbound("sms", "+15550400001", "ok"))
    outbound.reply(cid, "agent1", "three", channel=None, may_take_over=False)


def test_an_approved_template_may_go_out_after_the_window_and_unknown_ones_are_refused(aws):
    secrets = boto3.client("secretsmanager")
    name = "omniflow/test/channels/wechat"
    data = json.loads(secrets.get_secret_value(SecretId=name)["SecretString"])
    data["default"]["templates"] = [
        {"name": "order_update", "language": "zh_CN", "params": 1, "preview": "订单 {1}"}
    ]
    secrets.put_secret_value(SecretId=name, SecretString=json.dumps(data))
    from tests.conftest import reset_caches

    reset_caches()
    cid = router.store(inbound("wechat", "openid-t", "hi")).conversation.conversation_id
    age_last_message(cid, "wechat#default", 100)
    with pytest.raises(outbound.UnknownTemplate):
        outbound.reply(
            cid, "agent1", "", channel=None, may_take_over=False, template=TemplateRef(name="nope")
        )
    sent = outbound.reply(
        cid,
        "agent1",
        "",
        channel=None,
        may_take_over=False,
        template=TemplateRef(name="order_update", language="zh_CN", params=("A-1001",)),
    )
    assert sent.status == "queued" and "order_update" in sent.text


def test_delivery_reports_move_forward_only_and_failures_are_shown(aws):
    cid = router.store(inbound("sms", "+15550400002", "hi")).conversation.conversation_id
    message = outbound.reply(cid, "agent1", "hello", channel=None, may_take_over=False)
    conversations.set_status(
        cid,
        int(message.seq),
        "sent",
        platform_message_id="SM123",
        platform_ref=conversations.platform_ref("sms", "default", "SM123"),
    )

    def report(state: str, error: str | None = None) -> None:
        router.store(
            inbound(
                "sms",
                "+15550400002",
                "",
                msg_id=f"SM123:{state}",
                type="status",
                status=DeliveryStatus(platform_message_id="SM123", state=state, error=error),
            )
        )

    report("read")
    report("delivered")  # arrives late: must not move the message back
    stored = Message.get(cid, message.seq)
    assert (stored.status, stored.delivery) == ("sent", "read")
    report("failed", "carrier rejected")
    stored = Message.get(cid, message.seq)
    assert (stored.status, stored.delivery, stored.error) == ("failed", "failed", "carrier rejected")
    assert [m.text for m in conversations.messages_of(cid)] == ["hi", "hello"]  # reports add no messages


def test_a_report_about_a_message_we_never_sent_changes_nothing(aws):
    assert (
        conversations.record_delivery(
            "sms", "default", DeliveryStatus(platform_message_id="SMX", state="read")
        )
        == 0
    )
