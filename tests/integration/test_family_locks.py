"""Two routers deciding for one family at the same moment: the second waits for the first
to commit and then counts its event, as if the two had come one after the other.

A family's events reach different routers: one agency's events about one person share a
partition, another agency's need not. Each router's decision counts what has committed, so
without the wait a child's third attendance at two emergency departments, routed at once,
counts as a second on both routers, and nobody is told, ever.

Through the routing service, two routers (each its own directory projection, as deployed)
over one real database, SQLite and PostgreSQL."""

import asyncio
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import pytest
from sqlalchemy import select
from support import DemoDatabase, demo_database, sealed_delivery

from broker.adapters import db
from broker.adapters.data_keys import FileDataKeys
from broker.adapters.directory_projection import DirectoryProjection
from broker.adapters.family_locks import SqlFamilyLocks, lock_keys
from broker.adapters.kafka import Topics
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.bootstrap import routing_deps
from broker.demo import family
from broker.keys import KeyStore
from broker.ports import FamiliesNamed, UnitOfWork
from broker.services.routing import Delivery, RoutingDeps, record_events
from broker.services.scenario import CollectingPublisher
from schemas.events import Event, EventAdapter

pytestmark = pytest.mark.integration

NOW = datetime.now(UTC)
WAIT_S = 0.5  # how long the second router is watched waiting (it must not finish meanwhile)


def attendance(days_ago: int, source_org: str = "acute-demo") -> Event:
    """Child B at ED with a minor injury: on its own, nobody is told."""
    at = (NOW - timedelta(days=days_ago)).isoformat()
    return EventAdapter.validate_python({
        "event_id": str(uuid.uuid4()), "event_type": "ed_attendance", "source_org": source_org,
        "occurred_at": at, "arrived_at": at, "subject": {"nhs_number": family.CHILD_B},
        "presenting_category": "injury"})  # fmt: skip


class HeldBeforeCommit:
    """A unit of work that has decided and written, and waits for ``release`` before it
    commits: a router in the middle of its group."""

    def __init__(self, uow: UnitOfWork, decided: asyncio.Event, release: asyncio.Event) -> None:
        self._uow, self._decided, self._release = uow, decided, release

    async def __aenter__(self) -> UnitOfWork:
        return await self._uow.__aenter__()

    async def __aexit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Literal[False]:
        self._decided.set()
        await self._release.wait()
        return await self._uow.__aexit__(kind, exc, tb)


class Router:
    """One router: its own projection of the directory, its own units of work."""

    def __init__(self, demo: DemoDatabase, keys: KeyStore, households: Path) -> None:
        self.demo = demo
        self.projection = DirectoryProjection()
        self.deps = routing_deps(demo.sessions, keys, CollectingPublisher(),
                                 Topics.with_prefix("t."), projection=self.projection,
                                 data_keys=FileDataKeys(households))  # fmt: skip

    def delivery(self, event: Event, offset: int) -> Delivery:
        return sealed_delivery(self.demo, self.deps.keys.public, event, offset, NOW)

    def held(self, decided: asyncio.Event, release: asyncio.Event) -> RoutingDeps:
        """This router, its next unit of work held before its commit."""
        units = partial(SqlUnitOfWork, self.demo.sessions, self.projection)

        def held_unit() -> Any:
            return HeldBeforeCommit(units(), decided, release)

        return replace(self.deps, units=held_unit)


async def rules_of(demo: DemoDatabase, event: Event) -> set[str]:
    async with demo.sessions() as session:
        found = await session.scalars(select(db.NoticeRecord.rule_id).where(
            db.NoticeRecord.event_id == str(event.event_id)))  # fmt: skip
        return set(found)


@pytest.fixture
async def demo(database_url: str) -> Any:
    async with demo_database(database_url, NOW.date()) as demo:
        yield demo


class TestTwoRoutersOneFamily:
    async def test_a_third_attendance_routed_beside_the_second_is_counted_third(
        self, demo: DemoDatabase, tmp_path: Path
    ) -> None:
        """Child B attended ED 60 days ago. His second and third attendances are routed at
        once by two routers: the one with the third waits for the second's commit, counts
        three attendances within twelve months and raises the frequent-attender notices
        (the brief: a child's third attendance)."""
        keys = KeyStore.create(tmp_path / "keys")
        first = Router(demo, keys, tmp_path / "households-a")
        second = Router(demo, keys, tmp_path / "households-b")
        earlier, beside, third = attendance(60), attendance(30), attendance(1)
        await record_events([first.delivery(earlier, 0)], first.deps)

        decided, release = asyncio.Event(), asyncio.Event()
        held = asyncio.create_task(
            record_events([first.delivery(beside, 1)], first.held(decided, release))
        )
        await decided.wait()  # the first router has decided and written, not committed
        waiting = asyncio.create_task(record_events([second.delivery(third, 0)], second.deps))
        await asyncio.sleep(WAIT_S)
        assert not waiting.done(), "the second router decided before the first committed"
        release.set()
        await asyncio.gather(held, waiting)

        assert not any(r.startswith("ed.frequent_attender") for r in await rules_of(demo, beside))
        assert any(r.startswith("ed.frequent_attender") for r in await rules_of(demo, third))

    async def test_another_family_is_not_held_up(
        self, demo: DemoDatabase, database_backend: str
    ) -> None:
        """On PostgreSQL a family's lock holds back only that family's decisions: another
        family's are taken at once (SQLite writes one transaction at a time anyway)."""
        if database_backend != "postgresql":
            pytest.skip("SQLite writes one transaction at a time: every router waits")
        one, other = (
            FamiliesNamed(frozenset({"hh-1"}), frozenset({"p-1"})),
            FamiliesNamed(frozenset({"hh-2"}), frozenset({"p-2"})),
        )
        async with demo.sessions() as holding, holding.begin():
            await SqlFamilyLocks(holding).hold(one)
            async with demo.sessions() as other_router, other_router.begin():
                await asyncio.wait_for(SqlFamilyLocks(other_router).hold(other), timeout=30)
                same = asyncio.create_task(_hold_in_own_transaction(demo, one))
                await asyncio.sleep(WAIT_S)
                assert not same.done(), "the same family was held twice at once"
        await asyncio.wait_for(same, timeout=30)


async def _hold_in_own_transaction(demo: DemoDatabase, families: FamiliesNamed) -> None:
    async with demo.sessions() as session, session.begin():
        await SqlFamilyLocks(session).hold(families)


class TestLockKeys:
    def test_every_household_and_person_once_in_one_order(self) -> None:
        """Keys are sorted and unique whatever order the families come in, so two groups of
        events never wait for each other in a circle."""
        a = FamiliesNamed(frozenset({"hh-1", "hh-2"}), frozenset({"p-1", "p-2", "p-3"}))
        b = FamiliesNamed(frozenset({"hh-2", "hh-1"}), frozenset({"p-3", "p-1", "p-2"}))
        assert lock_keys(a) == lock_keys(b) == sorted(set(lock_keys(a)))
        assert len(lock_keys(a)) == 5
        assert lock_keys(FamiliesNamed()) == []
