"""The benchmark's databases on PostgreSQL: an empty one made for each run or measurement,
dropped after it."""

import os

from sqlalchemy import text
from sqlalchemy.engine import make_url

from broker.adapters import audit, db

assert audit.AuditEntry.__table__ is not None  # the audit log's table is in the metadata


async def _admin(server_url: str, *statements: str) -> None:
    engine = db.make_engine(server_url).execution_options(isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as connection:
            for statement in statements:
                await connection.execute(text(statement))
    finally:
        await engine.dispose()


def url_of(server_url: str, database: str) -> str:
    return make_url(server_url).set(database=database).render_as_string(hide_password=False)


async def empty_database(server_url: str) -> tuple[str, str]:
    """A new, empty database: its name and its URL."""
    name = f"bench_{os.urandom(4).hex()}"
    await _admin(server_url, f"CREATE DATABASE {name}")
    return name, url_of(server_url, name)


async def drop_database(server_url: str, name: str) -> None:
    await _admin(server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
