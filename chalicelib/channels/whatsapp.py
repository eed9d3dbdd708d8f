"""WhatsApp Cloud API: the ``whatsapp`` channel.

Inbound, Meta POSTs ``{"object": "whatsapp_business_account", "entry": [{"changes": [{"field":
"messages", "value": {...}}]}]}`` to ``/webhooks/whatsapp[/<account>]`` (handshake and signature
are the Meta family's, in ``meta.py``). One ``value`` holds, for one business phone number
(``metadata.phone_number_id``, which picks our account):

- ``messages[]``: what customers wrote (text, media, location, contacts, button and list replies,
  reactions), each with its ``wamid`` (the dedupe id) and ``from``, the customer's phone number
  as WhatsApp verified it, so it may link the sender to an existing customer with that number;
- ``statuses[]``: reports on *our* messages, turned into ``type="status"`` messages for the core
  (delivered, read, failed with Meta's reason; "sent" only says Meta accepted it and is skipped).

Outbound, ``POST /{phone_number_id}/messages``: free text only within 24 h of the customer's last
message (``reply_window``); after that only a pre-approved template (``OutboundMessage.template``,
configured per account as ``templates`` in the secret) may go out.

Credentials per account: ``app_secret`` (webhook signature), ``verify_token`` (subscription check),
``access_token`` (a system user's token with ``whatsapp_business_messaging``), ``phone_number_id``;
optional ``templates``: ``[{"name", "language", "params": <count>, "preview"}]`` (a list, or the
same as JSON text).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from collections.abc import Iterator
from collections.abc import Mapping
from typing import Any

from chalicelib.channels import json_fields as jf
from chalicelib.channels.base import BadRequest
from chalicelib.channels.base import WebhookRequest
from chalicelib.channels.meta import GRAPH_URL
from chalicelib.channels.meta import OUTSIDE_24H_TEXT
from chalicelib.channels.meta import STANDARD_WINDOW
from chalicelib.channels.meta import AttachmentKind
from chalicelib.channels.meta import GraphError
from chalicelib.channels.meta import MetaAdapter
from chalicelib.channels.meta import State
from chalicelib.channels.meta import build
from chalicelib.channels.meta import items
from chalicelib.channels.meta import last_inbound_age
from chalicelib.channels.meta import location
from chalicelib.channels.meta import member
from chalicelib.channels.meta import meta_time
from chalicelib.channels.meta import refused
from chalicelib.channels.meta import status_message
from chalicelib.messages import Attachment
from chalicelib.messages import CustomerHints
from chalicelib.messages import InboundMessage
from chalicelib.messages import OutboundMessage
from chalicelib.messages import SendResult
from chalicelib.messages import TemplateRef
from chalicelib.observability import logger

CHANNEL = "whatsapp"
#: Status reports the core records; "sent" (Meta accepted it) is what the send API already said.
_REPORTED: dict[str, State] = {"delivered": "delivered", "read": "read", "failed": "failed"}


#: InboundMessage fields for a message's content (type, text, attachments, location, event).
_Content = dict[str, Any]


_MEDIA_KINDS: dict[str, AttachmentKind] = {
    "image": "image",
    "sticker": "image",
    "audio": "voice",
    "video": "video",
    "document": "file",
}


def _media(msg_type: str, message: Mapping[str, Any]) -> _Content:
    """Media arrive as ids: the file is fetched on demand with the account's token
    (``GET /{media-id}`` → a short-lived URL), never inside the webhook."""
    body = member(message, msg_type)
    kind = _MEDIA_KINDS[msg_type]
    attachment = Attachment(
        kind=kind,
        media_id=jf.opt_id(body, "id"),
        mime_type=jf.opt_str(body, "mime_type"),
        name=jf.opt_str(body, "filename"),
    )
    return {"type": kind, "text": jf.opt_str(body, "caption") or "", "attachments": (attachment,)}


def _text(msg_type: str, message: Mapping[str, Any]) -> _Content:
    return {"type": "text", "text": jf.opt_str(member(message, msg_type), "body") or ""}


def _location(msg_type: str, message: Mapping[str, Any]) -> _Content:
    body = member(message, msg_type)
    label = ", ".join(p for p in (jf.opt_str(body, "name"), jf.opt_str(body, "address")) if p)
    return {"type": "location", "location": location(body, "latitude", "longitude", label or None)}


def _contacts(msg_type: str, message: Mapping[str, Any]) -> _Content:
    """Shared contact cards, as lines an agent can read ("Name: +1 555…")."""
    lines = []
    for card in items(message, msg_type):
        phones = [jf.opt_str(phone, "phone") for phone in items(card, "phones")]
        name = jf.opt_str(member(card, "name"), "formatted_name")
        lines.append(": ".join(p for p in (name, ", ".join(p for p in phones if p)) if p))
    return {"type": "text", "text": "\n".join(line for line in lines if line)}


def _interactive(msg_type: str, message: Mapping[str, Any]) -> _Content:
    """A tap on a reply button or list row of one of our interactive messages: what the customer
    chose, as they saw it."""
    body = member(message, msg_type)
    reply = member(body, jf.opt_str(body, "type") or "button_reply")
    text = jf.opt_str(reply, "title") or jf.opt_str(reply, "body") or jf.opt_str(reply, "id") or ""
    return {"type": "text", "text": text}


def _button(msg_type: str, message: Mapping[str, Any]) -> _Content:
    """A tap on a quick-reply button of one of our templates."""
    body = member(message, msg_type)
    return {"type": "text", "text": jf.opt_str(body, "text") or jf.opt_str(body, "payload") or ""}


def _reaction(msg_type: str, message: Mapping[str, Any]) -> _Content:
    # An empty emoji means the customer took the reaction back.
    return {
        "type": "event",
        "event": "reaction",
        "text": jf.opt_str(member(message, msg_type), "emoji") or "",
    }


def _system(msg_type: str, message: Mapping[str, Any]) -> _Content:
    # e.g. "User A changed from +1… to +1…": the agent should know the number moved.
    body = member(message, msg_type)
    return {
        "type": "event",
        "event": jf.opt_str(body, "type") or "system",
        "text": jf.opt_str(body, "body") or "",
    }


_CONTENT: dict[str, Callable[[str, Mapping[str, Any]], _Content]] = {
    "text": _text,
    **dict.fromkeys(_MEDIA_KINDS, _media),
    "location": _location,
    "contacts": _contacts,
    "interactive": _interactive,
    "button": _button,
    "reaction": _reaction,
    "system": _system,
}


def _unsupported(msg_type: str, message: Mapping[str, Any]) -> _Content:
    # Kept rather than dropped: the agent sees that the customer sent something we cannot show.
    errors = items(message, "errors")
    error = GraphError.of(errors[0]) if errors else None
    text = f"[unsupported WhatsApp message type: {msg_type}]"
    return {"type": "text", "text": f"{text} {error.describe()}" if error else text}


def _contact_for(message: Mapping[str, Any], contacts: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``contacts[]`` entry of a message's sender: matched on phone or business-scoped user id,
    else the only one (Meta sends one contact per message)."""
    phone, user_id = jf.opt_id(message, "from"), jf.opt_id(message, "from_user_id")
    for contact in contacts:
        if (phone and jf.opt_id(contact, "wa_id") == phone) or (
            user_id and jf.opt_id(contact, "user_id") == user_id
        ):
            return contact
    return contacts[0] if len(contacts) == 1 else {}


