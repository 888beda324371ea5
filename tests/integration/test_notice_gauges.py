"""The router's timer counts the notice gauges at its first round and then once an interval:
the count reads every open notice, so a round every few seconds must not run it each time."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from conftest import Databases
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
