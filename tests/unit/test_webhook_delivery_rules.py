"""What follows a webhook attempt: delivered, retried after a backoff, or dead-lettered."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.delivery.backoff import Backoff
from broker.delivery.webhook_delivery import Attempt, Next, Verdict, after

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
BACKOFF = Backoff(timedelta(seconds=1), timedelta(seconds=60))
MAX = 5


def step(attempt: Attempt, attempts: int = 1, jitter: float = 0.5) -> Next:
    return after(attempt, attempts, MAX, BACKOFF, NOW, jitter)


class TestVerdict:
    @pytest.mark.parametrize("status", [200, 201, 202, 204, 299])
    def test_a_2xx_is_delivered(self, status: int) -> None:
        """Any 2xx: the recipient's system has the notice."""
        assert step(Attempt(status)).verdict is Verdict.DELIVERED

    @pytest.mark.parametrize(
        "attempt",
        [
            Attempt(500),
            Attempt(502),
            Attempt(503),
            Attempt(408),
            Attempt(429),
            Attempt(None, "ConnectError"),
            Attempt(None, "timeout"),
        ],
        ids=str,
    )
    def test_transient_failures_are_retried_after_a_backoff(self, attempt: Attempt) -> None:
        """Server errors, timeouts, throttling and transport errors are tried again later."""
        nxt = step(attempt, attempts=2, jitter=0.5)
        assert nxt.verdict is Verdict.RETRY
        assert nxt.retry_at == NOW + timedelta(seconds=1)  # half of the 2 s ceiling

    @pytest.mark.parametrize("status", [301, 302, 400, 401, 403, 404, 410, 413, 422])
    def test_other_answers_are_permanent(self, status: int) -> None:
        """A redirect (never followed) or a 4xx the endpoint meant: dead-lettered at once."""
        nxt = step(Attempt(status), attempts=1)
        assert (nxt.verdict, nxt.reason) == (Verdict.DEAD, "webhook_rejected")

    def test_transient_failures_stop_when_the_attempts_run_out(self) -> None:
        """The last allowed attempt failing dead-letters the delivery."""
        nxt = step(Attempt(503), attempts=MAX)
        assert (nxt.verdict, nxt.reason) == (Verdict.DEAD, "attempts_exhausted")

    def test_a_late_success_is_still_delivered(self) -> None:
        """Success on the very last attempt counts."""
        assert step(Attempt(200), attempts=MAX).verdict is Verdict.DELIVERED

    @given(
        st.one_of(st.none(), st.integers(min_value=100, max_value=599)),
        st.integers(min_value=1, max_value=MAX),
        st.floats(min_value=0, max_value=1, exclude_max=True),
    )
    def test_a_retry_is_never_in_the_past_nor_past_the_cap(
        self, status: int | None, attempts: int, jitter: float
    ) -> None:
        """Whatever happened, a retry is scheduled between now and now plus the cap."""
        nxt = step(Attempt(status, None if status else "ConnectError"), attempts, jitter)
        if nxt.verdict is Verdict.RETRY:
            assert nxt.retry_at is not None
            assert NOW <= nxt.retry_at <= NOW + BACKOFF.cap
        else:
            assert nxt.retry_at is None


class TestAttempt:
    def test_error_class_names_the_status_or_the_transport_error(self) -> None:
        """The recorded error is a class, never a message or a body."""
        assert Attempt(503).error_class == "http_503"
        assert Attempt(None, "ReadTimeout").error_class == "ReadTimeout"
