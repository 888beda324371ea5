"""Each port's contract runs against its in-memory fake and its SQL adapter, on SQLite and
PostgreSQL: ``unit_of_work`` is a factory of fresh units of work over one store."""

import os
from collections.abc import AsyncIterator, Callable

import pytest

from broker.adapters import db
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.ports import UnitOfWork
from tests.conftest import Databases
from tests.fakes import FakeUnitOfWork

UnitsOfWork = Callable[[], UnitOfWork]

MEMORY = "memory"


@pytest.fixture(scope="session", params=[MEMORY, "sqlite", "postgresql"])
def database_backend(request: pytest.FixtureRequest) -> str:
    """The store under contract: the fake, or the SQL adapter on one of the databases (the
    project's fixture of that name, with the fake as a third variant)."""
    backend: str = request.param
    if backend == "postgresql" and not os.environ.get("SGB_TEST_POSTGRES_URL"):
        if os.environ.get("CI"):
            pytest.fail("SGB_TEST_POSTGRES_URL is not set")
        pytest.skip("SGB_TEST_POSTGRES_URL is not set")
    return backend


@pytest.fixture
async def unit_of_work(database_backend: str, databases: Databases) -> AsyncIterator[UnitsOfWork]:
    if database_backend == MEMORY:
        shared = FakeUnitOfWork()
        yield lambda: shared
        return
    engine = db.make_engine(await databases.new())
    sessions = db.sessions(engine, os.urandom(32))
    try:
        yield lambda: SqlUnitOfWork(sessions)
    finally:
        await engine.dispose()
