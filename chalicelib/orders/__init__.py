"""Orders from the company's own systems (C2 "customer 360", C15 connectors), through one
configurable HTTP connector."""
