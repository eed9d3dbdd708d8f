"""Agent assist (C6): what the agent is helped with while a customer writes — the sentiment and
escalation risk of each customer message (``sentiment``), the entities it contains (``entities``)."""
