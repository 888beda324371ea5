"""What a group of events reads ahead: the household histories (adapters/history_ahead.py),
the same history as read for each event on its own, a household the group moves read afresh;
the chronology and the people's pattern records each read once for the whole group.

Through a real database (SQLite and PostgreSQL)."""

from datetime import date, datetime, timedelta
from itertools import combinations
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event as orm_events
from sqlalchemy import select
from support import demo_database

from broker.adapters import chronology, db
from broker.adapters.directory import SqlDirectory
from broker.adapters.directory_projection import DirectoryProjection
from broker.adapters.history_ahead import HistoriesAhead
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.demo import family
from broker.keys import KeyStore
from schemas.events import Event, PersonRef
from tests.integration.test_group_directory_writes import crisis, events, in_memory_directory
from tests.integration.test_routing_group import NOW, Group, attendance

pytestmark = pytest.mark.integration

HOMES = ("h-1", "h-2", "h-3")


@pytest.fixture
def keys(tmp_path: Path) -> KeyStore:
    return KeyStore.create(tmp_path / "keys")


AT = datetime(2026, 3, 2, 9, 30, tzinfo=NOW.tzinfo)


async def households_with_history(url: str) -> Any:
    """Three households: lines at the same time in two of them and apart in all, one with
    two areas left, one with none."""
    engine = db.make_engine(url)
    await db.create_schema(engine)
    sessions = db.sessions(engine, b"k" * 32)
    async with sessions.begin() as session:
        session.add_all(db.Household(id=h, area="E09000001") for h in HOMES)
        session.add_all([
            db.HouseholdArea(household_id="h-1", area="E09000002", moved_out=date(2025, 1, 1)),
            db.HouseholdArea(household_id="h-1", area="E09000003", moved_out=date(2024, 1, 1)),
            db.HouseholdArea(household_id="h-2", area="E09000004", moved_out=date(2024, 6, 1)),
        ])  # fmt: skip
        for n, (home, minutes) in enumerate([("h-1", 0), ("h-2", 0), ("h-3", 5), ("h-2", -5),
                                              ("h-1", 10), ("h-3", 0)]):  # fmt: skip
            kind = "event" if n % 2 == 0 else "notice"
            session.add(db.ChronologyEntry(
                household_id=home, at=AT + timedelta(minutes=minutes), kind=kind,
                event_id=f"e-{n // 3}", event_type="ed_attendance", source_org="acute-demo",
                notice_id=f"n-{n}" if kind == "notice" else None, severity="low",
                notice_type="agency_information", rule_id=f"rule-{n}", signals="injury",
            ))  # fmt: skip
    return engine, sessions


class TestHistoriesAhead:
    async def test_each_households_history_is_as_read_on_its_own(self, database_url: str) -> None:
        """For every set of the households read ahead, the history is the one
        ``chronology.household_history`` reads for that set."""
        engine, sessions = await households_with_history(database_url)
        try:
            async with sessions() as session:
                ahead = HistoriesAhead()
                await ahead.read(session, HOMES)
                for size in (1, 2, 3):
                    for homes in map(set, combinations(HOMES, size)):
                        expected = await chronology.household_history(session, homes)
                        assert ahead.history(homes) == expected, homes
        finally:
            await engine.dispose()

    async def test_a_household_not_read_or_forgotten_has_no_history_ahead(
        self, database_url: str
    ) -> None:
        """None (read it from SQL) for a set with a household not read, or forgotten."""
        engine, sessions = await households_with_history(database_url)
        try:
            async with sessions() as session:
                ahead = HistoriesAhead()
                await ahead.read(session, {"h-1", "h-2"})
                assert ahead.history({"h-1", "h-3"}) is None
                ahead.forget({"h-2"})
                assert ahead.history({"h-2"}) is None
                assert ahead.history({"h-1"}) is not None
        finally:
            await engine.dispose()


def reads(statements: list[str], *parts: str) -> list[str]:
    """The SELECTs that have all these parts."""
    return [s for s in statements
            if s.lstrip().startswith("SELECT") and all(p in s for p in parts)]  # fmt: skip


