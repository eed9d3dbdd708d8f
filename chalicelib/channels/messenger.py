"""Facebook Messenger: the ``messenger`` channel, a Page's inbox.

Everything is the Meta family's messaging adapter (``meta.MessagingAdapter``): Meta POSTs
``{"object": "page", "entry": [{"id": <page id>, "messaging": [...]}]}``; customers are
Page-scoped ids (PSIDs); replies go through ``POST /me/messages`` with the Page's token, tagged
``HUMAN_AGENT`` between 24 h and 7 days after the customer's last message.

Credentials per account: ``app_secret``, ``verify_token``, ``page_access_token``, ``page_id``.
"""

from __future__ import annotations

from chalicelib.channels.meta import MessagingAdapter


class MessengerAdapter(MessagingAdapter):
    name, object_type, asset_field = "messenger", "page", "page_id"


ADAPTER = MessengerAdapter()
