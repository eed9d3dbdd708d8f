"""Outgoing webhooks (Standard Webhooks): endpoints subscribe to public event types, deliveries go
through the ``webhooks`` SQS queue with retries on a schedule, then the DLQ; every attempt is logged."""
