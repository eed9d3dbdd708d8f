"""The voice channel on moto: the contact flow Lambda finds the caller by number across channels
(asked on WeChat, then called: the agent sees the chat) and answers in time even when DynamoDB is
slow; Contact Lens transcript records become voice messages exactly once, with partial failures."""

from __future__ import annotations

import threading
import time
from typing import Any

import boto3
import pytest

import functions.voice as contact_flow
import functions.voice_transcripts as transcripts
from chalicelib.channels import voice
from chalicelib.identity.models import Customer
from chalicelib.messages import CustomerHints
from chalicelib.router import service as router
from infra.local.server import LambdaContext
from tests.support.factories import inbound
from tests.support.queues import drain_inbound
from tests.unit.test_voice import CALLER, contact_flow_event, kinesis_event, lens_event, transcript


def call(event: dict[str, Any]) -> dict[str, str]:
    """Invoke the contact flow Lambda as Connect does (synchronously, 8 s at most)."""
    return contact_flow.handler(event, LambdaContext("omniflow-test-voice", timeout_seconds=8))


def consume(event: dict[str, Any]) -> dict[str, Any]:
    return transcripts.handler(event, LambdaContext("omniflow-test-voice-transcripts"))


def remembered(contact_id: str) -> dict[str, Any] | None:
    item: dict[str, Any] | None = (
        boto3.client("dynamodb")
        .get_item(TableName="omniflow-test-state", Key={"key": {"S": f"contact#{contact_id}"}})
        .get("Item")
    )
    return item


def wrote_on_wechat(text: str = "我的快递到哪了？") -> str:
    """A mini-program user who shared their phone number (WeChat verified it) asks a question."""
    hints = CustomerHints(display_name="李雷", phone=CALLER, verified=("phone",))
    stored = router.store(inbound("wechat", "oOPENID-li-lei", text, hints=hints))
    assert stored is not None
    return stored.conversation.customer_id


# ---- who is calling ----------------------------------------------------------------------------


def test_a_caller_who_asked_on_wechat_is_recognised_with_the_chat_for_the_agent(aws):
    customer_id = wrote_on_wechat()
    Customer(customer_id).update(actions=[Customer.attributes.set({"tier": "vip"})])

    event = contact_flow_event()
    answer = call(event)

    assert answer == {
        "found": "true",
        "customer_id": customer_id,
        "name": "李雷",
        "tier": "vip",
        "vip": "true",
        "open_conversation_count": "1",
        "last_conversation_summary": "wechat: 我的快递到哪了？",
        "last_channel": "wechat",
        "lookup": "ok",
    }
    contact = remembered(event["Details"]["ContactData"]["ContactId"])
    assert contact is not None
    assert (contact["user"]["S"], contact["phone"]["S"], contact["account"]["S"]) == (
        CALLER,
        CALLER,
        "default",
    )
    assert abs(int(contact["expires_at"]["N"]) - (time.time() + 24 * 3600)) < 10


def test_a_caller_known_only_from_an_earlier_call_is_found_by_their_voice_identity(aws):
    stored = router.store(inbound("voice", CALLER, "[earlier call]"))  # no verified phone: voice#… only
    assert stored is not None
    answer = call(contact_flow_event())
    assert answer["found"] == "true" and answer["customer_id"] == stored.conversation.customer_id
    assert answer["last_channel"] == "voice"


def test_an_unknown_caller_is_answered_not_found_and_their_call_is_still_remembered(aws):
    event = contact_flow_event(number="+8613900000000")
    answer = call(event)
    assert answer == voice.unknown_caller("not_found")
    contact = remembered(event["Details"]["ContactData"]["ContactId"])
    assert contact is not None and contact["user"]["S"] == "+8613900000000"


def test_a_withheld_number_is_an_anonymous_contact(aws):
    event = contact_flow_event(number=None)
    assert call(event) == voice.unknown_caller("no_number")
    contact_id = event["Details"]["ContactData"]["ContactId"]
    contact = remembered(contact_id)
    assert (
        contact is not None and contact["user"]["S"] == f"anonymous-{contact_id}" and "phone" not in contact
    )


