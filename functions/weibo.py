"""Webhook Lambda for the weibo channel: the shared pipeline, bound to this channel."""

from chalicelib.channels.pipeline import lambda_handler

handler = lambda_handler("weibo")
