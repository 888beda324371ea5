"""A circuit breaker per webhook endpoint, as a state machine over plain data. Pure.

    closed --(threshold consecutive failures)--> open
    open --(cool-down over, one request let through)--> half-open
    half-open --(that trial succeeds)--> closed
    half-open --(that trial fails)--> open again, for a fresh cool-down

While open, and while a half-open trial is out, requests are refused without reaching the
endpoint: an endpoint that is down is not hammered, and it is tried again on its own schedule.
A success is anything showing the endpoint alive (a 2xx, or a 4xx it meant); a failure is a
transport error, a timeout, a 5xx, a 408 or a 429.
"""

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass(frozen=True)
class BreakerPolicy:
    threshold: int  # consecutive failures that open the breaker
    cool_down: timedelta  # how long it stays open before a trial


@dataclass(frozen=True)
class Breaker:
    state: BreakerState = BreakerState.CLOSED
    failures: int = 0  # consecutive, while closed
    opened_at: datetime | None = None

    def admit(self, now: datetime, policy: BreakerPolicy) -> "tuple[bool, Breaker]":
        """Whether a request may go now, and the breaker after deciding."""
        match self.state:
            case BreakerState.CLOSED:
                return True, self
            case BreakerState.OPEN if now >= self.retry_at(policy):
                return True, replace(self, state=BreakerState.HALF_OPEN)
            case _:
                return False, self

    def succeeded(self) -> "Breaker":
        return Breaker()

    def failed(self, now: datetime, policy: BreakerPolicy) -> "Breaker":
        match self.state:
            case BreakerState.CLOSED if self.failures + 1 < policy.threshold:
                return replace(self, failures=self.failures + 1)
            case BreakerState.OPEN:
                # A request let through before the breaker opened: the cool-down stands.
                return self
            case _:
                return Breaker(BreakerState.OPEN, 0, now)

    def retry_at(self, policy: BreakerPolicy) -> datetime:
        """When an open breaker lets its trial through; raises unless open."""
        if self.opened_at is None:
            raise ValueError("only an open breaker has a retry time")
        return self.opened_at + policy.cool_down
