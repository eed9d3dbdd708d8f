"""Agents open the files customers send: an inbound WhatsApp image → the attachment route → the
platform called once (asserted with ``responses``) → a private S3 copy → a presigned redirect."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
import responses
from responses import matchers

from chalicelib.channels.base import WebhookRequest
from chalicelib.channels.whatsapp import ADAPTER
from chalicelib.config import settings
from chalicelib.conversations import service as conversations
from chalicelib.media import service as media
from chalicelib.router import service as router
from infra.local.provision import DEMO_CHANNELS
from tests.support.meta_payloads import raw, wa_message, whatsapp_update

MEDIA_ID = "1013859600285441"
GRAPH = f"https://graph.facebook.com/v21.0/{MEDIA_ID}"
CDN = f"https://lookaside.fbsbx.com/whatsapp_business/attachments/?mid={MEDIA_ID}&ext=1&hash=ATu"
PHOTO = b"\xff\xd8\xff\xe0 a photo of a broken bottle"
AUTH = [matchers.header_matcher({"authorization": f"Bearer {DEMO_CHANNELS['whatsapp']['access_token']}"})]


@pytest.fixture
def stored_image(api) -> tuple[str, int, str]:
    """An inbound WhatsApp image, parsed from Meta's payload and stored: (conversation, seq, group)."""
    payload = whatsapp_update(
        messages=[
            wa_message(
                "image",
                {"caption": "I want a refund, it arrived broken", "mime_type": "image/jpeg", "id": MEDIA_ID},
            )
        ]
    )
    req = WebhookRequest(
        "POST", "whatsapp", (), {}, {}, raw(payload), "https://omniflow.test/webhooks/whatsapp"
    )
    [msg] = ADAPTER.parse(req, DEMO_CHANNELS["whatsapp"])
    stored = router.store(msg)
    assert stored is not None
    conversation = conversations.get(stored.conversation.conversation_id)
    assert conversation.group_id in ("presales", "aftersales")
    return conversation.conversation_id, stored.message.seq, conversation.group_id


@pytest.fixture
def agents(api, stored_image) -> dict[str, Any]:
    """Logged-in sessions whose token checks already fetched the JWKS (a ``responses`` mock
    started later would otherwise stand between the app and moto's Cognito)."""
    sessions = {name: api(name) for name in ("agent1", "agent2", "supervisor")}
    for session in sessions.values():
        assert session.get("/me").status_code == 200
    return sessions


@pytest.fixture
def graph(agents) -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.get(GRAPH, json={"url": CDN, "mime_type": "image/jpeg", "id": MEDIA_ID}, match=AUTH)
        rsps.get(CDN, body=PHOTO, content_type="image/jpeg", match=AUTH)
        yield rsps


def agents_for(group: str) -> tuple[str, str]:
    """(an agent of the conversation's group, an agent of the other group)"""
    return ("agent1", "agent2") if group == "presales" else ("agent2", "agent1")


def path(conversation_id: str, seq: int, index: int = 0) -> str:
    return f"/conversations/{conversation_id}/messages/{seq}/attachments/{index}"


def test_an_agent_opens_a_whatsapp_image_copied_once_into_s3(agents, stored_image, graph):
    conversation_id, seq, group = stored_image
    mine, _ = agents_for(group)

    first = agents[mine].get(path(conversation_id, seq))

    assert first.status_code == 302, first.body
    location = first.headers["Location"]
    key = media.media_key(conversation_id, seq, 0)
    assert urlsplit(location).path.endswith(f"/{key}")
    query = parse_qs(urlsplit(location).query)
    assert query["X-Amz-Expires"] == ["300"] and query["X-Amz-Signature"]
    s3 = boto3.client("s3", region_name=settings().region)
    obj = s3.get_object(Bucket=settings().media_bucket, Key=key)
    assert obj["Body"].read() == PHOTO
    assert obj["ContentType"] == "image/jpeg"
    assert obj["ContentDisposition"].startswith("inline; filename*=UTF-8''image-")
    assert [c.request.url for c in graph.calls] == [GRAPH, CDN]
    assert location.startswith(media.origin() + "/")  # what the console's CSP must allow

    # a second opening (any agent of the group, or a supervisor) never calls the platform again
    again = agents["supervisor"].get(path(conversation_id, seq) + "?redirect=0")
    assert again.status_code == 200
    link = json.loads(again.body)
    assert link["content_type"] == "image/jpeg" and link["expires_in"] == 300
    assert urlsplit(link["url"]).path.endswith(f"/{key}")
    assert len(graph.calls) == 2
    # each opening is in the customer's audit trail (who, which file), never the file itself
    customer_id = conversations.get(conversation_id).customer_id
    trail = json.loads(agents["supervisor"].get(f"/customers/{customer_id}/audit").body)["items"]
    opened = [(r["actor"], r["details"]) for r in trail if r["action"] == "view"]
    spec = {"what": "attachment", "conversation_id": conversation_id, "seq": str(seq), "index": "0"}
    assert opened == [("supervisor", spec), (mine, spec)]


def test_an_agent_of_another_group_gets_403_and_nothing_is_fetched(agents, stored_image, graph):
    conversation_id, seq, group = stored_image
    _, other = agents_for(group)
    r = agents[other].get(path(conversation_id, seq))
    assert r.status_code == 403
    assert len(graph.calls) == 0


def test_unknown_attachment_is_404_and_a_non_numeric_seq_400(agents, stored_image, graph):
    conversation_id, seq, group = stored_image
    mine, _ = agents_for(group)
    assert agents[mine].get(path(conversation_id, seq, 1)).status_code == 404
    assert agents[mine].get(path(conversation_id, seq + 50)).status_code == 404
    assert agents[mine].get(f"/conversations/{conversation_id}/messages/x/attachments/0").status_code == 400
    assert agents[mine].get(path("no-such-conversation", 1)).status_code == 404


def test_expired_media_is_a_clear_409_and_nothing_is_stored(agents, stored_image):
    conversation_id, seq, group = stored_image
    mine, _ = agents_for(group)
    with responses.RequestsMock() as rsps:
        rsps.get(GRAPH, status=404, json={"error": {"message": "Media not found", "code": 100}})
        r = agents[mine].get(path(conversation_id, seq))
    assert r.status_code == 409
    assert json.loads(r.body)["error"] == "media_unavailable"
    s3 = boto3.client("s3", region_name=settings().region)
    assert s3.list_objects_v2(Bucket=settings().media_bucket).get("KeyCount") == 0


def test_the_local_stack_answers_409_not_available_locally(agents, stored_image, monkeypatch):
    conversation_id, seq, group = stored_image
    mine, _ = agents_for(group)
    monkeypatch.setenv("OMNIFLOW_OUTBOUND_MODE", "record")
    settings.cache_clear()
    with responses.RequestsMock() as rsps:  # any platform call would fail the test
        r = agents[mine].get(path(conversation_id, seq))
        assert len(rsps.calls) == 0
    assert r.status_code == 409
    assert json.loads(r.body) == {
        "error": "media_unavailable",
        "message": "media not available locally: the local stack does not call whatsapp",
    }
