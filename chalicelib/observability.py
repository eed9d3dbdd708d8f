"""powertools Logger, Metrics and Tracer shared by every Lambda.

The service name comes from POWERTOOLS_SERVICE_NAME (set per function in infra), so logs and
metrics of each webhook Lambda, the router and the API are told apart without code changes.
Message text, phone numbers and e-mail addresses are never logged: log ids, not content.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger(service="omniflow", utc=True)
metrics = Metrics(namespace="Omniflow", service="omniflow")
# Patch only botocore: auto-patching every library imports requests & co. on the webhook's cold
# start, undoing their lazy imports (~100 ms).
tracer = Tracer(service="omniflow", patch_modules=["botocore"])


def invocation(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Run one invocation of a handler that Chalice dispatches (API routes, queue consumers) the
    way ``logger.inject_lambda_context(clear_state=True)`` runs the webhooks' plain handlers: the
    logger forgets the previous invocation's keys (correlation id, channel …) and tags every line
    with this invocation's function and request id. For Chalice's ``@app.middleware("all")``;
    ``event`` is its Request (``lambda_context``) or event object (``context``)."""
    context = getattr(event, "lambda_context", None) or getattr(event, "context", None)
    if context is None:  # invoked without a Lambda context (a direct call): still start clean
        logger.clear_state()
        return get_response(event)
    return logger.inject_lambda_context(clear_state=True)(lambda e, _context: get_response(e))(event, context)