async def statements_of_group(
    database_url: str, keys: KeyStore, tmp_path: Path, routed: list[Event]
) -> list[str]:
    """The statements routing the events as one group sends, the projection loaded first."""
    async with demo_database(database_url, NOW.date()) as demo:
        routing = Group(demo, keys, tmp_path / "households")
        routing.deps = in_memory_directory(routing)
        await routing.route(events(crisis(5)))
        statements: list[str] = []
        engine = demo.sessions.kw["bind"].sync_engine

        def seen(*args: object) -> None:
            statements.append(str(args[2]))

        orm_events.listen(engine, "before_cursor_execute", seen)
        try:
            await routing.route(routed)
        finally:
            orm_events.remove(engine, "before_cursor_execute", seen)
        assert len((await routing.recorded())["routed"]) == len(routed) + 1
    return statements


class TestAGroupReadsOnce:
    async def test_three_events_about_one_family_read_the_chronology_once(
        self, database_url: str, keys: KeyStore, tmp_path: Path
    ) -> None:
        """Three crises of the mother in one group: the chronology is read once for the
        group, not once per event."""
        routed = events(crisis(3), crisis(2), crisis(1))
        statements = await statements_of_group(database_url, keys, tmp_path, routed)
        assert len(reads(statements, "FROM chronology")) == 1, reads(statements, "chronology")

    async def test_three_attendances_read_the_pattern_records_once(
        self, database_url: str, keys: KeyStore, tmp_path: Path
    ) -> None:
        """Three ED attendances of Child B in one group (each reads his attendances before
        it): his pattern records are read once for the group."""
        routed = events(attendance(3), attendance(2), attendance(1))
        statements = await statements_of_group(database_url, keys, tmp_path, routed)
        by_person = reads(statements, "FROM pattern_records", "person_id IN")
        assert len(by_person) == 1, by_person


class TestAMoveInTheGroup:
    async def test_a_move_in_the_group_is_seen_in_the_areas_left(
        self, database_url: str, keys: KeyStore
    ) -> None:
        """Read ahead, then the family's households moved in the same transaction: the
        family's history names the area they left, as the same transaction reads it from SQL
        without reading ahead."""
        mother = [PersonRef(nhs_number=family.MOTHER)]
        async with (
            demo_database(database_url, NOW.date()) as demo,
            SqlUnitOfWork(demo.sessions, DirectoryProjection()) as uow,
        ):
            await uow.directory.read_ahead(await uow.directory.families_of([(mother, "mh-demo")]))
            before = (await uow.directory.family_for(mother, "mh-demo")).family
            homes = {m.household_id for m in before.members if m.household_id}
            await uow.directory.record_move(homes, "E09000098", NOW.date())
            after = (await uow.directory.family_for(mother, "mh-demo")).family
            fresh = (await SqlDirectory(uow.session).family_for(mother, "mh-demo")).family
        assert family.AREA not in before.history.previous_areas
        assert family.AREA in after.history.previous_areas
        assert after.history == fresh.history

    async def test_a_move_away_and_back_keeps_each_area_row_as_before(
        self, database_url: str
    ) -> None:
        """A household moved away and back in one transaction: the area it left first keeps
        the day it left and gains the day it came back, the area between holds both days,
        and the household is home again (as the ORM's load-and-merge wrote them)."""
        away, back = date(2026, 3, 2), date(2026, 3, 9)
        async with (
            demo_database(database_url, NOW.date()) as demo,
            SqlUnitOfWork(demo.sessions, DirectoryProjection()) as uow,
        ):
            mother = [PersonRef(nhs_number=family.MOTHER)]
            members = (await uow.directory.family_for(mother, "mh-demo")).family.members
            homes = sorted({m.household_id for m in members if m.household_id})
            first = await uow.directory.record_move(homes, "E09000098", away)
            second = await uow.directory.record_move([*homes, *homes], family.AREA, back)
            again = await uow.directory.record_move(homes, family.AREA, back)
            rows = await uow.session.execute(
                select(db.HouseholdArea.household_id, db.HouseholdArea.area,
                       db.HouseholdArea.moved_in, db.HouseholdArea.moved_out)
                .where(db.HouseholdArea.household_id.in_(homes))
            )  # fmt: skip
            areas = await uow.session.execute(
                select(db.Household.id, db.Household.area).where(db.Household.id.in_(homes))
            )
            kept = {(h, a): (i, o) for h, a, i, o in rows}
            now = dict(areas.all())
        assert first == second == homes
        assert again == []
        assert now == dict.fromkeys(homes, family.AREA)
        for home in homes:
            assert kept[(home, "E09000098")] == (away, back)
            assert kept[(home, family.AREA)][1] == away
            assert kept[(home, family.AREA)][0] == back
