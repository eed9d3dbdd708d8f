"""WeChat webhook Lambda (Official Account and Mini Program): the shared pipeline for ``wechat``."""

from chalicelib.channels.pipeline import lambda_handler

handler = lambda_handler("wechat")
