"""The voice channel's pure parts: reading Amazon Connect's contact flow event (powertools' data
class, on the shape of powertools' own sample ``tests/events/connectContactFlowEventAll.json``),
the flat string map Connect gets back, and Contact Lens transcript segments as messages."""

from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from chalicelib.channels.base import NotFound, WebhookRequest
from chalicelib.channels.voice import (
    ADAPTER,
    SUMMARY_CHARS,
    Call,
    Caller,
    MalformedEvent,
    MalformedRecord,
    call_of,
    caller_attributes,
    transcript_messages,
    transcript_segments,
    unknown_caller,
)
from chalicelib.conversations.models import CLOSED, OPEN, Conversation
from chalicelib.identity.models import Customer
from chalicelib.messages import OutboundMessage

CALLER = "+8613800138000"
CONNECT_KEY = re.compile(r"^[A-Za-z0-9_]+$")


def contact_flow_event(
    number: str | None = CALLER,
    contact_id: str | None = None,
    channel: str = "VOICE",
    parameters: dict[str, str] | None = None,
) -> dict[str, Any]:
    """A ContactFlowEvent as Connect sends it (the fields of powertools' sample event)."""
    contact_id = contact_id or str(uuid.uuid4())
    instance = "arn:aws:connect:us-east-1:123456789012:instance/11111111-2222-3333-4444-555555555555"
    data: dict[str, Any] = {
        "Attributes": {"Language": "zh-CN"},
        "Channel": channel,
        "ContactId": contact_id,
        "InitialContactId": contact_id,
        "InitiationMethod": "INBOUND",
        "InstanceARN": instance,
        "MediaStreams": {
            "Customer": {
                "Audio": {
                    "StartFragmentNumber": "91343852333181432392682062622220590765191907586",
                    "StartTimestamp": "1714550400000",
                    "StreamARN": "arn:aws:kinesisvideo:us-east-1:123456789012:stream/connect-contact-x/1",
                }
            }
        },
        "PreviousContactId": contact_id,
        "Queue": {"ARN": f"{instance}/queue/aaaa", "Name": "Support"},
        "SystemEndpoint": {"Address": "+861088880000", "Type": "TELEPHONE_NUMBER"},
    }
    if number is not None:
        data["CustomerEndpoint"] = {"Address": number, "Type": "TELEPHONE_NUMBER"}
    return {"Name": "ContactFlowEvent", "Details": {"ContactData": data, "Parameters": parameters or {}}}


def transcript(segment_id: str, who: str, content: str, begin: int = 0) -> dict[str, Any]:
    return {
        "Transcript": {
            "Id": segment_id,
            "ParticipantId": who,
            "ParticipantRole": who,
            "Content": content,
            "BeginOffsetMillis": begin,
            "EndOffsetMillis": begin + 1800,
            "Sentiment": "NEUTRAL",
        }
    }


def lens_event(contact_id: str, event_type: str = "SEGMENTS", segments: list | None = None) -> dict[str, Any]:
    """A Contact Lens real-time event as published on the Kinesis stream (admin guide, "Data model
    for conversational analytics segment streams")."""
    event: dict[str, Any] = {
        "Version": "1.0.0",
        "Channel": "VOICE",
        "AccountId": "123456789012",
        "ContactId": contact_id,
        "InstanceId": "11111111-2222-3333-4444-555555555555",
        "LanguageCode": "zh-CN",
        "EventType": event_type,
    }
    if event_type == "SEGMENTS":
        event["Segments"] = segments if segments is not None else []
    return event


def kinesis_event(*payloads: dict[str, Any] | bytes, partition_key: str = "contact") -> dict[str, Any]:
    """A Lambda event from a Kinesis event source mapping, one record per payload."""
    records = []
    for i, payload in enumerate(payloads):
        raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        sequence = f"4959{i:052d}"
        records.append(
            {
                "kinesis": {
                    "kinesisSchemaVersion": "1.0",
                    "partitionKey": partition_key,
                    "sequenceNumber": sequence,
                    "data": base64.b64encode(raw).decode(),
                    "approximateArrivalTimestamp": 1714550400.0 + i,
                },
                "eventSource": "aws:kinesis",
                "eventVersion": "1.0",
                "eventID": f"shardId-000000000000:{sequence}",
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/omniflow-voice-transcripts",
                "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/connect-contact-lens",
            }
        )
    return {"Records": records}


# ---- the contact flow event -------------------------------------------------------------------


