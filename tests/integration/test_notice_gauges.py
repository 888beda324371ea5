"""The router's timer counts the notice gauges at its first round and then once an interval:
the count reads every open notice, so a round every few seconds must not run it each time."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from conftest import Databases
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from broker.adapters import db, metrics
from broker.adapters.notice_gauges import NoticeGauges

pytestmark = pytest.mark.integration

NOW = datetime(2026, 11, 30, 9, tzinfo=UTC)
STALE = -1.0  # a value no count sets


@pytest.fixture
async def engine(databases: Databases) -> AsyncIterator[AsyncEngine]:
    engine = db.make_engine(await databases.new())
    yield engine
    await engine.dispose()


def schools_open() -> float | None:
    return metrics.REGISTRY.get_sample_value("sgb_notices_open", {"org_kind": "school"})


class Clock:
    def __init__(self) -> None:
        self.seconds = 1000.0

    def __call__(self) -> float:
        return self.seconds


class TestNoticeGauges:
    async def test_counted_first_then_once_an_interval(self, engine: AsyncEngine) -> None:
        """The first round counts; a round before the interval is out leaves the gauges as
        they were; the first round after it counts again."""
        clock = Clock()
        gauges = NoticeGauges(engine, interval=30, clock=clock)
        metrics.NOTICES_OPEN.labels("school").set(STALE)
        assert await gauges.refresh_if_due(NOW)
        assert schools_open() == 0  # no notice is open
        metrics.NOTICES_OPEN.labels("school").set(STALE)
        clock.seconds += 29.9
        assert not await gauges.refresh_if_due(NOW)
        assert schools_open() == STALE
        clock.seconds += 0.1
        assert await gauges.refresh_if_due(NOW)
        assert schools_open() == 0

    async def test_a_count_that_failed_is_tried_next_round(
        self, engine: AsyncEngine, tmp_path: Path
    ) -> None:
        """The database away: the count fails, and the next round tries again rather than
        waiting out the interval with stale gauges."""
        away = db.make_engine(f"sqlite+aiosqlite:///{tmp_path / 'no-such-folder' / 'x.db'}")
        gauges = NoticeGauges(away, interval=30, clock=Clock())
        with pytest.raises(OperationalError):
            await gauges.refresh_if_due(NOW)
        await away.dispose()
        gauges.engine = engine  # back
        metrics.NOTICES_OPEN.labels("school").set(STALE)
        assert await gauges.refresh_if_due(NOW)
        assert schools_open() == 0
