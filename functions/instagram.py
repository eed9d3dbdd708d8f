"""Webhook Lambda for the instagram channel: the shared pipeline, bound to this channel."""

from chalicelib.channels.pipeline import lambda_handler

handler = lambda_handler("instagram")
