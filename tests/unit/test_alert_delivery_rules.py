"""What follows an alert's attempt: sent, retried after a capped backoff, or given up."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.delivery.alert_delivery import after
from broker.delivery.backoff import Backoff
from broker.delivery.webhook_delivery import Next, Verdict
from broker.ports import AlertAttempt

NOW = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
BACKOFF = Backoff(timedelta(seconds=30), timedelta(minutes=30))
SENT, AWAY = AlertAttempt(True), AlertAttempt(False, "smtp_SMTPConnectError")
REFUSED = AlertAttempt(False, "smtp_550", transient=False)


class TestAfter:
    @pytest.mark.parametrize(
        ("attempt", "attempts", "expected"),
        [
            (SENT, 1, Next(Verdict.DELIVERED)),
            (SENT, 8, Next(Verdict.DELIVERED)),
            (REFUSED, 1, Next(Verdict.DEAD, "alert_rejected")),
            (AWAY, 8, Next(Verdict.DEAD, "attempts_exhausted")),
            (AWAY, 1, Next(Verdict.RETRY, retry_at=NOW + timedelta(seconds=15))),
            (AWAY, 3, Next(Verdict.RETRY, retry_at=NOW + timedelta(seconds=60))),
        ],
    )
    def test_each_outcome(self, attempt: AlertAttempt, attempts: int, expected: Next) -> None:
        """Sent is done; a permanent failure is given up at once; a transient one is retried
        after half the ceiling (this jitter) until the eighth attempt."""
        assert after(attempt, attempts, 8, BACKOFF, NOW, 0.5) == expected

    @given(st.integers(1, 1000), st.floats(0, 1, exclude_max=True))
    def test_a_retry_never_waits_past_the_cap(self, attempts: int, jitter: float) -> None:
        """However many failures, the next attempt is within the cap."""
        step = after(AWAY, attempts, 10_000, BACKOFF, NOW, jitter)
        assert step.retry_at is not None
        assert NOW <= step.retry_at <= NOW + BACKOFF.cap
