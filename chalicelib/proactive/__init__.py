"""Proactive service (C12): business events become notices on the customer's channel, within the
channels' rules (reply windows, opt-outs, quiet hours, a daily cap); what could not go is suppressed
with its reason, never dropped silently."""
