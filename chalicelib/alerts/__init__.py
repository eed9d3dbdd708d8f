"""Alerts (issue 16): admin thresholds over an analytics metric and window, evaluated every
minute from the buckets, with hysteresis; notified by SNS, the console feed and outgoing webhooks."""
