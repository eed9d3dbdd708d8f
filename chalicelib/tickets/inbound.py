"""The router's hook (``on_inbound``): an e-mail to a ticket address creates a ticket or is a reply on
``[#n]``; a 1–5 answer after a survey is CSAT; a message in a linked conversation is a customer
reply; a status question gets the open tickets' state. Normal messages cost no extra request.
"""

from __future__ import annotations

from datetime import timedelta

from pynamodb.expressions.update import Action

from chalicelib import events
from chalicelib.conversations import service as conversations
from chalicelib.conversations.models import Conversation
from chalicelib.conversations.service import NotAllowed
from chalicelib.events import ConversationAnswered, CsatAnswered
from chalicelib.messages import InboundMessage, iso, utcnow
from chalicelib.observability import logger
from chalicelib.tickets import notify, rules
from chalicelib.tickets.creation import create
from chalicelib.tickets.models import ACTIVE, Ticket
from chalicelib.tickets.store import (
    add_event,
    claim_source,
    get,
    new_number,
    now_iso,
    retrying,
    sla_changed,
    ticket_id_of,
)
from chalicelib.tickets.views import ticket_accounts

CSAT_WINDOW = timedelta(days=7)


STATUS_ANSWER_TICKETS = 5


def on_inbound(stored: conversations.Stored, msg: InboundMessage, *, answer_status: bool = True) -> None:
    """After the router stored a customer's message. Never raises: a failure here is logged and
    must not send the message back to the queue (it is stored; a redelivery would be skipped).
    ``answer_status`` False: the bot has answered the message already (its own ticket flow)."""
    if stored.duplicate or msg.type in ("status", "event") or conversations.spoken_by_agent(msg):
        return
    try:
        _on_inbound(stored, msg, answer_status)
    except Exception:  # noqa: BLE001 — the message is stored; a retry would be skipped as a duplicate
        logger.exception("ticket hook failed", extra={"conversation_id": stored.conversation.conversation_id})


def _on_inbound(stored: conversations.Stored, msg: InboundMessage, answer_status: bool = True) -> None:
    c = stored.conversation
    if msg.channel == "email" and msg.account in ticket_accounts():
        if not msg.reply_context.get("auto_submitted"):
            _email(c, msg, stored.new_conversation)
        return
    score = rules.parse_csat(msg.text)
    if score is not None and _csat(c, score, stored.new_conversation):
        return
    linked = [tid for tid in sorted(c.ticket_ids or ())]
    for tid in linked:
        _customer_replied(tid, c, msg)
    if answer_status and rules.is_status_question(msg.text):
        _answer_status(c, msg)


def _customer_replied(ticket_id: str, c: Conversation, msg: InboundMessage) -> None:
    now = now_iso()

    def build(cur: Ticket) -> list[Action] | None:
        if cur.status not in ACTIVE:
            return None
        acts: list[Action] = [Ticket.last_customer_reply_at.set(now), Ticket.channel.set(msg.channel)]
        if cur.status == "pending_customer":
            acts.append(Ticket.status.set("open"))
        if c.conversation_id not in (cur.conversation_ids or set()):
            acts.append(Ticket.conversation_ids.add({c.conversation_id}))
        return acts

    try:
        moved = retrying(ticket_id, build)
    except KeyError:
        return
    if moved is None:
        return
    before, after = moved
    add_event(
        ticket_id,
        "customer_reply",
        f"customer:{c.customer_id}",
        text=msg.text[:4000] or f"[{msg.type}]",
        public=True,
        data={"conversation_id": c.conversation_id, "channel": msg.channel},
    )
    if before.status == "pending_customer":
        add_event(ticket_id, "changed", "system", changes={"status": {"from": before.status, "to": "open"}})
    sla_changed(after, "customer_reply")


