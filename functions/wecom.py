"""WeCom 微信客服 (kf) webhook Lambda: the shared pipeline for ``wecom``."""

from chalicelib.channels.pipeline import lambda_handler

handler = lambda_handler("wecom")