def normalize_message(
    message: dict[str, Any], contacts: list[dict[str, Any]], account: str
) -> InboundMessage:
    """One customer message as an InboundMessage.

    The sender is the phone number WhatsApp verified (``from``, digits without "+"), which is also
    where replies go. Users who adopt a WhatsApp username may hide it (2026 rollout); they are
    then known by their business-scoped user id (``from_user_id`` / the contact's ``user_id``).
    """
    contact = _contact_for(message, contacts)
    phone = jf.opt_id(message, "from")
    sender = phone or jf.opt_id(message, "from_user_id") or jf.opt_id(contact, "user_id")
    if not sender:
        raise BadRequest("message has no sender")
    msg_type = jf.req_str(message, "type")
    builder = _CONTENT.get(msg_type, _unsupported)
    verified_phone = phone if phone and phone.isdigit() else None
    hints = CustomerHints(
        display_name=jf.opt_str(member(contact, "profile"), "name"),
        phone=f"+{verified_phone}" if verified_phone else None,
        verified=("phone",) if verified_phone else (),
    )
    return build(
        channel=CHANNEL,
        account=account,
        channel_user_id=sender,
        hints=hints,
        platform_message_id=jf.req_id(message, "id"),
        sent_at=meta_time(message, "timestamp", millis=False),
        **builder(msg_type, message),
    )


