"""Meta webhook deliveries (WhatsApp Cloud API, Messenger, Instagram) as Meta documents them, for
the whatsapp / messenger / instagram tests.

Shapes and sample values follow Meta's reference pages:

- WhatsApp ``messages`` webhook reference (text example verbatim: "Sheena Nelson", wamid
  ``wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA=``, phone number id
  ``106540352242922``):
  https://developers.facebook.com/documentation/business-messaging/whatsapp/webhooks/reference/messages
  and its image, location and status sub-pages (``…/messages/status/``); the business-scoped user id
  (``user_id``, e.g. ``US.13491208655302741918``) that contacts carry since April 2026:
  https://developers.facebook.com/documentation/business-messaging/whatsapp/business-scoped-user-ids
- Messenger ``messages`` / ``message_echoes`` / ``message_deliveries`` / ``message_reads`` /
  ``messaging_postbacks`` webhook events (mid ``mid.1457764197618:41d102a3e1ae206a38``):
  https://developers.facebook.com/docs/messenger-platform/reference/webhook-events/messages
- Instagram messaging webhooks (``"object": "instagram"``, IGID / IGSID):
  https://developers.facebook.com/docs/messenger-platform/instagram/features/webhook

Bodies are serialized once and signed over those exact bytes with stdlib HMAC, as Meta describes
it; every signature is checked by ``pywa``'s validator (an independent implementation) before a
test may use it, so a test never signs with the code under test.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from pywa.utils import webhook_updates_validator

from tests.support.events import http_event

WABA_ID = "102290129340398"
PHONE_NUMBER_ID = "106540352242922"  # = infra/local/provision.py DEMO_CHANNELS["whatsapp"]
DISPLAY_NUMBER = "15550783881"
CUSTOMER_WA_ID = "16505551234"
CUSTOMER_BSUID = "US.13491208655302741918"
WAMID = "wamid.HBgLMTY1MDM4Nzk0MzkVAgASGBQzQTRBNjU5OUFFRTAzODEwMTQ0RgA="
OUR_WAMID = "wamid.HBgLMTY1MDUwNzY1MjAVAgARGBI5QTNDQTVCM0Q0Q0Q2RTY3RTcA"
PAGE_ID = "102290129340398"  # = DEMO_CHANNELS["messenger"]["page_id"]
PSID = "6534214309937467"
IG_ID = "17841400000000001"  # = DEMO_CHANNELS["instagram"]["ig_id"]
IGSID = "1284372598291020"
MID = "mid.1457764197618:41d102a3e1ae206a38"


# ---- signing ------------------------------------------------------------------------------------
def meta_signature(app_secret: str, body: bytes) -> str:
    """``X-Hub-Signature-256`` as Meta computes it, vouched for by pywa's validator."""
    signature = "sha256=" + hmac.new(app_secret.encode(), body, hashlib.sha256).hexdigest()
    assert webhook_updates_validator(app_secret, body, signature)
    return signature


def raw(payload: Any) -> bytes:
    """Meta's serialization: compact, with ``/`` escaped and non-ASCII as \\u escapes — which is
    why signatures must be checked over these bytes, never over a re-serialization."""
    return json.dumps(payload, separators=(",", ":")).replace("/", "\\/").encode()


def meta_event(
    channel: str,
    payload: Any,
    app_secret: str,
    *,
    path: str | None = None,
    signature: str | None = None,
    base64_body: bool = False,
) -> dict[str, Any]:
    """A signed Meta POST as API Gateway (HTTP API v2) hands it to the webhook Lambda.
    ``signature=""`` sends none; ``payload`` as bytes is sent as is."""
    body = payload if isinstance(payload, bytes) else raw(payload)
    headers = {"content-type": "application/json", "user-agent": "facebookexternalua"}
    sig = meta_signature(app_secret, body) if signature is None else signature
    if sig:
        headers["x-hub-signature-256"] = sig
    return http_event(
        "POST", path or f"/webhooks/{channel}", body=body, headers=headers, base64_body=base64_body
    )


def hub_check(
    channel: str, verify_token: str, challenge: str = "1158201444", mode: str = "subscribe"
) -> dict:
    """Meta's subscription check when the callback URL is saved in the app dashboard."""
    query = {"hub.mode": mode, "hub.challenge": challenge, "hub.verify_token": verify_token}
    return http_event("GET", f"/webhooks/{channel}", query=query)


# ---- WhatsApp -----------------------------------------------------------------------------------
def whatsapp_update(
    *,
    messages: list[dict[str, Any]] | None = None,
    statuses: list[dict[str, Any]] | None = None,
    phone_number_id: str = PHONE_NUMBER_ID,
    contacts: list[dict[str, Any]] | None = None,
    field: str = "messages",
) -> dict[str, Any]:
    value: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "metadata": {"display_phone_number": DISPLAY_NUMBER, "phone_number_id": phone_number_id},
    }
    if messages is not None:
        value["contacts"] = (
            contacts
            if contacts is not None
            else [{"profile": {"name": "Sheena Nelson"}, "wa_id": CUSTOMER_WA_ID, "user_id": CUSTOMER_BSUID}]
        )
        value["messages"] = messages
    if statuses is not None:
        value["statuses"] = statuses
    return {
        "object": "whatsapp_business_account",
        "entry": [{"id": WABA_ID, "changes": [{"value": value, "field": field}]}],
    }


def wa_message(
    msg_type: str, content: Any, *, wamid: str = WAMID, sender: str = CUSTOMER_WA_ID
) -> dict[str, Any]:
    return {"from": sender, "id": wamid, "timestamp": "1749416383", "type": msg_type, msg_type: content}


def wa_text(body: str = "Does it come in another color?", **kw: Any) -> dict[str, Any]:
    return wa_message("text", {"body": body}, **kw)


def wa_status(
    status: str, *, wamid: str = OUR_WAMID, errors: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    report: dict[str, Any] = {
        "id": wamid,
        "status": status,
        "timestamp": "1750857384",
        "recipient_id": CUSTOMER_WA_ID,
    }
    if status in ("sent", "delivered"):
        report["pricing"] = {
            "billable": True,
            "pricing_model": "PMP",
            "type": "regular",
            "category": "service",
        }
    if errors is not None:
        report["errors"] = errors
    return report


RE_ENGAGEMENT_ERROR = {
    "code": 131047,
    "title": "Re-engagement message",
    "message": "Re-engagement message",
    "error_data": {
        "details": "Message failed to send because more than 24 hours have passed since the customer "
        "last replied to this number."
    },
    "href": "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/",
}


# ---- Messenger and Instagram --------------------------------------------------------------------
def messaging_update(object_type: str, asset_id: str, *events: dict[str, Any]) -> dict[str, Any]:
    """``{"object": "page"|"instagram", "entry": [{"id", "time", "messaging": [...]}]}``."""
    return {
        "object": object_type,
        "entry": [{"id": asset_id, "time": 1458692752478, "messaging": list(events)}],
    }


def page_update(*events: dict[str, Any], page_id: str = PAGE_ID) -> dict[str, Any]:
    return messaging_update("page", page_id, *events)


def instagram_update(*events: dict[str, Any], ig_id: str = IG_ID) -> dict[str, Any]:
    return messaging_update("instagram", ig_id, *events)


def messaging_event(sender: str, recipient: str, **event: Any) -> dict[str, Any]:
    return {"sender": {"id": sender}, "recipient": {"id": recipient}, "timestamp": 1458692752478, **event}


def psid_message(message: dict[str, Any], *, sender: str = PSID, page_id: str = PAGE_ID) -> dict[str, Any]:
    return messaging_event(sender, page_id, message=message)
