"""Tickets (C7) and their SLA (C8): a promise with an owner, a deadline, an escalation path, and
progress the customer sees on their own channel."""
