"""The loop every retry queue's worker runs (broker.services.retry_worker.poll)."""

import asyncio
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs

from broker.services.retry_worker import BLOCKED_SECONDS, idle_wait, poll


def passes(answers: list[int | Exception], stop: asyncio.Event) -> Callable[[], Awaitable[int]]:
    """A pass answering in turn from ``answers``; the last one sets ``stop``."""

    async def one_pass() -> int:
        answer = answers.pop(0)
        if not answers:
            stop.set()
        if isinstance(answer, Exception):
            raise answer
        return answer

    return one_pass


class TestPoll:
    async def test_runs_passes_until_told_to_stop(self) -> None:
        """A pass that did work is followed at once by another; the loop ends on ``stop``."""
        stop = asyncio.Event()
        answers: list[int | Exception] = [3, 1, 0]
        await asyncio.wait_for(poll(stop, passes(answers, stop), 60, "paused"), 5)
        assert answers == []

    async def test_the_database_away_pauses_and_logs(self) -> None:
        """A transient failure (the database or Kafka away) is logged by its class, and the
        worker carries on; so does one named ``also_transient``."""
        stop = asyncio.Event()
        answers: list[int | Exception] = [ConnectionError("down"), OSError("relay"), 0]
        with capture_logs() as logs:
            await poll(stop, passes(answers, stop), 0.01, "x_paused",
                       also_transient=(OSError,))  # fmt: skip
        assert [(e["event"], e["error"]) for e in logs] == [
            ("x_paused", "ConnectionError"), ("x_paused", "OSError")]  # fmt: skip

    async def test_any_other_error_stops_the_worker(self) -> None:
        """A bug is never swallowed as a pause."""
        stop = asyncio.Event()
        with pytest.raises(ValueError, match="bug"):
            await poll(stop, passes([ValueError("bug"), 0], stop), 0.01, "paused")

    async def test_a_wake_ends_the_idle_wait(self) -> None:
        """An empty pass waits its idle hour; a wake set meanwhile (this process queued
        work) runs the next pass at once."""
        stop, wake = asyncio.Event(), asyncio.Event()
        answers: list[int | Exception] = [0, 0]
        loop = asyncio.create_task(poll(stop, passes(answers, stop), 3600, "p", wake=wake))
        while len(answers) == 2:
            await asyncio.sleep(0)
        wake.set()
        await asyncio.wait_for(loop, 5)
        assert answers == []

    async def test_a_row_due_soon_ends_the_idle_wait(self) -> None:
        """An empty pass with a row due in a moment waits for that moment, not the hour."""
        stop = asyncio.Event()
        answers: list[int | Exception] = [0, 0]

        async def soon() -> datetime:
            return datetime.now(UTC) + timedelta(milliseconds=50)

        await asyncio.wait_for(poll(stop, passes(answers, stop), 3600, "p", next_due=soon), 5)
        assert answers == []


def due_in(seconds: float | None) -> Callable[[], Awaitable[datetime | None]]:
    async def next_due() -> datetime | None:
        return None if seconds is None else datetime.now(UTC) + timedelta(seconds=seconds)

    return next_due


class TestIdleWait:
    @pytest.mark.parametrize(
        ("due", "expected"),
        [
            (None, 5.0),  # nothing queued: the whole idle wait
            (3600.0, 5.0),  # due after the idle wait: the idle wait
            (-10.0, BLOCKED_SECONDS),  # due, yet the pass took none: no busy loop
        ],
    )
    async def test_the_wait_by_the_earliest_due_row(
        self, due: float | None, expected: float
    ) -> None:
        """Nothing queued, or due later, waits the idle wait; overdue waits a second."""
        assert await idle_wait(due_in(due), 5.0) == expected

    async def test_a_row_due_within_the_idle_wait_is_waited_for(self) -> None:
        """Due in two seconds: the wait ends then (to within the time the call took)."""
        assert 1.5 < await idle_wait(due_in(2.0), 5.0) <= 2.0

    @given(due=st.none() | st.floats(-1e6, 1e6), idle=st.floats(0.01, 3600))
    async def test_never_busy_never_past_the_idle_wait(
        self, due: float | None, idle: float
    ) -> None:
        """Whatever is queued, an idle worker waits more than nothing and at most its idle
        wait (or the blocked second when that is shorter)."""
        wait = await idle_wait(due_in(due), idle)
        assert 0 < wait <= max(idle, BLOCKED_SECONDS)
