"""Kinesis consumer for Amazon Connect Contact Lens real-time transcripts: every final transcript
segment of a call is enqueued once as a voice message (see chalicelib/channels/voice.py)."""

from typing import Any

from chalicelib.channels.pipeline import register_lambda_context
from chalicelib.channels.voice import transcript_batch
from chalicelib.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    # Segments are enqueued once (pipeline.enqueue_once): an invocation that dies mid-way must not
    # leave them "in progress" for the whole dedupe TTL.
    register_lambda_context(context)
    return transcript_batch(event)
