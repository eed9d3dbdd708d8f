"""The router: consumes the inbound FIFO queue and turns normalized messages into state."""
