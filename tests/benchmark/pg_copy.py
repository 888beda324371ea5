"""The benchmark's directory on PostgreSQL: the cached SQLite database copied once into a
template database, and each run's database made from that template (a file-level copy).

Loading 100,000 people through the directory import takes many minutes; copying the rows it
left takes one, and a database from a template a few seconds.
"""

import os

from sqlalchemy import Integer, func, insert, select, text
from sqlalchemy.engine import make_url

from broker.adapters import audit, db

ROWS_PER_INSERT = 5_000
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


async def template_exists(server_url: str, template: str) -> bool:
    engine = db.make_engine(server_url)
    try:
        async with engine.connect() as connection:
            found = await connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": template}
            )
    finally:
        await engine.dispose()
    return found is not None


async def template_from_sqlite(sqlite_url: str, server_url: str, template: str) -> None:
    """Database ``template`` holding every row of the SQLite database, made once. It is
    built under another name and renamed when complete, so a run never finds half of one."""
    if await template_exists(server_url, template):
        return
    building = f"{template}_building"
    await _admin(server_url, f"DROP DATABASE IF EXISTS {building} WITH (FORCE)",
                 f"CREATE DATABASE {building}")  # fmt: skip
    source, target = db.make_engine(sqlite_url), db.make_engine(url_of(server_url, building))
    try:
        await db.create_schema(target)
        async with source.connect() as reading, target.begin() as writing:
            for table in db.Base.metadata.sorted_tables:
                rows = [dict(r) for r in (await reading.execute(select(table))).mappings()]
                for start in range(0, len(rows), ROWS_PER_INSERT):
                    await writing.execute(insert(table), rows[start : start + ROWS_PER_INSERT])
                key = list(table.primary_key.columns)
                if rows and len(key) == 1 and isinstance(key[0].type, Integer):
                    # Rows copied with their ids leave the id sequence behind them.
                    top = await writing.scalar(select(func.max(key[0])))
                    await writing.execute(text(
                        f"SELECT setval(pg_get_serial_sequence('{table.name}', "
                        f"'{key[0].name}'), {top})"
                    ))  # fmt: skip
    finally:
        await source.dispose()
        await target.dispose()
    await _admin(server_url, f"ALTER DATABASE {building} RENAME TO {template}")


async def database_from_template(server_url: str, template: str) -> tuple[str, str]:
    """A new database copied from ``template``: its name and its URL."""
    name = f"bench_{os.urandom(4).hex()}"
    await _admin(server_url, f"CREATE DATABASE {name} TEMPLATE {template}")
    return name, url_of(server_url, name)


async def empty_database(server_url: str) -> tuple[str, str]:
    """A new, empty database: its name and its URL."""
    name = f"bench_{os.urandom(4).hex()}"
    await _admin(server_url, f"CREATE DATABASE {name}")
    return name, url_of(server_url, name)


async def drop_database(server_url: str, name: str) -> None:
    await _admin(server_url, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
