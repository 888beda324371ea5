"""Many rows in one statement: the batch paths' inserts (delivery's inbox, its webhook
queue, the audit log), on SQLite and PostgreSQL alike."""

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from broker.adapters import db

Row = Mapping[str, Any]


async def insert_all(session: AsyncSession, model: type[db.Base], rows: Sequence[Row]) -> None:
    """Inserts every row, as few statements as the driver's batch allows."""
    if rows:
        await session.execute(insert(table_of(model)), list(rows))


async def insert_new(
    session: AsyncSession, model: type[db.Base], key: str, rows: Sequence[Row]
) -> set[str]:
    """Inserts each row whose ``key`` is not there yet, even one another process committed a
    moment ago (where a check-then-insert would fail); answers the keys that went in. Of
    rows sharing a key within ``rows``, the first is kept."""
    firsts: dict[Any, Row] = {}
    for row in rows:
        firsts.setdefault(row[key], row)
    if not firsts:
        return set()
    table = table_of(model)
    statement = dialect_insert(session, table).on_conflict_do_nothing()
    # Core's "insertmanyvalues": one compiled statement, sent as multi-row VALUES pages.
    result = await session.execute(statement.returning(table.c[key]), list(firsts.values()))
    return set(result.scalars())


def dialect_insert(session: AsyncSession, table: Table) -> postgresql.Insert | sqlite.Insert:
    # ON CONFLICT DO NOTHING is spelt alike by both, but each dialect has its own construct.
    postgres = session.get_bind().dialect.name == "postgresql"
    return postgresql.insert(table) if postgres else sqlite.insert(table)


def table_of(model: type[db.Base]) -> Table:
    # The table, not the mapped class: the ORM's bulk path would build each row's parameters
    # anew, where Core compiles the statement once and pages the rows into it.
    return db.Base.metadata.tables[model.__tablename__]