@pytest.mark.parametrize(
    "event",
    [{}, {"Name": "ContactFlowEvent"}, {"Name": "ContactFlowEvent", "Details": {"ContactData": {}}}],
)
def test_malformed_events_get_an_unknown_caller_answer_and_write_nothing(aws, event):
    assert call(event) == voice.unknown_caller("malformed_event")
    assert boto3.client("dynamodb").scan(TableName="omniflow-test-state")["Count"] == 0


def test_the_lookup_client_gives_up_quickly(aws):
    config = voice.lookup_client().meta.config
    assert (config.connect_timeout, config.read_timeout) == (1, 2)
    assert config.retries["total_max_attempts"] == 2


def test_a_slow_dynamodb_still_gets_the_caller_an_answer_in_time(aws, monkeypatch):
    wrote_on_wechat()
    monkeypatch.setenv("OMNIFLOW_VOICE_LOOKUP_SECONDS", "0.5")
    release, finished = threading.Event(), threading.Event()
    events = voice.lookup_client().meta.events

    def stall(**_: Any) -> None:  # DynamoDB answering after the caller would have hung up
        release.wait(10)

    def done(**_: Any) -> None:
        finished.set()

    events.register("before-call.dynamodb.GetItem", stall, unique_id="test-stall")
    events.register("after-call.dynamodb.GetItem", done, unique_id="test-done")
    try:
        started = time.monotonic()
        answer = call(contact_flow_event())
        elapsed = time.monotonic() - started
    finally:
        release.set()
        finished.wait(10)  # let the abandoned lookup finish while moto is still up
        events.unregister("before-call.dynamodb.GetItem", unique_id="test-stall")
        events.unregister("after-call.dynamodb.GetItem", unique_id="test-done")
    assert answer == voice.unknown_caller("timeout")
    assert elapsed < 1.5


# ---- what was said -----------------------------------------------------------------------------


def test_transcript_segments_are_stored_once_in_the_callers_conversation(aws):
    customer_id = wrote_on_wechat()
    event = contact_flow_event()
    contact_id = event["Details"]["ContactData"]["ContactId"]
    call(event)

    stream = kinesis_event(
        lens_event(contact_id, "STARTED"),
        lens_event(
            contact_id,
            segments=[
                {
                    "Utterance": {
                        "Id": "u1",
                        "TranscriptId": "t1",
                        "ParticipantId": "CUSTOMER",
                        "PartialContent": "我",
                    }
                },
                transcript("t1", "CUSTOMER", "我的快递还没到。", 900),
                transcript("t2", "AGENT", "我看到您在微信上问过，马上帮您查。", 3200),
            ],
        ),
        lens_event(contact_id, "COMPLETED"),
        partition_key=contact_id,
    )
    assert consume(stream) == {"batchItemFailures": []}
    assert consume(stream) == {"batchItemFailures": []}  # Kinesis delivered the batch again

    messages = drain_inbound(aws)
    assert [(m.reply_context["speaker"], m.text) for m in messages] == [
        ("customer", "我的快递还没到。"),
        ("agent", "我看到您在微信上问过，马上帮您查。"),
    ]
    assert {m.platform_message_id for m in messages} == {f"{contact_id}:t1", f"{contact_id}:t2"}
    conversations = {router.store(m).conversation.conversation_id for m in messages}  # type: ignore[union-attr]
    from chalicelib.conversations import service as conversation_service

    [conversation] = conversation_service.conversations_of(customer_id)
    assert conversations == {conversation.conversation_id}
    assert conversation.channels == {"wechat", "voice"}
    # the agent's words are the company's side of the thread, not customer activity
    stored = conversation_service.messages_of(conversation.conversation_id)
    assert [(m.direction, m.text) for m in stored[-2:]] == [
        ("in", "我的快递还没到。"),
        ("out", "我看到您在微信上问过，马上帮您查。"),
    ]
    assert stored[-1].author_id and not stored[-1].author_id.startswith("cus")
    assert conversation.last_channel == "voice"  # from the customer's words, not the agent's
    # a written reply after the call goes where the customer can read it: WeChat
    from chalicelib.outbound import service as outbound

    assert outbound.choose_target(conversation)[0] == "wechat"


