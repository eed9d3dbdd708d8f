"""What an agent does to a conversation besides replying: private notes with @mentions, tags,
snooze, links to tickets. Each is one conditional write, an audit record, and a
"conversation.updated" event on the feed (notes also send "note.mention" to whom they mention).

The caller has already read the conversation and checked the agent's access to it
(``workspace.check_access``); these functions take that conversation.

A note is a Message with direction "note": it takes the next sequence number (so it sits in the
timeline where it was written) but is never sent, and it leaves the reply bookkeeping alone —
no first response, no reply window or per-message limit, no owner change, no preview.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from pynamodb.exceptions import UpdateError

from chalicelib.agents import service as agents
from chalicelib.agents.models import Agent
from chalicelib.audit import service as audit
from chalicelib.conversations import service as conversations
from chalicelib.conversations.models import OPEN, Conversation, Message
from chalicelib.conversations.service import NotAllowed
from chalicelib.errors import Invalid, NotFound
from chalicelib.feed import service as feed
from chalicelib.messages import iso, utcnow

MAX_MENTIONS = 10
MAX_SNOOZE = timedelta(days=30)
# "@agent_id" not preceded by a word character (so e-mail addresses are not mentions); an id may
# contain dots, dashes and underscores but does not end with one ("thanks @agent2." → agent2).
_MENTION = re.compile(r"(?<![\w@])@([A-Za-z0-9_](?:[A-Za-z0-9_.-]{0,126}[A-Za-z0-9_])?)")


def parse_mentions(text: str) -> list[str]:
    """The distinct ``@agent_id`` handles in a note, in order of appearance. Pure."""
    return list(dict.fromkeys(_MENTION.findall(text)))


def may_see(agent: Agent, c: Conversation) -> bool:
    """Whether ``agent`` can open ``c`` (the rule of ``workspace.check_access``). Pure."""
    return (
        agent.role in ("supervisor", "admin")
        or c.assignee_id == agent.agent_id
        or c.group_id in (agent.groups or set())
    )


def is_snoozed(c: Conversation, now: datetime) -> bool:
    """Whether the "mine" inbox should hide ``c`` at ``now``. Pure."""
    return bool(c.snoozed_until) and str(c.snoozed_until) > iso(now)


def _subject(c: Conversation) -> str:
    return f"conversation#{c.conversation_id}"


def _updated(c: Conversation, actor: str, change: str, **data: Any) -> None:
    """Tell whoever watches the conversation (its owner, its group, the supervisors)."""
    feed.publish(
        "conversation.updated",
        conversation_id=c.conversation_id,
        agents=[a for a in (c.assignee_id,) if a],
        groups=[c.group_id],
        data={"change": change, "by": actor, **data},
    )


def _update(
    c: Conversation, actions: list[Any], condition: Any = None, refused: str = "conversation not found"
) -> Conversation:
    """One conditional UpdateItem on an existing conversation; the new item comes back."""
    conversation = Conversation(c.conversation_id)
    exists = Conversation.conversation_id.exists()
    try:
        conversation.update(actions=actions, condition=exists if condition is None else exists & condition)
    except UpdateError as exc:
        if getattr(exc, "cause_response_code", None) == "ConditionalCheckFailedException":
            raise NotAllowed(refused) from exc
        raise
    return conversation


# ---- notes -------------------------------------------------------------------------------------
def add_note(c: Conversation, author_id: str, text: str) -> Message:
    """Store a private note; every mentioned agent who can see the conversation gets a
    "note.mention" event. ``@handles`` that are not agents stay plain text; mentioning an agent who
    cannot open the conversation (another skill group) is refused, so a mention always leads
    somewhere. One GetItem per distinct handle (at most ``MAX_MENTIONS``)."""
    handles = [h for h in parse_mentions(text) if h != author_id]
    if len(handles) > MAX_MENTIONS:
        raise Invalid(f"a note may mention at most {MAX_MENTIONS} agents")
    mentioned: list[str] = []
    for handle in handles:
        agent = agents.get_agent(handle)
        if agent is None:
            continue
        if not may_see(agent, c):
            raise Invalid(f"@{handle} cannot see this conversation (another skill group)")
        mentioned.append(handle)
    note = conversations.add_note(c.conversation_id, author_id, text, mentions=set(mentioned))
    seq = int(note.seq)
    audit.record(_subject(c), author_id, "conversation.note", {"seq": seq, "mentions": mentioned})
    if mentioned:
        feed.publish(
            "note.mention",
            conversation_id=c.conversation_id,
            agents=mentioned,
            supervisors=False,
            data={"seq": seq, "by": author_id},
        )
    _updated(c, author_id, "note", seq=seq)
    return note


# ---- tags --------------------------------------------------------------------------------------
def update_tags(c: Conversation, actor: str, add: list[str], remove: list[str]) -> Conversation:
    """Add and remove tags (set ADD / DELETE: concurrent edits of different tags never undo each
    other). DynamoDB refuses ADD and DELETE of one attribute in one request, hence two writes."""
    add_set, remove_set = set(add), set(remove)
    if add_set & remove_set:
        raise Invalid("a tag cannot be both added and removed")
    if not add_set and not remove_set:
        raise Invalid("nothing to change")
    conversation = c
    if add_set:
        conversation = _update(c, [Conversation.tags.add(add_set)])
    if remove_set:
        conversation = _update(c, [Conversation.tags.delete(remove_set)])
    details = {"added": sorted(add_set), "removed": sorted(remove_set)}
    audit.record(_subject(c), actor, "conversation.tags", details)
    _updated(c, actor, "tags", **details)
    return conversation


# ---- snooze ------------------------------------------------------------------------------------
def snooze(c: Conversation, actor: str, until: datetime) -> Conversation:
    """Hide an open conversation from its owner's "mine" inbox until ``until`` (at most
    ``MAX_SNOOZE`` ahead); the customer's next message wakes it earlier (conversations.service)."""
    now = utcnow()
    if until <= now:
        raise Invalid("until must be in the future")
    if until > now + MAX_SNOOZE:
        raise Invalid(f"cannot snooze for more than {MAX_SNOOZE.days} days")
    when = iso(until)
    conversation = _update(
        c, [Conversation.snoozed_until.set(when)], Conversation.status == OPEN, "conversation is closed"
    )
    audit.record(_subject(c), actor, "conversation.snooze", {"until": when})
    _updated(c, actor, "snooze", snoozed_until=when)
    return conversation


