"""Webhook Lambda for the line channel: the shared pipeline, bound to this channel."""

from chalicelib.channels.pipeline import lambda_handler

handler = lambda_handler("line")
