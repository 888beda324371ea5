"""Webhook retry backoff: exponential, capped, with full jitter."""

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.delivery.backoff import Backoff

BACKOFF = Backoff(base=timedelta(seconds=2), cap=timedelta(minutes=10))
failures = st.integers(min_value=1, max_value=10_000)
jitters = st.floats(min_value=0, max_value=1, exclude_max=True)
bases = st.timedeltas(min_value=timedelta(milliseconds=1), max_value=timedelta(hours=1))
caps = st.timedeltas(min_value=timedelta(milliseconds=1), max_value=timedelta(days=7))


class TestCeiling:
    @pytest.mark.parametrize(
        ("failures", "seconds"), [(1, 2), (2, 4), (3, 8), (8, 256), (9, 512), (10, 600), (99, 600)]
    )
    def test_doubles_from_the_base_up_to_the_cap(self, failures: int, seconds: float) -> None:
        """The ceiling is base * 2^(failures - 1), never above the cap."""
        assert BACKOFF.ceiling(failures) == timedelta(seconds=seconds)

    def test_no_wait_before_a_failure(self) -> None:
        """A wait follows a failure: zero failures is a caller's mistake."""
        with pytest.raises(ValueError, match="at least one failure"):
            BACKOFF.ceiling(0)

    @given(bases, caps, failures)
    def test_never_above_the_cap(self, base: timedelta, cap: timedelta, n: int) -> None:
        """However many failures, the ceiling stays at or under the cap (no overflow)."""
        assert Backoff(base, cap).ceiling(n) <= cap

    @given(bases, caps, failures)
    def test_never_shrinks_as_failures_grow(self, base: timedelta, cap: timedelta, n: int) -> None:
        """One more failure never lowers the ceiling."""
        backoff = Backoff(base, cap)
        assert backoff.ceiling(n + 1) >= backoff.ceiling(n)


class TestDelay:
    @given(bases, caps, failures, jitters)
    def test_full_jitter_stays_between_nothing_and_the_ceiling(
        self, base: timedelta, cap: timedelta, n: int, jitter: float
    ) -> None:
        """Every wait lies in [0, ceiling]: full jitter, never negative, never past the cap."""
        backoff = Backoff(base, cap)
        assert timedelta(0) <= backoff.delay(n, jitter) <= backoff.ceiling(n)

    @given(failures, jitters, jitters)
    def test_more_jitter_never_means_a_shorter_wait(self, n: int, a: float, b: float) -> None:
        """The wait grows with the jitter drawn: it is the ceiling scaled by it."""
        low, high = sorted((a, b))
        assert BACKOFF.delay(n, low) <= BACKOFF.delay(n, high)

    def test_spreads_across_the_whole_range(self) -> None:
        """Jitter near 0 waits almost nothing; near 1, almost the whole ceiling."""
        assert BACKOFF.delay(3, 0.0) == timedelta(0)
        assert BACKOFF.delay(3, 0.999) > timedelta(seconds=7.9)

    @pytest.mark.parametrize("jitter", [-0.1, 1.0, 2.0])
    def test_jitter_is_a_fraction(self, jitter: float) -> None:
        """Jitter outside [0, 1) is refused rather than stretching the cap."""
        with pytest.raises(ValueError, match="fraction"):
            BACKOFF.delay(1, jitter)
