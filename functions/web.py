"""Webhook Lambda for the website chat channel (the widget's visitor API)."""

from chalicelib.channels.pipeline import lambda_handler

handler = lambda_handler("web")
