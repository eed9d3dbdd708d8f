"""Phone calls through Amazon Connect: the ``voice`` channel. Not a webhook: Connect calls our
Lambdas directly (authorized by IAM), so nothing here is reachable over HTTP.

1. **Who is calling** (``functions/voice.py``): the contact flow's "Invoke AWS Lambda function" block
   sends a ``ContactFlowEvent`` with the caller's number. We answer inside Connect's 8 s limit with
   a flat string map (customer, tier, VIP, open conversations, what they last wrote about and where)
   for routing and the agent's screen pop: the caller who asked on WeChat an hour ago reaches an
   agent who already sees that chat. We also remember ContactId → number in the state table
   (``contact#<ContactId>``, one day), because Contact Lens' stream does not carry the number.
2. **What was said** (``functions/voice_transcripts.py``): Contact Lens real-time analysis puts
   ``SEGMENTS`` events on a Kinesis stream; every final ``Transcript`` segment becomes one
   ``InboundMessage`` from the caller's number (``reply_context["speaker"]`` says whether the
   customer or the agent spoke) and is enqueued through the webhook pipeline's ``enqueue_once``
   (FIFO deduplication, then the router's dedupe marker: stored exactly once).
3. **Replies** are spoken on the call: ``can_reply = False`` keeps voice out of the channels an
   agent can write to, and ``send`` refuses for good if anything tries.

Record format: https://docs.aws.amazon.com/connect/latest/adminguide/real-time-contact-analysis-segment-streams-data-model.html
(``Version, Channel, AccountId, ContactId, InstanceId, LanguageCode, EventType`` and, for
``SEGMENTS``, ``Segments[]`` of ``Utterance`` (partial) / ``Transcript`` (final: ``Id,
ParticipantId, ParticipantRole, Content, BeginOffsetMillis, EndOffsetMillis, Sentiment``) /
``Categories`` / ``PostContactSummary``).
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Mapping
from collections.abc import Sequence
from concurrent.futures import Future
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from datetime import UTC
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING
from typing import Any

from chalicelib.channels.base import ChannelAdapter
from chalicelib.channels.base import NotFound
from chalicelib.channels.base import Response
from chalicelib.channels.base import WebhookRequest
from chalicelib.messages import CustomerHints
from chalicelib.messages import HintField
from chalicelib.messages import InboundMessage
from chalicelib.messages import OutboundMessage
from chalicelib.messages import SendResult

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.data_classes.kinesis_stream_event import KinesisStreamRecord

    from chalicelib.conversations.models import Conversation
    from chalicelib.identity.models import Customer

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
_ACCOUNT = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_CONTACT_ID = re.compile(r"^[A-Za-z0-9-]{1,256}$")
_SEGMENT_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,256}$")
_CONTROL = re.compile(r"\s+")

CONTACT_TTL_SECONDS = 24 * 3600
#: Seconds the contact flow Lambda spends looking the caller up before answering "not found".
#: Connect waits at most 8 s (InvocationTimeLimitSeconds ≤ 8); a cold start and the way back
#: to Connect need the rest.
DEFAULT_LOOKUP_SECONDS = 5.0
HISTORY_CONVERSATIONS = 20
SUMMARY_CHARS = 250
MAX_MERGE_HOPS = 5
VIP_TIERS = frozenset({"vip"})
REPLY_REFUSAL = "voice replies are spoken on the call"

# ---- the adapter --------------------------------------------------------------------------------


class VoiceAdapter(ChannelAdapter):
    name = "voice"
    #: Agents answer by speaking: the core must not offer voice as a reply channel.
    #: (No HTTP webhook either: voice is in ``channels.WITHOUT_WEBHOOK``; Connect invokes the
    #: Lambdas of infra/app.yaml's voice section directly.)
    can_reply = False

    def route(self, req: WebhookRequest, creds: Mapping[str, str]) -> Response | None:
        raise NotFound("voice has no webhook: Amazon Connect invokes its Lambdas directly")

    def send(self, msg: OutboundMessage, creds: Mapping[str, str], http: Any) -> SendResult:
        """Nothing to send: the agent talks on the call. Final, so the sender does not retry."""
        return SendResult(status="failed", error=REPLY_REFUSAL, retryable=False)


ADAPTER = VoiceAdapter()

# ---- 1. who is calling (contact flow) --------------------------------------------------------


class MalformedEvent(ValueError):
    """Not a contact flow event we can read (misconfigured flow or a test invocation)."""


@dataclass(frozen=True)
class Call:
    """One contact as the flow reports it."""

    contact_id: str
    account: str
    phone: str | None  # E.164, or None when the number is withheld / not a phone call

    @property
    def user(self) -> str:
        """The caller's id on this channel: their number, or one id per anonymous call (an
        unknown caller still gets their words stored, just linked to nobody)."""
        return self.phone or f"anonymous-{self.contact_id}"


def call_of(event: Mapping[str, Any]) -> Call:
    """Read a ``ContactFlowEvent`` with powertools' data class. Raises MalformedEvent."""
    from aws_lambda_powertools.utilities.data_classes import ConnectContactFlowEvent

    if not isinstance(event, Mapping) or event.get("Name") != "ContactFlowEvent":
        raise MalformedEvent("not a ContactFlowEvent")
    try:
        flow = ConnectContactFlowEvent(dict(event))
        data = flow.contact_data
        contact_id = data.contact_id
        parameters = flow["Details"].get("Parameters") or {}  # optional: the block may pass none
        account = parameters.get("account", "default") if isinstance(parameters, dict) else "default"
        # The data class reads CustomerEndpoint with [] (KeyError when absent, e.g. a chat).
        endpoint = data.customer_endpoint if data.get("CustomerEndpoint") else None
        # Compared as strings: the data class's enums know only VOICE/CHAT and TELEPHONE_NUMBER
        # and raise on anything newer (TASK, EMAIL …), which is not a malformed event.
        is_phone = (
            data.get("Channel") == "VOICE"
            and endpoint is not None
            and endpoint.get("Type") == "TELEPHONE_NUMBER"
        )
        address = endpoint.address if is_phone and endpoint is not None else None
    except (KeyError, TypeError, AttributeError) as exc:
        raise MalformedEvent(f"contact flow event lacks {exc}") from exc
    if not isinstance(contact_id, str) or not _CONTACT_ID.match(contact_id):
        raise MalformedEvent("ContactId is missing or malformed")
    if not isinstance(account, str) or not _ACCOUNT.match(account):
        raise MalformedEvent("Parameters.account must be 1..64 of [A-Za-z0-9_-]")
    phone = address if isinstance(address, str) and E164.match(address) else None
    return Call(contact_id=contact_id, account=account, phone=phone)


