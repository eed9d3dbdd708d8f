"""Audit trail (C14): who did what to which customer, kept per subject."""
