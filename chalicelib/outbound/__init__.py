"""Replies going out: queued by the agent API, sent by the outbound queue consumer."""
