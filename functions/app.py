"""Webhook Lambda for the app channel (the company's backend posts its app users' messages and
polls their threads): the shared pipeline, bound to this channel."""

from chalicelib.channels.pipeline import lambda_handler

handler = lambda_handler("app")