def test_the_caller_number_and_contact_come_from_the_contact_flow_event():
    call = call_of(contact_flow_event(contact_id="5ca32fbd-8f92-46af-92a5-6b0f970f0efe"))
    assert call == Call("5ca32fbd-8f92-46af-92a5-6b0f970f0efe", "default", CALLER)
    assert call.user == CALLER


def test_a_flow_may_name_the_account_for_a_second_brand():
    assert call_of(contact_flow_event(parameters={"account": "brand2"})).account == "brand2"


@pytest.mark.parametrize(
    "event",
    [
        contact_flow_event(number=None),  # withheld
        contact_flow_event(number="anonymous"),
        contact_flow_event(number="13800138000"),  # not E.164
        contact_flow_event(channel="CHAT"),
        contact_flow_event(channel="TASK"),  # newer than powertools' enum: still not malformed
    ],
)
def test_calls_without_a_usable_number_are_anonymous_and_get_one_id_per_call(event):
    call = call_of(event)
    assert call.phone is None
    assert call.user == f"anonymous-{call.contact_id}"


@pytest.mark.parametrize(
    "event",
    [
        None,
        [],
        {},
        {"Name": "SomethingElse", "Details": {}},
        {"Name": "ContactFlowEvent"},
        {"Name": "ContactFlowEvent", "Details": {}},
        {"Name": "ContactFlowEvent", "Details": {"ContactData": {"Channel": "VOICE"}}},
        contact_flow_event(contact_id="not a contact id!"),
        contact_flow_event(parameters={"account": "a#b"}),
    ],
)
def test_malformed_contact_flow_events_are_refused(event):
    with pytest.raises(MalformedEvent):
        call_of(event)


# ---- the answer Connect gets -------------------------------------------------------------------


def customer(**kw: Any) -> Customer:
    return Customer("cus_1", created_at="2024-05-01T00:00:00.000Z", **kw)


def conversation(
    cid: str, status: str = OPEN, channel: str | None = "wechat", preview: str = ""
) -> Conversation:
    return Conversation(
        cid,
        customer_id="cus_1",
        status=status,
        group_id="g",
        created_at="2024-05-01T00:00:00.000Z",
        last_message_at="2024-05-01T00:00:00.000Z",
        last_channel=channel,
        preview=preview,
    )


def test_a_known_caller_gets_tier_vip_open_conversations_and_what_they_last_wrote():
    attrs = caller_attributes(
        customer(display_name="Li Lei", attributes={"tier": "VIP"}),
        [conversation("c2", OPEN, "wechat", "我的快递到哪了？"), conversation("c1", CLOSED, "sms", "hi")],
    )
    assert attrs == {
        "found": "true",
        "customer_id": "cus_1",
        "name": "Li Lei",
        "tier": "vip",
        "vip": "true",
        "open_conversation_count": "1",
        "last_conversation_summary": "wechat: 我的快递到哪了？",
        "last_channel": "wechat",
        "lookup": "ok",
    }


def test_vip_can_come_from_a_tag_and_the_tier_defaults_to_standard():
    attrs = caller_attributes(customer(tags={"VIP", "sensitive skin"}), [])
    assert (attrs["tier"], attrs["vip"], attrs["open_conversation_count"]) == ("standard", "true", "0")
    assert attrs["last_conversation_summary"] == attrs["last_channel"] == "" and attrs["name"] == ""


def test_the_summary_is_one_line_of_at_most_250_characters():
    attrs = caller_attributes(customer(), [conversation("c", preview="line one\nline   two\t" + "x" * 400)])
    summary = attrs["last_conversation_summary"]
    assert summary.startswith("wechat: line one line two x") and len(summary) == SUMMARY_CHARS
    assert "\n" not in summary and "\t" not in summary


def test_the_answer_is_a_flat_string_map_with_the_same_keys_known_or_not():
    known = caller_attributes(customer(display_name="李雷"), [conversation("c", preview="hi")])
    unknown = unknown_caller("not_found")
    assert set(known) == set(unknown)
    for answer in (known, unknown):
        assert all(CONNECT_KEY.match(k) and isinstance(v, str) for k, v in answer.items())
        assert len(json.dumps(answer, ensure_ascii=False).encode()) < 32 * 1024
    assert unknown["found"] == "false" and unknown["lookup"] == "not_found"


# ---- Contact Lens transcripts ------------------------------------------------------------------


