"""Conversations and their messages: one open conversation per customer, across channels."""
