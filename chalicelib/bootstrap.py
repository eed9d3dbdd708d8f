"""Who reacts to what: the in-process event subscriptions (``chalicelib.events``), installed by
``app.py`` at import and by the tests' conftest. Publishers never import their subscribers; this
table, at the top of the house beside the HTTP glue, is the one place that names both.
"""

from __future__ import annotations

from chalicelib import events


# Each subscriber imports its module on the first event, not when app.py installs the table (cold start).
def _sla_follows_the_ticket(event: events.TicketChanged) -> None:
    from chalicelib.sla import tickets as sla_tickets

    sla_tickets.on_ticket_changed(event)


def _first_response_clock_stops(event: events.ConversationAnswered) -> None:
    from chalicelib.sla import service as sla

    sla.on_conversation_answered(event)


def _counted(event: events.Activity) -> None:
    from chalicelib.analytics import outbox

    outbox.on_activity(event)


def _auto_tags_learn_from_the_message(event: events.CustomerMessageStored) -> None:
    from chalicelib.insight import service as insight

    insight.on_customer_message(event)


def _opt_out_keywords_are_heard(event: events.CustomerMessageStored) -> None:
    from chalicelib.proactive import service as proactive

    proactive.on_customer_message(event)


def _score_card_keeps_the_survey(event: events.CsatAnswered) -> None:
    from chalicelib.quality import scorecards

    scorecards.on_csat(event)


def _webhooks_hear_it(event: events.Announced) -> None:
    from chalicelib.webhooks import service as webhooks

    webhooks.on_announced(event)


SUBSCRIPTIONS: dict[type[events.Event], tuple[events.Handler, ...]] = {
    # a ticket change can move its deadlines: the SLA clock follows (tickets -> sla.tickets.on_ticket_changed)
    events.TicketChanged: (_sla_follows_the_ticket,),
    # a first reply, or a survey answer that closed the conversation (outbound, tickets ->
    # sla.service.on_conversation_answered)
    events.ConversationAnswered: (_first_response_clock_stops,),
    # a countable fact (conversations: opened, message in/out, reply, closed -> analytics.outbox, which
    # queues the invocation's facts together for analytics.aggregator, off the request path)
    events.Activity: (_counted,),
    # a customer's message may earn an auto-tag (router -> insight.service.on_customer_message)
    # ... and STOP / 退订 / TD opts them out of notices on that channel (-> proactive.service)
    events.CustomerMessageStored: (_auto_tags_learn_from_the_message, _opt_out_keywords_are_heard),
    # a survey answer: the linked conversations' quality score cards keep it (tickets ->
    # quality.scorecards.on_csat)
    events.CsatAnswered: (_score_card_keeps_the_survey,),
    # a public fact (message.created, ticket.updated …): outgoing webhooks fan it out (conversations,
    # tickets -> webhooks.service.on_announced)
    events.Announced: (_webhooks_hear_it,),
}


def install() -> None:
    events.install(SUBSCRIPTIONS)
