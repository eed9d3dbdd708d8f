"""What is said on a ticket: agents' comments (internal, or public replies that reach the customer)
and the notices the customer gets without an agent typing them (progress, the CSAT survey).
"""

from __future__ import annotations

from typing import Any

from pynamodb.expressions.update import Action

from chalicelib.auth.service import Principal
from chalicelib.conversations.models import OPEN
from chalicelib.conversations.service import NotAllowed
from chalicelib.observability import logger
from chalicelib.tickets import notify, rules
from chalicelib.tickets.models import Ticket
from chalicelib.tickets.store import add_event, check_access, get, now_iso, retrying, sla_changed
from chalicelib.tickets.views import event_view


def tell(t: Ticket, text: str, what: str, author: str = "system", prefer: str | None = None) -> notify.Notice:
    """Send to the ticket's customer and record it (notified / not_notified with the reason)."""
    try:
        notice = notify.send(
            t.requester_id, text, author=author, linked=set(t.conversation_ids or ()), prefer=prefer
        )
    except Exception:  # noqa: BLE001 — a progress message must never undo the change that caused it
        logger.exception("ticket notice failed", extra={"ticket_id": t.ticket_id, "what": what})
        notice = notify.Notice(False, reason="could not be queued")
    add_event(
        t.ticket_id,
        "notified" if notice.sent else "not_notified",
        author,
        text=text,
        public=notice.sent,
        data={
            "what": what,
            "conversation_id": notice.conversation_id,
            "seq": notice.seq,
            "channel": notice.channel,
            "reason": notice.reason,
        },
    )
    return notice


def send_survey(t: Ticket) -> None:
    notice = tell(t, rules.render("csat", t.language), "csat")
    if not notice.sent:
        return
    now = now_iso()
    retrying(t.ticket_id, lambda cur: None if cur.csat_sent_at else [Ticket.csat_sent_at.set(now)])


def comment(p: Principal, ticket_id: str, text: str, public: bool) -> dict[str, Any]:
    """An internal comment, or a public reply that goes out on the customer's channel: through
    ``outbound.reply`` on an open conversation (the agent's reply, as in the inbox), else on the
    customer's last channel. 409 when the customer cannot be reached."""
    t = get(ticket_id, consistent=public)  # a public reply changes the ticket: one read
    check_access(p, t)
    if not public:
        event = add_event(ticket_id, "comment", p.agent_id, text=text)
        return {"event": event_view(event)}
    if not t.requester_id:
        raise NotAllowed("the ticket has no customer to reply to")
    out = rules.render("reply", t.language, number=t.number, text=text)
    conversation = notify.pick_conversation(t.requester_id, set(t.conversation_ids or ()))
    if conversation is not None and conversation.status == OPEN:
        from chalicelib.outbound import service as outbound

        message = outbound.reply(
            conversation.conversation_id, p.agent_id, out, channel=None, may_take_over=True
        )
        notice = notify.Notice(True, conversation.conversation_id, int(message.seq), message.channel)
    else:
        notice = notify.send(t.requester_id, out, author=p.agent_id, linked=set(t.conversation_ids or ()))
    if not notice.sent:
        raise NotAllowed(f"the customer cannot be reached: {notice.reason}")
    event = add_event(
        ticket_id,
        "reply",
        p.agent_id,
        text=text,
        public=True,
        data={"conversation_id": notice.conversation_id, "seq": notice.seq, "channel": notice.channel},
    )
    now = now_iso()

    def replied(cur: Ticket) -> list[Action]:
        acts: list[Action] = [
            Ticket.last_public_reply_at.set(now),
            Ticket.first_responded_at.set(Ticket.first_responded_at | now),
        ]
        if cur.status == "new":
            acts += [Ticket.status.set("open")]
        return acts

    moved = retrying(ticket_id, replied)
    if moved is not None:
        before, after = moved
        if before.status == "new":
            add_event(ticket_id, "changed", p.agent_id, changes={"status": {"from": "new", "to": "open"}})
        sla_changed(after, "public_reply")
    return {"event": event_view(event), "conversation_id": notice.conversation_id, "seq": notice.seq}
