"""The loop every retry queue's worker runs (broker.services.retry_worker.poll)."""

import asyncio
from collections.abc import Awaitable, Callable

import pytest
from structlog.testing import capture_logs

from broker.services.retry_worker import poll


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
