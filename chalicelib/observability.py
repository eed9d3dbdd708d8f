"""powertools Logger, Metrics and Tracer shared by every Lambda.

The service name comes from POWERTOOLS_SERVICE_NAME (set per function in infra), so logs and
metrics of each webhook Lambda, the router and the API are told apart without code changes.
Message text, phone numbers and e-mail addresses are never logged: log ids, not content.
"""

from __future__ import annotations

from aws_lambda_powertools import Logger, Metrics, Tracer

logger = Logger(service="omniflow", utc=True)
metrics = Metrics(namespace="Omniflow", service="omniflow")
# Patch only botocore: auto-patching every library imports requests & co. on the webhook's cold
# start, undoing their lazy imports (~100 ms).
tracer = Tracer(service="omniflow", patch_modules=["botocore"])