def unknown_caller(lookup: str) -> dict[str, str]:
    """The answer when we do not know the caller (or could not find out in time). Every key is
    always present so the flow's "Check contact attributes" blocks never meet a missing one."""
    return {
        "found": "false",
        "customer_id": "",
        "name": "",
        "tier": "standard",
        "vip": "false",
        "open_conversation_count": "0",
        "last_conversation_summary": "",
        "last_channel": "",
        "lookup": lookup,
    }


def _one_line(text: str) -> str:
    """Connect shows and may speak attribute values: no newlines or runs of spaces."""
    return _CONTROL.sub(" ", text).strip()


def caller_attributes(customer: Customer, conversations: Sequence[Conversation]) -> dict[str, str]:
    """The flat string map Connect expects (STRING_MAP response validation). Pure.

    ``conversations`` are the customer's most recent first. Tickets do not exist yet, so there is
    no open ticket count: ``open_conversation_count`` counts open conversations among the recent.
    """
    from chalicelib.conversations.models import OPEN

    attributes = customer.attributes.as_dict() if customer.attributes is not None else {}
    tier = str(attributes.get("tier") or "standard").strip().lower() or "standard"
    tags = {t.lower() for t in customer.tags or ()}
    vip = tier in VIP_TIERS or "vip" in tags
    last = conversations[0] if conversations else None
    summary = ""
    if last is not None:
        channel = last.last_channel or ""
        summary = _one_line(f"{channel}: {last.preview or ''}" if channel else last.preview or "")
    return {
        "found": "true",
        "customer_id": customer.customer_id,
        "name": _one_line(customer.display_name or "")[:SUMMARY_CHARS],
        "tier": _one_line(tier)[:64],
        "vip": "true" if vip else "false",
        "open_conversation_count": str(sum(1 for c in conversations if c.status == OPEN)),
        "last_conversation_summary": summary[:SUMMARY_CHARS],
        "last_channel": (last.last_channel or "") if last is not None else "",
        "lookup": "ok",
    }


def lookup_seconds() -> float:
    return float(os.environ.get("OMNIFLOW_VOICE_LOOKUP_SECONDS") or DEFAULT_LOOKUP_SECONDS)


