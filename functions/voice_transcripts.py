"""Kinesis consumer for Amazon Connect Contact Lens real-time transcripts: every final transcript
segment of a call is enqueued once as a voice message (see chalicelib/channels/voice.py)."""

from typing import Any

from chalicelib.channels.voice import transcript_batch
from chalicelib.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # Kinesis retries a failed batch from its first failure: segments sent again are dropped by the
    # FIFO queue's deduplication (five minutes) and, later, by the router's dedupe marker.
    return transcript_batch(event)
