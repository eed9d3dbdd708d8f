"""Webhook Lambda for the whatsapp channel: the shared pipeline, bound to this channel."""

from chalicelib.channels.pipeline import lambda_handler

handler = lambda_handler("whatsapp")