@cache
def _lookup_client(region: str, endpoint_url: str | None) -> Any:
    """A DynamoDB client for the caller lookup only: short timeouts and one retry, so a slow
    DynamoDB makes us answer "not found" in time instead of keeping the caller waiting in silence.
    (The shared client waits up to 10 s per read, which is right for the core, not here.)"""
    from botocore.config import Config

    from chalicelib.aws import session

    config = Config(connect_timeout=1, read_timeout=2, retries={"mode": "standard", "total_max_attempts": 2})
    return session().client("dynamodb", region_name=region, endpoint_url=endpoint_url, config=config)


def lookup_client() -> Any:
    from chalicelib.config import settings

    s = settings()
    return _lookup_client(s.region, s.endpoint_url)


def find_customer(ddb: Any, phone: str, account: str) -> Customer | None:
    """The customer who owns this number: a verified phone from any channel first (they wrote on
    SMS or WeChat with it), else an earlier call from it. GetItems only; merges are followed."""
    from chalicelib.config import settings
    from chalicelib.identity.models import Customer

    identities = settings().table("identities")
    customer_id = None
    for key in (f"phone#{phone}", f"voice#{account}#{phone}"):
        item = ddb.get_item(
            TableName=identities,
            Key={"identity_key": {"S": key}},
            ProjectionExpression="customer_id",
        ).get("Item")
        if item and "customer_id" in item:
            customer_id = item["customer_id"]["S"]
            break
    customers = settings().table("customers")
    for _ in range(MAX_MERGE_HOPS):
        if customer_id is None:
            return None
        item = ddb.get_item(TableName=customers, Key={"customer_id": {"S": customer_id}}).get("Item")
        if not item:
            return None  # claimed a moment ago, customer not written yet: as good as unknown
        customer = Customer.from_raw_data(item)
        if not customer.merged_into:
            return customer
        customer_id = customer.merged_into
    return None


def recent_conversations(ddb: Any, customer_id: str) -> list[Conversation]:
    """The customer's latest conversations, newest first: one Query on ``by_customer``."""
    from chalicelib.config import settings
    from chalicelib.conversations.models import Conversation

    result = ddb.query(
        TableName=settings().table("conversations"),
        IndexName="by_customer",
        KeyConditionExpression="customer_id = :c",
        ExpressionAttributeValues={":c": {"S": customer_id}},
        ScanIndexForward=False,
        Limit=HISTORY_CONVERSATIONS,
    )
    return [Conversation.from_raw_data(i) for i in result.get("Items", [])]


def remember_contact(ddb: Any, call: Call) -> None:
    """ContactId → caller, for the transcript consumer (Contact Lens records carry no number)."""
    from chalicelib.config import settings

    item: dict[str, Any] = {
        "key": {"S": f"contact#{call.contact_id}"},
        "account": {"S": call.account},
        "user": {"S": call.user},
        "expires_at": {"N": str(int(time.time()) + CONTACT_TTL_SECONDS)},
    }
    if call.phone:
        item["phone"] = {"S": call.phone}
    ddb.put_item(TableName=settings().table("state"), Item=item)


def lookup(ddb: Any, call: Call) -> dict[str, str]:
    if call.phone is None:
        return unknown_caller("no_number")
    customer = find_customer(ddb, call.phone, call.account)
    if customer is None:
        return unknown_caller("not_found")
    return caller_attributes(customer, recent_conversations(ddb, customer.customer_id))


# Worker threads let us answer at the deadline even while a DynamoDB call is still in flight
# (botocore cannot be interrupted); a late result is simply dropped.
_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="voice-lookup")


def caller_profile(event: Mapping[str, Any], context: Any = None) -> dict[str, str]:
    """The contact flow Lambda's answer. Never raises: a flow that gets an error takes its error
    branch, and a caller is better routed as unknown than dropped."""
    from botocore.exceptions import ConnectTimeoutError
    from botocore.exceptions import ReadTimeoutError

    from chalicelib.observability import logger
    from chalicelib.observability import metrics

    started = time.monotonic()
    try:
        call = call_of(event)
    except MalformedEvent as exc:
        logger.warning("contact flow event refused", extra={"reason": str(exc)})
        _count(metrics, "VoiceLookupMalformed")
        return unknown_caller("malformed_event")
    logger.set_correlation_id(call.contact_id)
    budget = lookup_seconds()
    if context is not None and hasattr(context, "get_remaining_time_in_millis"):
        budget = min(budget, context.get_remaining_time_in_millis() / 1000 - 0.5)
    deadline = started + max(budget, 0.1)
    ddb = lookup_client()  # created here, not in the workers: client creation is not thread-safe
    remembered = _POOL.submit(remember_contact, ddb, call)
    found = _POOL.submit(lookup, ddb, call)
    try:
        answer = found.result(timeout=max(deadline - time.monotonic(), 0))
    except (FutureTimeout, ConnectTimeoutError, ReadTimeoutError):
        _count(metrics, "VoiceLookupTimeouts")
        answer = unknown_caller("timeout")
    except Exception:  # noqa: BLE001 — the caller is routed as unknown; the trace goes to our logs
        logger.exception("caller lookup failed")
        _count(metrics, "VoiceLookupErrors")
        answer = unknown_caller("error")
    _settle(remembered, deadline, logger, metrics)
    _count(metrics, "VoiceCallersFound" if answer["found"] == "true" else "VoiceCallersUnknown")
    return answer


