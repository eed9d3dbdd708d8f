"""Quality inspection (C9): the rules an admin sets for what agents send (forbidden and risky
phrases matched through disguise, patterns, required elements, response times), checked as a draft
is typed (``POST /quality/check``) and again server-side before a reply is stored (a ``block``
violation refuses it with 422, a ``warn`` is recorded on the message)."""
