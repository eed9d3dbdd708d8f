"""One customer, one id: channel identities, verified phones/e-mails/unionids, merges (C2)."""