def _settle(remembered: Future[None], deadline: float, logger: Any, metrics: Any) -> None:
    """Wait for the ContactId → number write until the deadline; a failure costs the call's
    transcripts their attribution, so it is logged and counted (they will be parked, not lost)."""
    try:
        remembered.result(timeout=max(deadline - time.monotonic(), 0))
    except Exception:  # already answering the caller: make the failure visible instead
        logger.exception("contact not remembered: its transcripts cannot be attributed")
        _count(metrics, "VoiceContactsNotRemembered")


def _count(metrics: Any, name: str) -> None:
    from aws_lambda_powertools.metrics import MetricUnit

    metrics.add_metric(name=name, unit=MetricUnit.Count, value=1)


# ---- 2. what was said (Contact Lens transcripts on Kinesis) ------------------------------------


class MalformedRecord(ValueError):
    """A stream record that is not a Contact Lens event we can read. Retrying cannot fix it, but
    failing it parks it (with its shard and sequence number) where an operator sees it."""


class UnknownContact(LookupError):
    """No ContactId → caller entry: the contact flow did not invoke functions/voice.py for this
    contact (or its write failed). Failed, so the record is retried, then parked."""


@dataclass(frozen=True)
class Segment:
    """One final transcript segment (Contact Lens ``Transcript``)."""

    id: str
    speaker: str  # customer | agent (| supervisor, system …: the role, lower-cased)
    content: str
    begin_offset_ms: int
    end_offset_ms: int
    sentiment: str


@dataclass(frozen=True)
class Caller:
    """What the contact flow Lambda remembered about a contact."""

    account: str
    user: str
    phone: str | None


def transcript_segments(event: Mapping[str, Any]) -> tuple[str, list[Segment]]:
    """(ContactId, final transcript segments) of one Contact Lens event. Pure.

    Only ``SEGMENTS`` events of ``VOICE`` contacts carry speech; ``Utterance`` segments are
    partial text that a later ``Transcript`` segment repeats in full, so only the latter count.
    """
    contact_id = event.get("ContactId")
    if not isinstance(contact_id, str) or not _CONTACT_ID.match(contact_id):
        raise MalformedRecord("ContactId is missing or malformed")
    if event.get("EventType") != "SEGMENTS" or event.get("Channel", "VOICE") != "VOICE":
        return contact_id, []
    raw_segments = event.get("Segments")
    if not isinstance(raw_segments, list):
        raise MalformedRecord("a SEGMENTS event without a Segments list")
    found = []
    for raw in raw_segments:
        transcript = raw.get("Transcript") if isinstance(raw, dict) else None
        if transcript is None:
            continue
        found.append(_segment(transcript))
    return contact_id, found


def _segment(t: Any) -> Segment:
    if not isinstance(t, dict):
        raise MalformedRecord("Transcript is not an object")
    segment_id, content = t.get("Id"), t.get("Content")
    if not isinstance(segment_id, str) or not _SEGMENT_ID.match(segment_id):
        raise MalformedRecord("Transcript.Id is missing or malformed")
    if not isinstance(content, str) or not content.strip():
        raise MalformedRecord("Transcript.Content is missing")
    who = str(t.get("ParticipantRole") or t.get("ParticipantId") or "").strip().lower()
    if not who:
        raise MalformedRecord("Transcript has no participant")
    try:
        begin, end = int(t.get("BeginOffsetMillis", 0)), int(t.get("EndOffsetMillis", 0))
    except (TypeError, ValueError) as exc:
        raise MalformedRecord("Transcript offsets are not numbers") from exc
    return Segment(
        id=segment_id,
        speaker=who[:32],
        content=content.strip(),
        begin_offset_ms=begin,
        end_offset_ms=end,
        sentiment=str(t.get("Sentiment") or "")[:16],
    )


