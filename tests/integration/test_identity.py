"""One customer, one id (C2): identity resolution, races, merges."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from chalicelib.conversations import merge as customer_merge
from chalicelib.identity import service as identity
from chalicelib.identity.models import Customer, Identity
from chalicelib.messages import CustomerHints
from chalicelib.router import service as router
from tests.support.factories import inbound


def test_the_same_channel_identity_is_always_the_same_customer(aws):
    first = router.store(inbound("wechat", "openid-1", "hi"))
    second = router.store(inbound("wechat", "openid-1", "again"))
    assert first.conversation.customer_id == second.conversation.customer_id
    assert second.conversation.conversation_id == first.conversation.conversation_id


def test_a_verified_phone_links_sms_and_the_signed_web_identity(aws):
    sms = router.store(
        inbound("sms", "+8613800138000", hints=CustomerHints(phone="+8613800138000", verified=("phone",)))
    )
    web = router.store(
        inbound(
            "web",
            "v_abc",
            hints=CustomerHints(
                phone="+8613800138000", external_id="u-42", verified=("phone", "external_id")
            ),
        )
    )
    assert web.conversation.customer_id == sms.conversation.customer_id
    customer = Customer.get(sms.conversation.customer_id)
    assert {i.channel for i in identity.identities_of(customer.customer_id) if i.kind == "channel"} == {
        "sms",
        "web",
    }
    assert Identity.get("phone#+8613800138000").customer_id == customer.customer_id


def test_an_unverified_hint_is_kept_for_agents_but_links_nobody(aws):
    known = router.store(
        inbound(
            "email", "alice@example.com", hints=CustomerHints(email="alice@example.com", verified=("email",))
        )
    )
    visitor = router.store(inbound("web", "v_anon", hints=CustomerHints(email="alice@example.com")))
    assert visitor.conversation.customer_id != known.conversation.customer_id
    assert Customer.get(visitor.conversation.customer_id).unverified_hints.as_dict() == {
        "email": "alice@example.com"
    }


def test_a_wechat_unionid_links_the_official_account_and_the_mini_program(aws):
    oa = router.store(
        inbound("wechat", "oa-openid", account="oa", hints=CustomerHints(unionid="U1", verified=("unionid",)))
    )
    mp = router.store(
        inbound(
            "wechat", "mp-openid", account="mini", hints=CustomerHints(unionid="U1", verified=("unionid",))
        )
    )
    assert oa.conversation.customer_id == mp.conversation.customer_id


def test_simultaneous_first_messages_from_one_identity_create_one_customer(aws):
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda i: router.store(inbound("sms", "+15550009999", f"m{i}")), range(8)))
    assert len({r.conversation.customer_id for r in results}) == 1
    assert len({r.conversation.conversation_id for r in results}) == 1
    assert sorted(r.message.seq for r in results) == list(range(1, 9))


def test_simultaneous_first_messages_on_two_channels_with_one_verified_phone_create_one_customer(aws):
    phone = "+447700900123"

    def write(i: int):
        channel = "sms" if i % 2 else "web"
        user = phone if channel == "sms" else f"v_{i}"
        return router.store(inbound(channel, user, hints=CustomerHints(phone=phone, verified=("phone",))))

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(write, range(6)))
    owners = {identity.get_customer(r.conversation.customer_id).customer_id for r in results}
    assert len(owners) == 1


def test_a_merge_moves_identities_and_conversations_and_is_audited_and_reversible(aws):
    from chalicelib.audit import service as audit

    a = router.store(inbound("sms", "+15550000001")).conversation.customer_id
    b = router.store(inbound("wechat", "openid-b")).conversation.customer_id
    details = customer_merge.merge(a, b, actor="supervisor")
    assert Identity.get("wechat#default#openid-b").customer_id == a
    assert identity.get_customer(b).customer_id == a
    again = router.store(inbound("wechat", "openid-b", "after merge"))
    assert again.conversation.customer_id == a
    record = audit.history(f"customer#{a}")[0]
    assert record.action == "customer.merge" and record.actor == "supervisor"
    customer_merge.unmerge(a, details, actor="supervisor")
    assert Identity.get("wechat#default#openid-b").customer_id == b
    assert identity.get_customer(b).customer_id == b


def test_an_email_customer_lists_their_address_once_not_as_a_channel_and_a_contact(aws):
    stored = router.store(
        inbound(
            "email", "alice@example.com", hints=CustomerHints(email="alice@example.com", verified=("email",))
        )
    )
    cid = stored.conversation.customer_id
    every = identity.identities_of(cid)
    assert "email#alice@example.com" in {i.identity_key for i in every}
    assert len(every) == 2  # the channel identity and the contact identity: one address
    shown = identity.shown_identities(cid)
    assert [(i.kind, i.channel, i.user_id) for i in shown] == [("channel", "email", "alice@example.com")]


def test_a_contact_on_another_address_than_the_channel_stays_listed(aws):
    web = router.store(
        inbound(
            "web",
            "v_bob",
            hints=CustomerHints(phone="+8613800138009", external_id="u-9", verified=("phone", "external_id")),
        )
    )
    shown = identity.shown_identities(web.conversation.customer_id)
    assert {i.kind for i in shown} == {"channel", "phone", "external_id"}


def test_the_contact_of_a_customer_without_a_name_prefers_verified_then_typed(aws):
    verified = router.store(
        inbound("sms", "+8613800138007", hints=CustomerHints(phone="+8613800138007", verified=("phone",)))
    )
    assert identity.contact_of(Customer.get(verified.conversation.customer_id)) == "+8613800138007"
    typed = router.store(inbound("web", "v_offline", hints=CustomerHints(email="left@example.com")))
    assert identity.contact_of(Customer.get(typed.conversation.customer_id)) == "left@example.com"
    nothing = router.store(inbound("wechat", "o_quiet", "hi"))
    assert identity.contact_of(Customer.get(nothing.conversation.customer_id)) is None
