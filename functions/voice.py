"""Amazon Connect contact-flow Lambda ("Invoke AWS Lambda function" block): who is calling.

Answers a flat string map within the flow's time limit (see chalicelib/channels/voice.py); not an
HTTP webhook, so it does not go through the webhook pipeline.
"""

from typing import Any

from chalicelib.channels.voice import caller_profile
from chalicelib.observability import logger, metrics, tracer


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: Any) -> dict[str, str]:
    return caller_profile(event, context)