def transcript_messages(
    contact_id: str, segments: Sequence[Segment], caller: Caller, arrived_at: datetime
) -> list[InboundMessage]:
    """Each segment as a message from the caller's identity. Pure.

    Agent speech is enqueued too (the record of the call is both halves), marked
    ``reply_context["speaker"] = "agent"``: the inbound model only knows customer messages, so the
    core must show those as the agent's side (see docs/channels/voice.md).
    """
    verified: tuple[HintField, ...] = ("phone",) if caller.phone else ()
    hints = CustomerHints(phone=caller.phone, verified=verified)
    return [
        InboundMessage(
            channel="voice",
            account=caller.account,
            channel_user_id=caller.user,
            hints=hints,
            type="text",
            text=s.content,
            platform_message_id=f"{contact_id}:{s.id}",
            sent_at=arrived_at,
            reply_context={
                "speaker": s.speaker,
                "contact_id": contact_id,
                "begin_offset_ms": str(s.begin_offset_ms),
                "end_offset_ms": str(s.end_offset_ms),
                "sentiment": s.sentiment,
            },
        )
        for s in segments
    ]


def caller_of(contact_id: str) -> Caller:
    """What the contact flow remembered (one GetItem on the state table). Raises UnknownContact."""
    from chalicelib.aws import client
    from chalicelib.config import settings

    item = (
        client("dynamodb")
        .get_item(
            TableName=settings().table("state"),
            Key={"key": {"S": f"contact#{contact_id}"}},
            ConsistentRead=True,
        )
        .get("Item")
    )
    if not item or "user" not in item:
        raise UnknownContact(f"no caller remembered for contact {contact_id}")
    phone = item.get("phone", {}).get("S")
    return Caller(
        account=item.get("account", {}).get("S", "default"),
        user=item["user"]["S"],
        phone=phone if phone and E164.match(phone) else None,
    )


def _decode(record: KinesisStreamRecord) -> dict[str, Any]:
    try:
        data = record.kinesis.data_as_json()
    except (ValueError, UnicodeDecodeError, TypeError) as exc:  # binascii.Error is a ValueError
        raise MalformedRecord("record data is not base64 JSON") from exc
    if not isinstance(data, dict):
        raise MalformedRecord("record data is not a JSON object")
    return data


def transcript_record(record: KinesisStreamRecord) -> int:
    """Enqueue one stream record's transcript segments; returns how many. Redelivered records
    (Kinesis retries from the first failure of a batch) are dropped by the FIFO queue's
    deduplication and, after its five minutes, by the router's dedupe marker."""
    from chalicelib.channels.pipeline import enqueue_once
    from chalicelib.observability import logger

    contact_id, segments = transcript_segments(_decode(record))
    if not segments:
        return 0
    logger.set_correlation_id(contact_id)
    caller = caller_of(contact_id)
    arrived_at = datetime.fromtimestamp(record.kinesis.approximate_arrival_timestamp, UTC)
    messages = transcript_messages(contact_id, segments, caller, arrived_at)
    for msg in messages:  # in stream order: one FIFO group per caller keeps them in order
        enqueue_once(msg)
    return len(messages)


def transcript_batch(event: dict[str, Any]) -> dict[str, Any]:
    """The Kinesis consumer's body: ``{"batchItemFailures": [...]}`` for ReportBatchItemFailures."""
    from aws_lambda_powertools.metrics import MetricUnit
    from aws_lambda_powertools.utilities.batch import BatchProcessor
    from aws_lambda_powertools.utilities.batch import EventType
    from aws_lambda_powertools.utilities.batch import process_partial_response

    from chalicelib.observability import logger
    from chalicelib.observability import metrics

    enqueued = 0

    def handle(record: KinesisStreamRecord) -> None:
        nonlocal enqueued
        try:
            enqueued += transcript_record(record)
        except Exception as exc:
            # Reported as failed: Kinesis retries from here, then parks it (infra/app.yaml).
            logger.exception(
                "transcript record failed",
                extra={"reason": type(exc).__name__, "sequence_number": record.kinesis.sequence_number},
            )
            raise

    processor = BatchProcessor(event_type=EventType.KinesisDataStreams, raise_on_entire_batch_failure=False)
    result: dict[str, Any] = dict(
        process_partial_response(event=event, record_handler=handle, processor=processor)
    )
    metrics.add_metric(name="VoiceSegmentsEnqueued", unit=MetricUnit.Count, value=enqueued)
    failures = len(list(result.get("batchItemFailures") or []))
    if failures:
        metrics.add_metric(name="VoiceRecordsFailed", unit=MetricUnit.Count, value=failures)
    return result
