"""Who reacts to what: the in-process event subscriptions (``chalicelib.events``), installed by
``app.py`` at import and by the tests' conftest. Publishers never import their subscribers; this
table, at the top of the house beside the HTTP glue, is the one place that names both.
"""

from __future__ import annotations

from chalicelib import events
from chalicelib.quality import scorecards
from chalicelib.sla import service as sla
from chalicelib.sla import tickets as sla_tickets

SUBSCRIPTIONS: dict[type[events.Event], tuple[events.Handler, ...]] = {
    # a ticket change can move its deadlines: the SLA clock follows (tickets -> sla)
    events.TicketChanged: (sla_tickets.on_ticket_changed,),
    # a first reply, or a survey answer that closed the conversation (outbound, tickets -> sla)
    events.ConversationAnswered: (sla.on_conversation_answered,),
    # a survey answer: the linked conversations' quality score cards keep it (tickets -> quality)
    events.CsatAnswered: (scorecards.on_csat,),
}


def install() -> None:
    events.install(SUBSCRIPTIONS)
