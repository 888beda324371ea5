"""``SqlUnitOfWork``'s names for the database's refusals: a value it will never take is
``Unrecordable`` (the router dead-letters that event rather than retry it for ever)."""

import os

import pytest
from sqlalchemy import insert

from broker.adapters import db
from broker.adapters.directory_rows import shape_of
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.errors import AlreadyRecorded, Unrecordable
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

    async def test_a_directory_row_too_long_for_its_column_is_unrecordable(
        self, database_backend: str, databases: Databases
    ) -> None:
        """Rows written in bulk (one array per column on PostgreSQL) are refused as one row is:
        ``Unrecordable``, and none of them stays."""
        if database_backend != "postgresql":
            pytest.skip("only PostgreSQL enforces a column's length")
        engine = db.make_engine(await databases.new())
        sessions = db.sessions(engine, os.urandom(32))
        shape = shape_of("organisations").defaults
        rows = [dict(shape) | {"id": f"org-{kind}", "name": "Org", "kind": kind,
                               "area": "E09000099"} for kind in ("school", "k" * 40)]  # fmt: skip
        try:
            with pytest.raises(Unrecordable):
                async with SqlUnitOfWork(sessions) as uow:
                    await uow.directory_rows.insert("organisations", rows)
            async with SqlUnitOfWork(sessions) as uow:
                assert await uow.directory_rows.select_in("organisations", "id",
                                                          ["org-school"]) == []  # fmt: skip
        finally:
            await engine.dispose()

    async def test_a_directory_row_already_there_is_already_recorded(
        self, databases: Databases
    ) -> None:
        """A row under a key another transaction wrote first: ``AlreadyRecorded``."""
        engine = db.make_engine(await databases.new())
        sessions = db.sessions(engine, os.urandom(32))
        row = dict(shape_of("organisations").defaults) | {
            "id": "org-1",
            "name": "Org",
            "kind": "school",
            "area": "E09000099",
        }
        try:
            async with SqlUnitOfWork(sessions) as uow:
                await uow.directory_rows.insert("organisations", [row])
            with pytest.raises(AlreadyRecorded):
                async with SqlUnitOfWork(sessions) as uow:
                    await uow.directory_rows.insert("organisations", [row])
        finally:
            await engine.dispose()