def test_only_final_transcript_segments_of_voice_segment_events_are_kept():
    event = lens_event(
        "c-1",
        segments=[
            {
                "Utterance": {
                    "Id": "u1",
                    "TranscriptId": "t1",
                    "ParticipantId": "CUSTOMER",
                    "PartialContent": "my",
                }
            },
            transcript("t1", "CUSTOMER", " My parcel has not arrived. ", 1200),
            transcript("t2", "AGENT", "Let me check that for you.", 4000),
            {"Categories": {"MatchedCategories": ["delivery"], "MatchedDetails": {}}},
        ],
    )
    contact_id, segments = transcript_segments(event)
    assert contact_id == "c-1"
    assert [(s.id, s.speaker, s.content, s.begin_offset_ms) for s in segments] == [
        ("t1", "customer", "My parcel has not arrived.", 1200),
        ("t2", "agent", "Let me check that for you.", 4000),
    ]
    for other in (lens_event("c-1", "STARTED"), lens_event("c-1", "COMPLETED"), lens_event("c-1", "FAILED")):
        assert transcript_segments(other) == ("c-1", [])
    chat = lens_event("c-1", segments=[transcript("t1", "CUSTOMER", "hi")]) | {"Channel": "CHAT"}
    assert transcript_segments(chat) == ("c-1", [])


@pytest.mark.parametrize(
    "event",
    [
        {"EventType": "SEGMENTS", "Segments": []},
        lens_event("c 1"),
        lens_event("c-1") | {"Segments": {"Transcript": {}}},
        lens_event("c-1", segments=[{"Transcript": "text"}]),
        lens_event("c-1", segments=[{"Transcript": {"Id": "t1", "ParticipantId": "CUSTOMER"}}]),
        lens_event("c-1", segments=[{"Transcript": {"Content": "hi", "ParticipantId": "CUSTOMER"}}]),
        lens_event("c-1", segments=[{"Transcript": {"Id": "t1", "Content": "hi"}}]),
        lens_event(
            "c-1",
            segments=[
                {
                    "Transcript": {
                        "Id": "t1",
                        "Content": "x",
                        "ParticipantId": "AGENT",
                        "BeginOffsetMillis": "soon",
                    }
                }
            ],
        ),
    ],
)
def test_malformed_contact_lens_events_are_refused(event):
    with pytest.raises(MalformedRecord):
        transcript_segments(event)


def test_segments_become_messages_from_the_callers_verified_number_with_the_speaker_marked():
    _, segments = transcript_segments(
        lens_event("c-1", segments=[transcript("t1", "CUSTOMER", "Hello"), transcript("t2", "AGENT", "Hi")])
    )
    at = datetime(2024, 5, 1, tzinfo=UTC)
    customer_says, agent_says = transcript_messages("c-1", segments, Caller("default", CALLER, CALLER), at)
    assert (customer_says.channel, customer_says.channel_user_id, customer_says.type) == (
        "voice",
        CALLER,
        "text",
    )
    assert customer_says.hints.phone == CALLER and customer_says.hints.verified == ("phone",)
    assert (
        customer_says.platform_message_id == "c-1:t1" and customer_says.dedupe_key == "voice#default#c-1:t1"
    )
    assert (
        customer_says.reply_context["speaker"] == "customer"
        and agent_says.reply_context["speaker"] == "agent"
    )
    assert (
        agent_says.reply_context["contact_id"] == "c-1" and agent_says.reply_context["sentiment"] == "NEUTRAL"
    )
    assert customer_says.sent_at == at and customer_says.group_id == agent_says.group_id  # one FIFO group


def test_an_anonymous_callers_words_link_to_nobody():
    _, segments = transcript_segments(lens_event("c-9", segments=[transcript("t1", "CUSTOMER", "Hello")]))
    [msg] = transcript_messages("c-9", segments, Caller("default", "anonymous-c-9", None), datetime.now(UTC))
    assert msg.channel_user_id == "anonymous-c-9" and msg.hints.verified == () and msg.hints.phone is None


# ---- the adapter -------------------------------------------------------------------------------


def test_agents_cannot_write_on_voice_and_a_send_fails_for_good():
    from chalicelib.channels import webhook_channels

    assert ADAPTER.can_reply is False and ADAPTER.mailbox is False
    assert "voice" not in webhook_channels()
    out = OutboundMessage(
        message_id="c#2",
        conversation_id="c",
        seq=2,
        customer_id="cus",
        channel="voice",
        channel_user_id=CALLER,
        text="hello",
    )
    result = ADAPTER.send(out, {}, None)
    assert (result.status, result.retryable, result.error) == (
        "failed",
        False,
        "voice replies are spoken on the call",
    )


def test_voice_has_no_http_webhook():
    req = WebhookRequest("POST", "voice", (), {}, {}, b"", "https://omniflow.test/webhooks/voice")
    with pytest.raises(NotFound):
        ADAPTER.route(req, {})
