"""SLA clocks (C8). Each open conversation's first-response deadline is watched by an execution of
the ``sla`` state machine (``infra/sla.asl.json``); business logic for breaches runs here, fed by
the events queue the machine writes to."""
