"""deploy.localpostgres: a PostgreSQL of our own on loopback that a test can stop, kill -9 and
start again, keeping what was committed."""

import asyncio
import os
from collections.abc import Iterator

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, OperationalError

from broker.adapters import db
from deploy.localpostgres import HOST, LocalPostgres, bin_dir

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def server() -> Iterator[LocalPostgres]:
    if bin_dir() is None:
        if os.environ.get("CI"):
            pytest.fail("PostgreSQL is not installed (python3 -m deploy.localpostgres install)")
        pytest.skip("PostgreSQL is not installed (python3 -m deploy.localpostgres install)")
    # Blocking calls, but in a sync fixture: no event loop is running here.
    server = LocalPostgres.temporary()
    server.start()
    yield server
    server.remove()


async def committed(url: str, statement: str) -> list[int]:
    engine = db.make_engine(url)
    try:
        async with engine.begin() as connection:
            result = await connection.execute(text(statement))
            return list(result.scalars()) if result.returns_rows else []
    finally:
        await engine.dispose()


async def test_it_listens_on_loopback_with_its_test_database(server: LocalPostgres) -> None:
    assert server.url.startswith(f"postgresql+asyncpg://sgb:sgb@{HOST}:{server.port}/sgb_test")
    assert await committed(server.url, "SELECT 1") == [1]


async def test_committed_rows_survive_a_restart_and_a_kill(server: LocalPostgres) -> None:
    await committed(server.url, "CREATE TABLE kept (n integer)")
    await committed(server.url, "INSERT INTO kept VALUES (1)")
    await asyncio.to_thread(server.restart)
    await committed(server.url, "INSERT INTO kept VALUES (2)")

    await asyncio.to_thread(server.kill)
    assert not server.is_running()
    with pytest.raises((OSError, OperationalError, DBAPIError)):
        await committed(server.url, "SELECT 1")
    await asyncio.to_thread(server.start)  # crash recovery
    assert await committed(server.url, "SELECT n FROM kept ORDER BY n") == [1, 2]


async def test_stop_then_start_again(server: LocalPostgres) -> None:
    await asyncio.to_thread(server.stop)
    assert not server.is_running()
    await asyncio.to_thread(server.start)
    assert server.is_running()
    assert await committed(server.url, "SELECT 1") == [1]