def test_a_kinesis_retry_of_a_segment_is_stored_once(aws):
    """Kinesis retries a batch from its first failure: the segment is sent again (no dedupe table
    on the way, the lean path) and the router's dedupe marker keeps it to one message."""
    event = contact_flow_event()
    contact_id = event["Details"]["ContactData"]["ContactId"]
    call(event)
    stream = kinesis_event(lens_event(contact_id, segments=[transcript("t1", "CUSTOMER", "喂？", 500)]))
    results = []
    for _ in range(2):
        assert consume(stream) == {"batchItemFailures": []}
        [msg] = drain_inbound(aws)
        assert msg.platform_message_id == f"{contact_id}:t1"
        results.append(router.store(msg))
    first, again = results
    assert first is not None and not first.duplicate
    assert again is None or again.duplicate
    from chalicelib.conversations import service as conversation_service

    texts = [m.text for m in conversation_service.messages_of(first.conversation.conversation_id)]
    assert texts.count("喂？") == 1


def test_bad_records_are_reported_alone_and_the_rest_of_the_batch_is_enqueued(aws):
    event = contact_flow_event()
    contact_id = event["Details"]["ContactData"]["ContactId"]
    call(event)
    stream = kinesis_event(
        lens_event(contact_id, segments=[transcript("t1", "CUSTOMER", "Hello?")]),
        lens_event("never-seen-by-the-flow", segments=[transcript("t1", "CUSTOMER", "Hi")]),
        b"\x00not json",
        lens_event(contact_id, segments=[transcript("t2", "CUSTOMER", "Are you there?")]),
    )
    records = stream["Records"]
    result = consume(stream)
    assert result == {
        "batchItemFailures": [
            {"itemIdentifier": records[1]["kinesis"]["sequenceNumber"]},
            {"itemIdentifier": records[2]["kinesis"]["sequenceNumber"]},
        ]
    }
    assert [m.text for m in drain_inbound(aws)] == ["Hello?", "Are you there?"]


def test_an_anonymous_callers_transcript_is_kept_under_a_per_call_identity(aws):
    event = contact_flow_event(number=None)
    contact_id = event["Details"]["ContactData"]["ContactId"]
    call(event)
    consume(
        kinesis_event(lens_event(contact_id, segments=[transcript("t1", "CUSTOMER", "I'd rather not say")]))
    )
    [msg] = drain_inbound(aws)
    assert msg.channel_user_id == f"anonymous-{contact_id}" and msg.hints.verified == ()


def test_when_dynamodb_fails_the_caller_is_still_answered_and_the_failure_is_visible(aws):
    from botocore.exceptions import EndpointConnectionError

    wrote_on_wechat()
    events = voice.lookup_client().meta.events

    def unreachable(**_: Any) -> None:
        raise EndpointConnectionError(endpoint_url="https://dynamodb.us-east-1.amazonaws.com")

    events.register("before-call.dynamodb.Query", unreachable, unique_id="test-query-down")
    events.register("before-call.dynamodb.PutItem", unreachable, unique_id="test-put-down")
    try:
        event = contact_flow_event()
        answer = call(event)
    finally:
        events.unregister("before-call.dynamodb.Query", unique_id="test-query-down")
        events.unregister("before-call.dynamodb.PutItem", unique_id="test-put-down")
    assert answer == voice.unknown_caller("error")
    assert remembered(event["Details"]["ContactData"]["ContactId"]) is None


def test_after_an_agent_merges_two_customers_the_caller_is_the_merged_one(aws):
    from chalicelib.conversations import merge as customer_merge

    phone_owner = wrote_on_wechat()
    other = router.store(inbound("sms", "+15550001111", "hello from my US number"))
    assert other is not None
    target = other.conversation.customer_id
    customer_merge.merge(target, phone_owner, actor="supervisor")
    assert call(contact_flow_event())["customer_id"] == target


def test_a_record_that_is_json_but_not_an_event_is_reported(aws):
    stream = kinesis_event(b"[1, 2, 3]")
    assert consume(stream) == {
        "batchItemFailures": [{"itemIdentifier": stream["Records"][0]["kinesis"]["sequenceNumber"]}]
    }
