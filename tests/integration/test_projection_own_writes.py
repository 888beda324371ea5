"""A transaction that writes to the directory and then resolves a family with the router's
projection sees its own writes, whatever wrote them (the unit of work's directory writes, a
bulk import, routing's moves): the family equals the one SQL resolves in that same
transaction, and the shared projection holds none of it until the commit."""

from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import insert

from broker.adapters import db
from broker.adapters.directory import SqlDirectory
from broker.adapters.directory_projection import read_state
from broker.adapters.unit_of_work import SqlUnitOfWork
from schemas.events import PersonRef
from tests.integration.test_directory_projection import (
    HOME,
    OTHER,
    WRITES,
    Sessions,
    Write,
    loaded,
    loaded_templates,
    sessions,
)

pytestmark = pytest.mark.integration
# the fixtures, as test_directory_projection.py builds them
__all__ = ["loaded_templates", "sessions"]

NAMED = [[PersonRef(nhs_number=p.nhs_number)] for home in (HOME, OTHER)
         for p in (home.mother, home.father, home.pupil, home.young_child)]  # fmt: skip


class TestOwnWritesInMemory:
    @pytest.mark.parametrize("write", WRITES.values(), ids=WRITES.keys())
    async def test_a_write_in_the_transaction_is_seen_from_memory(
        self, sessions: Sessions, write: Write
    ) -> None:
        """Resolved once before the write (the projection in use), then written, then
        every member of the two households named resolves from memory as SQL resolves
        them in the same transaction; after a rollback the shared projection is as it was."""
        projection = await loaded(sessions)
        async with sessions() as session:
            before = await read_state(session)
        async with sessions() as session:
            in_memory = SqlDirectory(session, projection)
            await in_memory.family_for(NAMED[0], HOME.school)
            await write(SqlUnitOfWork.joined(session))
            await session.flush()
            resolved: list[Any] = []
            for named in NAMED:
                from_memory = await in_memory.family_for(named, HOME.school)
                from_sql = await SqlDirectory(session).family_for(named, HOME.school)
                resolved.append(from_memory == from_sql)
            await session.rollback()
        assert all(resolved)
        assert projection.state == before


class TestAChangeNotToldOf:
    async def test_a_change_log_row_written_past_the_adapter_turns_the_rest_to_sql(
        self, sessions: Sessions
    ) -> None:
        """A change log row inserted without naming its changes (LOGGED_CHANGES) cannot be
        read back: after the first read from memory, the family is then resolved by SQL,
        the registration the row stands for included, instead of failing or going stale."""
        projection = await loaded(sessions)
        async with sessions() as session:
            in_memory = SqlDirectory(session, projection)
            await in_memory.family_for(NAMED[0], HOME.school)
            await WRITES["registration changes"](SqlUnitOfWork.joined(session))
            await session.execute(insert(db.DirectoryChange), [_UNTOLD])
            from_memory = await in_memory.family_for(NAMED[0], HOME.school)
            from_sql = await SqlDirectory(session).family_for(NAMED[0], HOME.school)
            await session.rollback()
        assert from_memory == from_sql


_UNTOLD = {"at": datetime(2026, 1, 5, tzinfo=UTC), "actor": "t", "entity": "registration",
           "entity_id": HOME.pupil.id, "action": "updated", "fields": "org_id"}  # fmt: skip
