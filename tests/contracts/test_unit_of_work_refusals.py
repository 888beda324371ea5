"""``SqlUnitOfWork``'s names for the database's refusals: a value it will never take is
``Unrecordable`` (the router dead-letters that event rather than retry it for ever)."""

import os

import pytest
from sqlalchemy import insert

from broker.adapters import db
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.errors import Unrecordable
from tests.conftest import Databases


class TestRefusals:
    async def test_a_value_too_long_for_its_column_is_unrecordable(
        self, database_backend: str, databases: Databases
    ) -> None:
        """PostgreSQL refuses a 40-character organisation kind (32 at most); nothing stays."""
        if database_backend != "postgresql":
            pytest.skip("only PostgreSQL enforces a column's length")
        engine = db.make_engine(await databases.new())
        sessions = db.sessions(engine, os.urandom(32))
        row = {"id": "org-long", "name": "Long", "kind": "k" * 40, "area": "E09000099"}
        try:
            with pytest.raises(Unrecordable):
                async with SqlUnitOfWork(sessions) as uow:
                    await uow.session.execute(insert(db.Organisation).values(**row))
            async with SqlUnitOfWork(sessions) as uow:
                assert await uow.session.get(db.Organisation, "org-long") is None
        finally:
            await engine.dispose()
