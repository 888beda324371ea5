"""What follows an alert's attempt: sent, tried again later, or given up. Pure.

Transient failures (the mail relay or Notify away, a 4xx SMTP reply, a 5xx or 429 from
Notify) are tried again after a capped exponential backoff with full jitter, until the
attempts run out; a permanent one (an address refused, a request Notify will never accept) is
given up at once, and counted against the contact's channel for the failing-alerts report.
"""

from datetime import datetime

from broker.delivery.backoff import Backoff
from broker.delivery.retry import EXHAUSTED, retry_at
from broker.delivery.webhook_delivery import Next, Verdict
from broker.ports import AlertAttempt


def after(
    attempt: AlertAttempt, attempts: int, max_attempts: int, backoff: Backoff, now: datetime,
    jitter: float,
) -> Next:  # fmt: skip
    """The alert's next step after its ``attempts``-th attempt ended as ``attempt``."""
    if attempt.sent:
        return Next(Verdict.DELIVERED)
    if not attempt.transient:
        return Next(Verdict.DEAD, "alert_rejected")
    at = retry_at(attempts, max_attempts, backoff, now, jitter)
    return Next(Verdict.DEAD, EXHAUSTED) if at is None else Next(Verdict.RETRY, retry_at=at)
