"""The per-endpoint circuit breaker: every state against every event, and its promises."""

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from broker.delivery.circuit_breaker import Breaker, BreakerPolicy, BreakerState

POLICY = BreakerPolicy(threshold=3, cool_down=timedelta(seconds=30))
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
EARLY = T0 + timedelta(seconds=29)  # still cooling down
LATE = T0 + timedelta(seconds=30)  # cool-down over
CLOSED = Breaker()
NEARLY = Breaker(BreakerState.CLOSED, failures=POLICY.threshold - 1)
OPEN = Breaker(BreakerState.OPEN, 0, T0)
HALF_OPEN = Breaker(BreakerState.HALF_OPEN, 0, T0)


class TestEveryStateAndEvent:
    """The whole transition table: (state, event) -> (admitted?, next state)."""

    @pytest.mark.parametrize(
        ("breaker", "now", "admitted", "after"),
        [
            (CLOSED, EARLY, True, CLOSED),
            (NEARLY, EARLY, True, NEARLY),
            (OPEN, EARLY, False, OPEN),
            (OPEN, LATE, True, HALF_OPEN),
            (HALF_OPEN, EARLY, False, HALF_OPEN),
            (HALF_OPEN, LATE, False, HALF_OPEN),
        ],
        ids=[
            "closed",
            "closed-near-threshold",
            "open-cooling",
            "open-cooled",
            "trial-out",
            "trial-out-late",
        ],
    )
    def test_admit(self, breaker: Breaker, now: datetime, admitted: bool, after: Breaker) -> None:
        """Closed lets everything through; open nothing until cooled, then one trial."""
        assert breaker.admit(now, POLICY) == (admitted, after)

    @pytest.mark.parametrize("breaker", [CLOSED, NEARLY, OPEN, HALF_OPEN])
    def test_success_closes_from_any_state(self, breaker: Breaker) -> None:
        """A success (the endpoint is alive) closes the breaker and forgets failures."""
        assert breaker.succeeded() == CLOSED

    @pytest.mark.parametrize(
        ("breaker", "after"),
        [
            (CLOSED, Breaker(BreakerState.CLOSED, failures=1)),
            (NEARLY, Breaker(BreakerState.OPEN, 0, LATE)),
            (OPEN, OPEN),
            (HALF_OPEN, Breaker(BreakerState.OPEN, 0, LATE)),
        ],
        ids=["closed", "closed-at-threshold", "open", "half-open"],
    )
    def test_failure(self, breaker: Breaker, after: Breaker) -> None:
        """Failures count up to the threshold and open it; a failed trial opens it afresh;
        a late failure while open keeps the cool-down it has."""
        assert breaker.failed(LATE, POLICY) == after

    def test_only_an_open_breaker_has_a_retry_time(self) -> None:
        """A closed breaker has nothing to wait for."""
        assert OPEN.retry_at(POLICY) == LATE
        with pytest.raises(ValueError, match="only an open breaker"):
            CLOSED.retry_at(POLICY)


events = st.lists(st.sampled_from(["admit", "succeed", "fail"]), max_size=40)
steps = st.lists(st.integers(min_value=0, max_value=40), min_size=40, max_size=40)
thresholds = st.integers(min_value=1, max_value=6)


def replay(
    ops: list[str], gaps: list[int], policy: BreakerPolicy
) -> list[tuple[str, Breaker, bool]]:
    """Runs the events with the clock moving ``gaps`` seconds before each; the trace."""
    breaker, now, trace = Breaker(), T0, []
    for op, gap in zip(ops, gaps, strict=False):
        now += timedelta(seconds=gap)
        before, admitted = breaker, False
        if op == "admit":
            admitted, breaker = breaker.admit(now, policy)
        elif op == "succeed":
            breaker = breaker.succeeded()
        else:
            breaker = breaker.failed(now, policy)
        trace.append((op, before, admitted))
        assert breaker.state is not BreakerState.OPEN or breaker.opened_at is not None
        if before.state is BreakerState.OPEN and op == "admit":
            assert admitted == (now >= before.retry_at(policy))
    return trace


class TestPromises:
    @given(events, steps, thresholds)
    def test_never_admits_while_open_before_the_cool_down(
        self, ops: list[str], gaps: list[int], threshold: int
    ) -> None:
        """An open breaker refuses until its cool-down is over, whatever came before."""
        replay(ops, gaps, BreakerPolicy(threshold, timedelta(seconds=30)))

    @given(events, steps, thresholds)
    def test_one_trial_at_a_time(self, ops: list[str], gaps: list[int], threshold: int) -> None:
        """While half-open (a trial out), every further request is refused."""
        for op, before, admitted in replay(ops, gaps, BreakerPolicy(threshold, timedelta(1))):
            if op == "admit" and before.state is BreakerState.HALF_OPEN:
                assert not admitted

    @given(thresholds, st.integers(min_value=0, max_value=10))
    def test_opens_exactly_at_the_threshold(self, threshold: int, count: int) -> None:
        """From closed, ``threshold`` consecutive failures open it and fewer do not."""
        policy, breaker = BreakerPolicy(threshold, timedelta(seconds=30)), Breaker()
        for _ in range(count):
            breaker = breaker.failed(T0, policy)
        assert (breaker.state is BreakerState.OPEN) == (count >= threshold)

    @given(thresholds)
    def test_a_success_between_failures_resets_the_count(self, threshold: int) -> None:
        """Failures must be consecutive: one success in between starts the count again."""
        policy, breaker = BreakerPolicy(threshold, timedelta(seconds=30)), Breaker()
        for _ in range(threshold - 1):
            breaker = breaker.failed(T0, policy)
        breaker = breaker.succeeded().failed(T0, policy)
        assert breaker.state is BreakerState.CLOSED or threshold == 1