def normalize_status(status: dict[str, Any], account: str) -> InboundMessage | None:
    """A report on one of our messages; None for the states the core has no use for ("sent":
    Meta accepted it, which the send API already told us)."""
    state = _REPORTED.get(jf.opt_str(status, "status") or "")
    if state is None:
        return None
    error = None
    if state == "failed":
        errors = items(status, "errors")
        reason = GraphError.of(errors[0]) if errors else None
        error = reason.describe() if reason else "failed without a reason"
    return status_message(
        channel=CHANNEL,
        account=account,
        user=jf.opt_id(status, "recipient_id") or jf.opt_id(status, "recipient_user_id") or "",
        platform_id=jf.req_id(status, "id"),
        state=state,
        sent_at=meta_time(status, "timestamp", millis=False),
        error=error,
    )


def template_payload(ref: TemplateRef) -> dict[str, Any]:
    """A template message's ``template`` object: name, language, and the body's ``{{n}}`` values."""
    template: dict[str, Any] = {"name": ref.name, "language": {"code": ref.language}}
    if ref.params:
        parameters = [{"type": "text", "text": p} for p in ref.params]
        template["components"] = [{"type": "body", "parameters": parameters}]
    return template


class WhatsAppAdapter(MetaAdapter):
    name = CHANNEL
    object_type = "whatsapp_business_account"
    asset_field = "phone_number_id"
    token_field = "access_token"
    credential_fields = ("app_secret", "verify_token", "access_token", "phone_number_id")
    reply_window = int(STANDARD_WINDOW.total_seconds())

    def templates(self, creds: Mapping[str, Any]) -> list[dict[str, Any]]:
        """The account's templates; the list may also be stored as JSON text (so one environment
        variable can override it in the local stack, like every other demo credential)."""
        value = creds.get("templates")
        if isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                logger.warning("whatsapp templates are not JSON: ignored")
                value = None
        return super().templates({"templates": value})

    # ---- inbound -------------------------------------------------------------------------------
    def parse_entry(
        self, entry: dict[str, Any], req: WebhookRequest, creds: Mapping[str, str]
    ) -> Iterator[InboundMessage]:
        for change in items(entry, "changes"):
            # Template reviews, quality ratings, account updates…: not conversations.
            if change.get("field", "messages") != "messages":
                continue
            value = jf.obj(change.get("value"), "value")
            messages, statuses = items(value, "messages"), items(value, "statuses")
            if not messages and not statuses:
                continue
            metadata = jf.obj(value.get("metadata"), "metadata")
            account = self.account_for(jf.req_id(metadata, "phone_number_id"), req, creds)
            contacts = items(value, "contacts")
            for message in messages:
                yield normalize_message(message, contacts, account)
            for status in statuses:
                report = normalize_status(status, account)
                if report is not None:
                    yield report

    # ---- outbound ------------------------------------------------------------------------------
    def prepare(
        self, msg: OutboundMessage, creds: Mapping[str, str]
    ) -> tuple[str, dict[str, Any]] | SendResult:
        # Phone numbers go in "to"; a business-scoped user id (username users) in "recipient".
        to = msg.channel_user_id
        payload: dict[str, Any] = {"messaging_product": "whatsapp", "recipient_type": "individual"}
        payload |= {"to": to} if to.isdigit() else {"recipient": to}
        if msg.template is not None:
            problem = self._template_problem(msg.template, creds)
            if problem:
                return refused(problem)
            payload |= {"type": "template", "template": template_payload(msg.template)}
        else:
            age = last_inbound_age(msg)
            if age is not None and age > STANDARD_WINDOW:
                return refused(OUTSIDE_24H_TEXT)  # Meta would accept it, then report it failed
            payload |= {"type": "text", "text": {"body": msg.text}}
        return f"{GRAPH_URL}/{creds['phone_number_id']}/messages", payload

    def _template_problem(self, ref: TemplateRef, creds: Mapping[str, Any]) -> str | None:
        """Check a template against the account's list, when it keeps one: a name or parameter
        count Meta would refuse is caught before the call, with a message the agent understands."""
        configured = self.templates(creds)
        if not configured:
            return None
        for template in configured:
            if template["name"] == ref.name and template.get("language", ref.language) == ref.language:
                expected = template.get("params")
                if isinstance(expected, int) and expected != len(ref.params):
                    return f"template {ref.name!r} takes {expected} parameters, got {len(ref.params)}"
                return None
        return f"template {ref.name!r} ({ref.language}) is not configured for this account"

    def sent_id(self, data: Mapping[str, Any]) -> str | None:
        sent = data.get("messages")
        first = sent[0] if isinstance(sent, list) and sent and isinstance(sent[0], dict) else {}
        return first["id"] if isinstance(first.get("id"), str) else None


ADAPTER = WhatsAppAdapter()
