"""Many rows in one statement: the batch paths' inserts (delivery's inbox, its webhook
queue, the audit log), on SQLite and PostgreSQL alike."""

from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from sqlalchemy import insert
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from broker.adapters import db

Row = Mapping[str, Any]
# Both servers cap the bind parameters of one statement (SQLite 32,766, asyncpg 32,767):
# a batch wider than that goes in as few statements as fit.
MAX_PARAMETERS = 30_000


async def insert_all(session: AsyncSession, model: type[db.Base], rows: Sequence[Row]) -> None:
    """Inserts every row: one statement per ``MAX_PARAMETERS`` values."""
    for chunk in _chunks(rows):
        await session.execute(insert(model).values(list(chunk)))


async def insert_new(
    session: AsyncSession, model: type[db.Base], key: str, rows: Sequence[Row]
) -> set[str]:
    """Inserts each row whose ``key`` is not there yet, even one another process committed a
    moment ago (where a check-then-insert would fail); answers the keys that went in. Of
    rows sharing a key within ``rows``, the first is kept."""
    firsts: dict[Any, Row] = {}
    for row in rows:
        firsts.setdefault(row[key], row)
    inserted: set[str] = set()
    for chunk in _chunks(list(firsts.values())):
        statement = _dialect_insert(session, model).values(list(chunk))
        returning = statement.on_conflict_do_nothing().returning(model.__table__.c[key])
        result = await session.execute(returning)
        inserted.update(result.scalars())
    return inserted


def _dialect_insert(session: AsyncSession, model: type[Any]) -> postgresql.Insert | sqlite.Insert:
    # ON CONFLICT DO NOTHING is spelt alike by both, but each dialect has its own construct.
    postgres = session.get_bind().dialect.name == "postgresql"
    return postgresql.insert(model) if postgres else sqlite.insert(model)


def _chunks(rows: Sequence[Row]) -> Iterator[Sequence[Row]]:
    if not rows:
        return
    size = max(1, MAX_PARAMETERS // max(1, len(rows[0])))
    for start in range(0, len(rows), size):
        yield rows[start : start + size]
