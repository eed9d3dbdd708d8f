"""Whether, when and where a notice may go (chalicelib/proactive/policy.py): pure decisions."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from chalicelib.proactive.policy import Candidate, decide, keyword, local_day, quiet_until
from chalicelib.proactive.rules import Limits, ProactiveRulesUpdate, QuietHours, Rule, placeholders, render

RULE = Rule(
    rule_id="shipped",
    event="order.shipped",
    template={"zh-CN": "您的订单 {order_id} 已发货", "en": "Order {order_id} has shipped"},
    channel_templates={"whatsapp": "order_update"},
)
NIGHT = QuietHours(start=time(21, 0), end=time(8, 0), timezone="Asia/Shanghai")
NOON_SHANGHAI = datetime(2026, 12, 7, 4, 0, tzinfo=UTC)  # 12:00 in Shanghai
LIMITS = Limits(quiet_hours=NIGHT, daily_cap=3)


def test_quiet_hours_across_midnight_hold_until_the_next_local_morning() -> None:
    late = datetime(2026, 12, 7, 14, 30, tzinfo=UTC)  # 22:30 Shanghai
    assert quiet_until(late, NIGHT) == datetime(2026, 12, 8, 0, 0, tzinfo=UTC)  # 08:00 next day
    early = datetime(2026, 12, 7, 22, 0, tzinfo=UTC)  # 06:00 on the 8th in Shanghai
    assert quiet_until(early, NIGHT) == datetime(2026, 12, 8, 0, 0, tzinfo=UTC)
    assert quiet_until(NOON_SHANGHAI, NIGHT) is None
    # the customer's own zone wins: noon UTC is 04:00 in New York (quiet), 20:00 in Shanghai (not)
    noon_utc = datetime(2026, 12, 7, 12, 0, tzinfo=UTC)
    assert quiet_until(noon_utc, NIGHT) is None
    assert quiet_until(noon_utc, NIGHT, "America/New_York") == datetime(2026, 12, 7, 13, 0, tzinfo=UTC)


def test_quiet_hours_end_at_local_eight_across_a_dst_change() -> None:
    # New York leaves DST on 2026-11-01: 08:00 local is 13:00 UTC after, 12:00 UTC before
    before = datetime(2026, 11, 1, 4, 0, tzinfo=UTC)  # 00:00 EDT
    assert quiet_until(before, NIGHT, "America/New_York") == datetime(2026, 11, 1, 13, 0, tzinfo=UTC)


def test_the_daily_cap_suppresses_before_anything_else() -> None:
    d = decide(RULE, [Candidate("sms")], NOON_SHANGHAI, LIMITS, sent_today=3)
    assert d.action == "suppress" and d.reason and d.reason.startswith("daily_cap")
    assert decide(RULE, [Candidate("sms")], NOON_SHANGHAI, LIMITS, sent_today=2).action == "send"


def test_quiet_hours_hold_the_notice() -> None:
    late = datetime(2026, 12, 7, 14, 30, tzinfo=UTC)
    d = decide(RULE, [Candidate("sms")], late, LIMITS, sent_today=0)
    assert (d.action, d.reason, d.due_at) == ("hold", "quiet_hours", datetime(2026, 12, 8, 0, 0, tzinfo=UTC))


def test_an_opted_out_channel_is_skipped_for_the_next_and_every_reason_is_kept() -> None:
    d = decide(
        RULE, [Candidate("sms", opted_out=True), Candidate("email")], NOON_SHANGHAI, LIMITS, sent_today=0
    )
    assert (d.action, d.channel) == ("send", "email")
    d = decide(
        RULE,
        [Candidate("sms", opted_out=True), Candidate("voice", can_send=False)],
        NOON_SHANGHAI,
        LIMITS,
        sent_today=0,
    )
    assert d.action == "suppress"
    assert d.reason == "sms: opted_out; voice: takes no written messages"


def test_outside_the_reply_window_only_an_approved_template_goes_else_the_next_channel() -> None:
    stale = NOON_SHANGHAI - timedelta(hours=49)
    wechat = Candidate("wechat", window_seconds=48 * 3600, last_inbound_at=stale)
    d = decide(RULE, [wechat, Candidate("sms")], NOON_SHANGHAI, LIMITS, sent_today=0)
    assert (d.action, d.channel, d.template) == ("send", "sms", None)
    whatsapp = Candidate(
        "whatsapp", window_seconds=24 * 3600, last_inbound_at=stale, templates=frozenset({"order_update"})
    )
    d = decide(RULE, [whatsapp], NOON_SHANGHAI, LIMITS, sent_today=0)
    assert (d.action, d.channel, d.template) == ("send", "whatsapp", "order_update")
    unapproved = Candidate("whatsapp", window_seconds=24 * 3600, last_inbound_at=stale)
    d = decide(RULE, [unapproved], NOON_SHANGHAI, LIMITS, sent_today=0)
    assert d.action == "suppress" and d.reason and "outside_window" in d.reason
    fresh = Candidate("wechat", window_seconds=48 * 3600, last_inbound_at=NOON_SHANGHAI - timedelta(hours=47))
    d = decide(RULE, [fresh], NOON_SHANGHAI, LIMITS, sent_today=0)
    assert (d.action, d.channel, d.template) == ("send", "wechat", None)


@pytest.mark.parametrize(
    ("text", "word"),
    [
        ("STOP", "stop"),
        ("stop.", "stop"),
        ("ＳＴＯＰ", "stop"),
        ("退订", "stop"),
        ("退訂", "stop"),
        ("TD", "stop"),
        (" td ", "stop"),
        ("Start", "start"),
        ("订阅", "start"),
        ("please stop sending me spam", None),
        ("退订怎么弄", None),
        ("stopped?", None),
        ("", None),
        (None, None),
    ],
)
def test_opt_out_keywords_are_the_whole_message_folded(text: str | None, word: str | None) -> None:
    assert keyword(text) == word


def test_templates_take_named_placeholders_only_and_a_missing_one_is_named() -> None:
    assert placeholders("Order {order_id} ships {eta}") == ["order_id", "eta"]
    assert render("Order {order_id}", {"order_id": "A1", "x": 1}) == "Order A1"
    with pytest.raises(KeyError, match="eta"):
        render("ETA {eta}", {})
    for bad in ("{0}", "{a.b}", "{order_id!r}", "{order_id:>10}", "oops {"):
        with pytest.raises(ValueError):
            placeholders(bad)
    with pytest.raises(ValueError):
        ProactiveRulesUpdate.model_validate(
            {
                "version": 0,
                "rules": [{"rule_id": "a", "event": "order.shipped", "template": {"en": "{__class__}"}}],
            }
        )
    with pytest.raises(ValueError, match="used twice"):
        ProactiveRulesUpdate.model_validate({"version": 0, "rules": [RULE.model_dump(), RULE.model_dump()]})


def test_the_cap_counts_per_local_day() -> None:
    late_utc = datetime(2026, 12, 7, 17, 0, tzinfo=UTC)  # already the 8th in Shanghai
    assert local_day(late_utc, LIMITS) == "2026-12-08"
    assert local_day(late_utc, LIMITS, "America/New_York") == "2026-12-07"
