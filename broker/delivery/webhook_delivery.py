"""What follows a webhook attempt: delivered, tried again later, or given up. Pure.

A 2xx is delivered (a transport receipt, never an acknowledgement). A timeout, a transport
error, a 5xx, a 408 or a 429 is transient: tried again after a backoff, until the attempts run
out. Any other answer (a 3xx, which is never followed, or a 4xx the endpoint meant) is
permanent: retrying would only repeat it, so the delivery is dead-lettered at once and the
recipient's queue moves on. So is an endpoint whose address is refused (``webhook_targets``):
nothing was sent, and nothing will be until the directory gives it another URL.
"""

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from broker.delivery.backoff import Backoff
from broker.delivery.retry import EXHAUSTED, retry_at

RETRYABLE_4XX = frozenset({408, 429})


class Verdict(StrEnum):
    DELIVERED = "delivered"
    RETRY = "retry"
    DEAD = "dead"


@dataclass(frozen=True)
class Attempt:
    """One attempt's result: the HTTP status, or the class of transport error (no status)."""

    status: int | None
    error: str | None = None
    refused: bool = False  # not sent: the endpoint's address is not one the broker may reach

    @property
    def transient(self) -> bool:
        if self.refused:
            return False
        return self.status is None or self.status >= 500 or self.status in RETRYABLE_4XX

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def error_class(self) -> str:
        return self.error or f"http_{self.status}"


@dataclass(frozen=True)
class Next:
    verdict: Verdict
    reason: str | None = None  # webhook_rejected | address_refused | attempts_exhausted
    retry_at: datetime | None = None


def after(
    attempt: Attempt, attempts: int, max_attempts: int, backoff: Backoff, now: datetime,
    jitter: float,
) -> Next:  # fmt: skip
    """The delivery's next step after its ``attempts``-th attempt ended as ``attempt``."""
    if attempt.delivered:
        return Next(Verdict.DELIVERED)
    if attempt.refused:
        return Next(Verdict.DEAD, "address_refused")
    if not attempt.transient:
        return Next(Verdict.DEAD, "webhook_rejected")
    at = retry_at(attempts, max_attempts, backoff, now, jitter)
    return Next(Verdict.DEAD, EXHAUSTED) if at is None else Next(Verdict.RETRY, retry_at=at)