def _email(c: Conversation, msg: InboundMessage, new_conversation: bool) -> None:
    subject = msg.reply_context.get("subject") or ""
    number = rules.ticket_number_in(subject)
    if number is not None:
        try:
            t = get(ticket_id_of(number), consistent=True)
        except KeyError:
            t = None
        if t is not None and t.requester_id == c.customer_id and t.status in ACTIVE:
            if c.conversation_id not in (t.conversation_ids or set()):
                from chalicelib.conversations import actions as conversation_actions

                conversation_actions.link_ticket(c, "system", t.ticket_id)
            _customer_replied(t.ticket_id, c, msg)
            return
    active_linked = [tid for tid in sorted(c.ticket_ids or ())]
    if active_linked and not new_conversation:
        for tid in active_linked:
            _customer_replied(tid, c, msg)
        if any(get(tid).status in ACTIVE for tid in active_linked):
            return
    ticket_id = claim_source(f"email#{msg.dedupe_key}", ticket_id_of(new_number()))
    create(
        subject=rules.short(subject, 200) or rules.default_subject(msg.text),
        actor="system",
        source="email",
        description=msg.text or None,
        requester_id=c.customer_id,
        group_id=c.group_id,
        conversation_id=c.conversation_id,
        channel="email",
        language=rules.language_of(f"{subject} {msg.text}"),
        ticket_id=ticket_id,
    )


def _csat(c: Conversation, score: int, new_conversation: bool) -> bool:
    """Store a 1–5 answer on the most recently surveyed ticket still waiting for one (7 days);
    a conversation the answer opened is closed again (it is not a new question)."""
    since = iso(utcnow() - CSAT_WINDOW)
    candidates = [
        t
        for t in Ticket.by_requester.query(
            c.customer_id,
            scan_index_forward=False,
            limit=20,
            filter_condition=(Ticket.csat_sent_at >= since) & Ticket.csat_score.does_not_exist(),
        )
    ]
    if not candidates:
        return False
    target = max(candidates, key=lambda t: str(t.csat_sent_at))
    moved = retrying(
        target.ticket_id, lambda cur: None if cur.csat_score is not None else [Ticket.csat_score.set(score)]
    )
    if moved is None:
        return False
    add_event(
        target.ticket_id,
        "csat",
        f"customer:{c.customer_id}",
        data={"score": score, "conversation_id": c.conversation_id},
    )
    linked = tuple(sorted(moved[1].conversation_ids or ()))
    events.publish(CsatAnswered(target.ticket_id, score, linked))
    from chalicelib.conversations.inbound import activity_dims

    events.publish(
        events.Activity(
            f"csat#{target.ticket_id}",
            "csat_answered",
            iso(utcnow()),
            activity_dims(c, c.last_channel),
            values={"csat": score},
        )
    )
    events.publish(
        events.Announced(
            "csat.received",
            {
                "ticket_id": target.ticket_id,
                "customer_id": c.customer_id,
                "score": score,
                "conversation_ids": list(linked),
            },
        )
    )
    notify.send(
        c.customer_id, rules.render("csat.thanks", target.language), author="bot", prefer=c.conversation_id
    )
    if new_conversation:
        _close_quietly(c)
    return True


def _close_quietly(c: Conversation) -> None:
    """Close a conversation that only carried a survey answer (as the close route does)."""
    from chalicelib.assignment import service as assignment

    try:
        closed = conversations.close(c.conversation_id, "bot")
    except NotAllowed:
        return
    events.publish(ConversationAnswered(c.conversation_id, "survey answer"))
    assignment.closed(closed)


def _answer_status(c: Conversation, msg: InboundMessage) -> None:
    """The bot answers "what's the status of my ticket/order" with the customer's open tickets."""
    open_tickets = list(
        Ticket.by_requester.query(
            c.customer_id,
            scan_index_forward=False,
            limit=20,
            filter_condition=Ticket.status.is_in(*ACTIVE),
        )
    )[:STATUS_ANSWER_TICKETS]
    if not open_tickets:
        return  # nothing to report: the question (e.g. about an order) is the agents' to answer
    language = rules.language_of(
        msg.text, default=open_tickets[0].language if open_tickets and open_tickets[0].language else "en"
    )
    text = rules.status_summary(
        [{"number": t.number, "subject": t.subject, "status": t.status} for t in open_tickets], language
    )
    notice = notify.send(c.customer_id, text, author="bot", prefer=c.conversation_id)
    for t in open_tickets:
        add_event(
            t.ticket_id,
            "status_answered",
            "bot",
            text=text,
            public=notice.sent,
            data={"conversation_id": c.conversation_id},
        )
