"""Several tables' rows written together (``bulk.insert_tables``: one statement on
PostgreSQL, a routing group's rows at its end), on SQLite and PostgreSQL: every row goes in
with its values as given, a row referring to another written alongside it is accepted, a
taken key is skipped only where asked, and a refused row refuses them all."""

from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.adapters import bulk, db

pytestmark = pytest.mark.integration

Sessions = async_sessionmaker[AsyncSession]
AT = datetime(2026, 3, 2, 9, 30, tzinfo=UTC)


@pytest.fixture
async def sessions(database_url: str) -> AsyncIterator[Sessions]:
    engine = db.make_engine(database_url)
    await db.create_schema(engine)
    yield db.sessions(engine, bytes(32))
    await engine.dispose()


def person(n: int) -> dict[str, object]:
    return {"id": f"p-{n}", "given_name": "Test", "family_name": f"Person {n}",
            "nhs_number": None, "date_of_birth": None, "unborn": False}  # fmt: skip


def pattern(event: int, person_n: int, outcome: str | None = "attended") -> dict[str, object]:
    return {"event_id": f"e-{event}", "person_id": f"p-{person_n}", "kind": "appointment",
            "at": AT, "outcome": outcome}  # fmt: skip


def routed(event: int, position: str | None = None) -> dict[str, object]:
    return {"event_id": f"e-{event}", "routed_at": AT, "notices": event, "position": position}


async def count(sessions: Sessions, model: type[db.Base]) -> int:
    async with sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def test_every_table_gets_its_rows_as_given(sessions: Sessions) -> None:
    """People and the pattern records naming them in one call (their foreign key met by
    rows written alongside), and routed events with a null and a long position."""
    long = "t/" + "x" * 290
    async with sessions.begin() as session:
        await bulk.insert_tables(session, {
            db.Person: [person(1), person(2)],
            db.PatternRecord: [pattern(1, 1), pattern(2, 2, outcome=None)],
            db.RoutedEvent: [routed(1), routed(2, long)],
        })  # fmt: skip
    async with sessions() as session:
        records = (await session.scalars(select(db.PatternRecord)
                                         .order_by(db.PatternRecord.event_id))).all()  # fmt: skip
        events = (await session.scalars(select(db.RoutedEvent)
                                        .order_by(db.RoutedEvent.event_id))).all()  # fmt: skip
    assert [(r.event_id, r.person_id, r.outcome, r.at) for r in records] == [
        ("e-1", "p-1", "attended", AT), ("e-2", "p-2", None, AT)]  # fmt: skip
    assert [(e.event_id, e.notices, e.position) for e in events] == [
        ("e-1", 1, None), ("e-2", 2, long)]  # fmt: skip


async def test_a_taken_key_is_skipped_only_where_asked(sessions: Sessions) -> None:
    """A pattern record already there stands, and of two with one key the first goes in;
    the same in a table not named ``skip_taken`` refuses the whole write."""
    async with sessions.begin() as session:
        await bulk.insert_tables(session, {db.Person: [person(1), person(2)],
                                           db.PatternRecord: [pattern(1, 1)]})  # fmt: skip
    async with sessions.begin() as session:
        await bulk.insert_tables(
            session, {db.PatternRecord: [pattern(1, 2), pattern(3, 1), pattern(3, 2)]},
            skip_taken=[db.PatternRecord],
        )  # fmt: skip
    async with sessions() as session:
        found = select(db.PatternRecord.event_id, db.PatternRecord.person_id)
        kept = dict((await session.execute(found)).all())
    assert kept == {"e-1": "p-1", "e-3": "p-1"}

    with pytest.raises(IntegrityError):
        async with sessions.begin() as session:
            await bulk.insert_tables(session, {db.RoutedEvent: [routed(7)],
                                               db.PatternRecord: [pattern(1, 2)]})  # fmt: skip
    assert await count(sessions, db.RoutedEvent) == 0


async def test_a_refused_row_refuses_every_table(sessions: Sessions) -> None:
    """A pattern record naming nobody in the directory: none of the call's rows stay."""
    with pytest.raises(IntegrityError):
        async with sessions.begin() as session:
            await bulk.insert_tables(session, {db.Person: [person(1)],
                                               db.RoutedEvent: [routed(1)],
                                               db.PatternRecord: [pattern(1, 9)]})  # fmt: skip
    assert (await count(sessions, db.Person), await count(sessions, db.RoutedEvent)) == (0, 0)
