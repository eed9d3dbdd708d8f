"""What only Instagram does (everything it shares with Messenger is in test_messenger.py): its
envelope, read receipts that name the message, shares and story mentions, unsends."""

from __future__ import annotations

from typing import Any

import pytest

from chalicelib.channels.base import BadRequest, WebhookRequest
from chalicelib.channels.instagram import ADAPTER
from chalicelib.messages import InboundMessage
from tests.support.meta_payloads import (
    IG_ID,
    IGSID,
    PAGE_ID,
    instagram_update,
    messaging_event,
    page_update,
    raw,
)

CREDS = {"app_secret": "s", "verify_token": "v", "page_access_token": "EAAIgPageToken", "ig_id": IG_ID}
IG_MID = (
    "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxNDAwMDAwMDAwMDAxOjM0MDI4MjM2Njg0MTcxMDMwMDk0OTEyODE2ODAxMjI0"
)


def parse(payload: Any) -> list[InboundMessage]:
    req = WebhookRequest(
        method="POST",
        channel="instagram",
        path_parts=(),
        headers={},
        query={},
        body=raw(payload),
        url="https://omniflow.test/webhooks/instagram",
    )
    return list(ADAPTER.parse(req, CREDS))


def event(**content: Any) -> dict[str, Any]:
    return messaging_event(IGSID, IG_ID, **content)


def test_the_documented_instagram_message_is_normalized():
    [msg] = parse(instagram_update(event(message={"mid": IG_MID, "text": "Is this still available?"})))
    assert (msg.channel, msg.account, msg.channel_user_id) == ("instagram", "default", IGSID)
    assert (msg.type, msg.text, msg.platform_message_id) == ("text", "Is this still available?", IG_MID)


def test_a_read_receipt_names_the_message_read():
    [report] = parse(instagram_update(event(read={"mid": "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxN"})))
    assert report.type == "status"
    assert report.status is not None
    assert (report.status.platform_message_id, report.status.state) == (
        "aWdfZAG1faXRlbToxOklHTWVzc2FnZAUlEOjE3ODQxN",
        "read",
    )


@pytest.mark.parametrize(
    ("attachment", "text"),
    [
        (
            {"type": "share", "payload": {"url": "https://www.instagram.com/p/C1a2b3/"}},
            "[share] https://www.instagram.com/p/C1a2b3/",
        ),
        (
            {
                "type": "story_mention",
                "payload": {"url": "https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=9"},
            },
            "[story_mention] https://lookaside.fbsbx.com/ig_messaging_cdn/?asset_id=9",
        ),
        (
            {
                "type": "ig_reel",
                "payload": {
                    "reel_video_id": "1790",
                    "title": "Spring drop",
                    "url": "https://cdn.example/r.mp4",
                },
            },
            "[ig_reel] Spring drop https://cdn.example/r.mp4",
        ),
    ],
)
def test_shares_story_mentions_and_reels_read_as_links_for_the_agent(attachment, text):
    [msg] = parse(instagram_update(event(message={"mid": IG_MID, "attachments": [attachment]})))
    assert (msg.type, msg.text, msg.attachments) == ("text", text, ())


def test_an_unsend_is_skipped_and_an_unsupported_message_is_kept():
    deleted = event(message={"mid": IG_MID, "is_deleted": True})
    unsupported = event(message={"mid": "aWdfunsupported", "is_unsupported": True})
    [msg] = parse(instagram_update(deleted, unsupported))
    assert msg.text == "[unsupported instagram message]"


def test_a_page_delivery_sent_to_the_instagram_url_is_400():
    with pytest.raises(BadRequest):
        parse(page_update(messaging_event(IGSID, PAGE_ID, message={"mid": IG_MID, "text": "hi"})))
