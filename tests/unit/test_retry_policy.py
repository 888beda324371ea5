"""The retry cycle every queue shares (broker.delivery.retry): a claim counts and leases the
attempt, a transient failure waits the backoff until the attempts run out."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.delivery.backoff import Backoff
from broker.delivery.retry import given_up, lease, retry_at, retrying

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
BACKOFF = Backoff(timedelta(seconds=2), timedelta(minutes=10))
EARLIER = NOW - timedelta(hours=1)


@dataclass(frozen=True)
class Item:
    attempts: int
    first_failed_at: datetime | None = None


class TestRetryAt:
    @pytest.mark.parametrize(("attempts", "max_attempts", "jitter", "wait"), [
        (1, 8, 0.5, timedelta(seconds=1)),  # half of the first ceiling, 2 s
        (3, 8, 0.5, timedelta(seconds=4)),  # half of 8 s
        (7, 8, 0.0, timedelta(0)),  # no jitter drawn: at once
        (1, 1, 0.5, None),  # one attempt allowed, made
        (8, 8, 0.5, None),  # the last attempt made
        (9, 8, 0.5, None),  # past it (a lease that ran out and was claimed again)
    ])  # fmt: skip
    def test_waits_the_backoff_until_the_attempts_run_out(
        self, attempts: int, max_attempts: int, jitter: float, wait: timedelta | None
    ) -> None:
        """After the n-th attempt the wait is the backoff's for n failures; None at the last."""
        at = retry_at(attempts, max_attempts, BACKOFF, NOW, jitter)
        assert at == (None if wait is None else NOW + wait)

    @given(st.integers(1, 50), st.integers(1, 50), st.floats(0, 1, exclude_max=True))
    def test_gives_up_exactly_when_the_attempts_run_out(
        self, attempts: int, max_attempts: int, jitter: float
    ) -> None:
        """Never retried at or past the last attempt; otherwise never before now, never past
        the backoff's cap."""
        at = retry_at(attempts, max_attempts, BACKOFF, NOW, jitter)
        assert (at is None) == (attempts >= max_attempts)
        if at is not None:
            assert NOW <= at <= NOW + BACKOFF.cap


class TestChanges:
    def test_a_claim_is_leased_past_the_requests_timeout(self) -> None:
        """Held for twice the request's timeout and 5 s."""
        assert lease(10) == timedelta(seconds=25)

    @pytest.mark.parametrize(("first", "kept"), [(None, NOW), (EARLIER, EARLIER)])
    def test_a_retry_keeps_when_it_first_failed(
        self, first: datetime | None, kept: datetime
    ) -> None:
        """The first failure's time is set once, by the first failure."""
        at = NOW + timedelta(seconds=4)
        assert retrying(Item(1, first), at, "http_503", NOW) == {
            "next_attempt_at": at, "last_error": "http_503", "first_failed_at": kept}  # fmt: skip

    def test_given_up_ends_it_in_the_dead_state(self) -> None:
        """Finished now, in the queue's own dead state, with the error and first failure."""
        assert given_up(Item(8, EARLIER), "dead", "Timeout", NOW) == {
            "state": "dead", "finished_at": NOW, "last_error": "Timeout",
            "first_failed_at": EARLIER}  # fmt: skip
