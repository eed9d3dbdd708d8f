"""Instagram Direct: the ``instagram`` channel, an Instagram professional account's inbox through
the Messenger API for Instagram.

Everything is the Meta family's messaging adapter (``meta.MessagingAdapter``): Meta POSTs
``{"object": "instagram", "entry": [{"id": <Instagram account id>, "messaging": [...]}]}``;
customers are Instagram-scoped ids (IGSIDs); replies go through ``POST /me/messages`` with the
token of the Facebook Page linked to the account, tagged ``HUMAN_AGENT`` between 24 h and 7 days.
Instagram's read receipts name the message read (``read.mid``), so they become "read" reports.

Credentials per account: ``app_secret``, ``verify_token``, ``page_access_token``, ``ig_id``.
"""

from __future__ import annotations

from chalicelib.channels.meta import MessagingAdapter


class InstagramAdapter(MessagingAdapter):
    name, object_type, asset_field = "instagram", "instagram", "ig_id"


ADAPTER = InstagramAdapter()
