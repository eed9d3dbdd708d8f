"""Canned replies (C4): personal and team answers with variables, searchable, filled in from the
conversation's customer, the agent and the customer's orders."""
