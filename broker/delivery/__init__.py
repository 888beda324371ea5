"""Delivery mechanics, apart from the safeguarding policy in ``broker.rules``: how a webhook
is retried, when an endpoint's circuit opens, where a webhook may point. Pure, as the rules
are: no I/O, the clock and the jitter come in as arguments."""
