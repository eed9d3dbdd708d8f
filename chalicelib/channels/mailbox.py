"""Mailboxes: how a channel without a push API delivers agent replies.

A channel with ``mailbox = True`` (website chat, the company's own app) has no platform to push a
reply to. The router and the agent API then index every message of that sender's conversations
under ``mailbox_key = "<channel>#<account>#<user>"`` (the sparse ``by_mailbox`` index of the
messages table, sorted by ``created_at``), and the channel's client polls its thread here.

One Query on one index key per poll, at most ``PAGE`` messages: the cost does not grow with the
number of customers or messages. A client pages forward by passing the last ``created_at`` it saw
as ``after``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from chalicelib.channels.base import BadRequest

PAGE = 100
_AFTER = re.compile(r"^\d{4}-\d\d-\d\dT[0-9:.]+Z?$")


def mailbox_key(channel: str, account: str, user_id: str) -> str:
    """The index key a sender's messages are stored under. Must equal
    ``chalicelib.conversations.service.mailbox_key`` (a test checks): written here again so a
    webhook Lambda does not import the core's table models just to poll."""
    return f"{channel}#{account}#{user_id}"


def checked_after(value: str | None) -> str:
    """The ``after`` cursor, or "" for the whole thread. Raises BadRequest unless it is an
    ISO-8601 UTC timestamp as stored (it becomes part of a key condition)."""
    if not value:
        return ""
    if not _AFTER.match(value):
        raise BadRequest("after must be an ISO-8601 UTC timestamp")
    return value


# Authors of messages no person wrote (ticket notices, the survey bot).
AUTOMATIC_AUTHORS = frozenset({"system", "bot"})


def thread(channel: str, account: str, user_id: str, after: str | None = None) -> list[dict[str, Any]]:
    """The sender's messages (theirs and the agents' replies) stored after ``after``, oldest
    first. Internal entries (notes, system events) are left out: the customer never sees them."""
    from chalicelib.aws import client
    from chalicelib.config import settings

    since = checked_after(after)
    expression = "mailbox_key = :k" + (" AND created_at > :a" if since else "")
    values: dict[str, Any] = {":k": {"S": mailbox_key(channel, account, user_id)}}
    if since:
        values[":a"] = {"S": since}
    result = client("dynamodb").query(
        TableName=settings().table("messages"),
        IndexName="by_mailbox",
        KeyConditionExpression=expression,
        ExpressionAttributeValues=values,
        Limit=PAGE,
    )
    return [_view(i) for i in result.get("Items", []) if i.get("direction", {}).get("S") in ("in", "out")]


def _view(item: dict[str, Any]) -> dict[str, Any]:
    """One stored message as the polling client sees it (no internal fields)."""
    view: dict[str, Any] = {
        "id": f"{item['conversation_id']['S']}#{item['seq']['N']}",
        "direction": item.get("direction", {}).get("S"),
        "text": item.get("text", {}).get("S", ""),
        "type": item.get("type", {}).get("S", "text"),
        "status": item.get("status", {}).get("S"),
        "created_at": item.get("created_at", {}).get("S"),
    }
    if view["direction"] == "out" and item.get("author_id", {}).get("S") in AUTOMATIC_AUTHORS:
        view["automatic"] = True  # an automatic notice, not an agent: the widget tells them apart
    # Media and places the customer sent are stored as JSON text (JSONAttribute); pass them on
    # so an app can render its own messages; quick replies are the bot's buttons. Absent for plain
    # text, so web's thread is unchanged.
    for name in ("attachments", "location", "quick_replies"):
        raw = item.get(name, {}).get("S")
        if raw:
            try:
                view[name] = json.loads(raw)
            except ValueError:
                continue
    return view
