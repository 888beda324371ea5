"""How long a webhook delivery waits before its next attempt. Pure: the jitter comes in.

Exponential backoff with full jitter: the wait is drawn uniformly between nothing and an
exponential ceiling, itself capped, so that retries from many deliveries that failed together
spread out instead of reaching the endpoint in waves.
"""

from dataclasses import dataclass
from datetime import timedelta

# Doubling further cannot matter below any sane cap, and 2.0**1000 is still a finite float.
MAX_DOUBLINGS = 1000


@dataclass(frozen=True)
class Backoff:
    base: timedelta
    cap: timedelta

    def ceiling(self, failures: int) -> timedelta:
        """The longest wait after ``failures`` consecutive failures (at least one)."""
        if failures < 1:
            raise ValueError("a wait follows at least one failure")
        doublings = min(failures - 1, MAX_DOUBLINGS)
        seconds = self.base.total_seconds() * 2.0**doublings
        return timedelta(seconds=min(self.cap.total_seconds(), seconds))

    def delay(self, failures: int, jitter: float) -> timedelta:
        """The wait after ``failures`` failures, ``jitter`` drawn uniformly from [0, 1)."""
        if not 0 <= jitter < 1:
            raise ValueError("jitter is a fraction in [0, 1)")
        return timedelta(seconds=self.ceiling(failures).total_seconds() * jitter)