def unsnooze(c: Conversation, actor: str) -> Conversation:
    conversation = _update(c, [Conversation.snoozed_until.remove()])
    audit.record(_subject(c), actor, "conversation.unsnooze")
    _updated(c, actor, "snooze", snoozed_until=None)
    return conversation


# ---- tickets -----------------------------------------------------------------------------------
def link_ticket(c: Conversation, actor: str, ticket_id: str) -> Conversation:
    """Link a ticket (the id's format is checked by the API; tickets arrive in a later issue)."""
    conversation = _update(c, [Conversation.ticket_ids.add({ticket_id})])
    audit.record(_subject(c), actor, "conversation.ticket_link", {"ticket_id": ticket_id})
    _updated(c, actor, "tickets", linked=ticket_id)
    return conversation


def unlink_ticket(c: Conversation, actor: str, ticket_id: str) -> Conversation:
    try:
        conversation = _update(
            c,
            [Conversation.ticket_ids.delete({ticket_id})],
            Conversation.ticket_ids.contains(ticket_id),
            "not linked",
        )
    except NotAllowed as exc:
        raise NotFound(f"ticket link {ticket_id}") from exc
    audit.record(_subject(c), actor, "conversation.ticket_unlink", {"ticket_id": ticket_id})
    _updated(c, actor, "tickets", unlinked=ticket_id)
    return conversation
