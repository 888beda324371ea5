"""Many rows in one statement: the batch paths' inserts (delivery's inbox, its webhook
queue, the audit log, a routing group's rows), on SQLite and PostgreSQL alike."""

from collections.abc import Collection, Mapping, Sequence
from functools import lru_cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Insert,
    Select,
    String,
    Table,
    bindparam,
    func,
    insert,
    literal,
    select,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.schema import ScalarElementColumnDefault

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
    statement = _insert_new(session.get_bind().dialect.name, model.__tablename__, key)
    # Core's "insertmanyvalues": one compiled statement, sent as multi-row VALUES pages.
    result = await session.execute(statement, list(firsts.values()))
    return set(result.scalars())


@lru_cache(maxsize=64)  # the tables and keys the code inserts new rows by: a few
def _insert_new(dialect: str, table_name: str, key: str) -> Insert:
    """Built once for each (building a statement costs more than sending it)."""
    table = db.Base.metadata.tables[table_name]
    return _insert_in(dialect, table).on_conflict_do_nothing().returning(table.c[key])


async def insert_tables(
    session: AsyncSession,
    rows_of: Mapping[type[db.Base], Sequence[Row]],
    skip_taken: Collection[type[db.Base]] = (),
) -> None:
    """Every table's rows; those of a ``skip_taken`` table only where its primary key is not
    taken yet (as ``insert_new``, answering nothing). On PostgreSQL in one statement, each
    table's insert a step of its WITH: one round trip where there was one for each table.
    (Each step's foreign keys are checked at the statement's end, when every step's rows
    are in.)"""
    given = {model: _firsts(model, rows) if model in skip_taken else rows
             for model, rows in rows_of.items() if rows}  # fmt: skip
    if not given:
        return
    if session.get_bind().dialect.name != "postgresql":
        for model, rows in given.items():
            table = table_of(model)
            statement = dialect_insert(session, table).on_conflict_do_nothing()
            await session.execute(statement if model in skip_taken else insert(table), rows)
        return
    steps, params = [], dict[str, list[Any]]()
    for step, (model, rows) in enumerate(given.items()):
        prefix = f"t{step}_"
        columns, arrays = _arrays(table_of(model), rows, prefix)
        steps.append((model.__tablename__, columns, prefix, model in skip_taken))
        params |= arrays
    await session.execute(_all_inserted(tuple(steps)), params)


@lru_cache(maxsize=256)  # shapes of rows the code makes: a handful
def _all_inserted(steps: tuple[tuple[str, tuple[str, ...], str, bool], ...]) -> Select[Any]:
    """One statement whose WITH inserts each step's arrays (built once for each shape: the
    building cost more than the rest of the statement's execution)."""
    inserts = [_unnested(*step).cte(f"step{n}") for n, step in enumerate(steps)]
    return select(literal(1)).add_cte(*inserts)


def _firsts(model: type[db.Base], rows: Sequence[Row]) -> list[Row]:
    """Of rows sharing a primary key, the first."""
    key = [column.key for column in table_of(model).primary_key]
    firsts: dict[tuple[Any, ...], Row] = {}
    for row in rows:
        firsts.setdefault(tuple(row[name] for name in key), row)
    return list(firsts.values())


def insert_unnested(
    table: Table, rows: Sequence[Row]
) -> tuple[postgresql.Insert, dict[str, list[Any]]]:
    """The rows (each naming the same columns) inserted as one array per column, unnested by
    PostgreSQL, and the arrays to execute it with: a multi-row insert binds, casts and
    renders every value into a statement text of its own, where this one is the same for any
    number of rows."""
    columns, arrays = _arrays(table, rows)
    return _unnested(table.name, columns), arrays


def _arrays(
    table: Table, rows: Sequence[Row], prefix: str = ""
) -> tuple[tuple[str, ...], dict[str, list[Any]]]:
    """The columns the rows name, then those they leave out that have a scalar default (in
    the arrays, where SQLAlchemy's own defaults for an insert from a select were bound empty
    inside a WITH), and one array of values for each, named with ``prefix``."""
    given = list(rows[0])
    arrays = {prefix + name: [row[name] for row in rows] for name in given}
    for column in table.c:
        if column.key not in given and isinstance(column.default, ScalarElementColumnDefault):
            arrays[prefix + column.key] = [column.default.arg] * len(rows)
    return tuple(name.removeprefix(prefix) for name in arrays), arrays


@lru_cache(maxsize=256)
def _unnested(
    table_name: str, names: tuple[str, ...], prefix: str = "", skip_taken: bool = False
) -> postgresql.Insert:
    table = db.Base.metadata.tables[table_name]
    columns = [table.c[name] for name in names]
    arrays = [bindparam(prefix + c.key, type_=array_of(c)) for c in columns]
    unnested = select(*(func.unnest(array) for array in arrays))
    written = postgresql.insert(table).from_select(columns, unnested, include_defaults=False)
    return written.on_conflict_do_nothing() if skip_taken else written


def array_of(column: ColumnElement[Any]) -> ARRAY[Any]:
    # Of unsized text: a cast to VARCHAR(n) cuts a longer value short without a word, where
    # the column itself refuses it (and a value cut short could match another row's).
    return ARRAY(String() if isinstance(column.type, String) else column.type)


def dialect_insert(session: AsyncSession, table: Table) -> postgresql.Insert | sqlite.Insert:
    return _insert_in(session.get_bind().dialect.name, table)


def _insert_in(dialect: str, table: Table) -> postgresql.Insert | sqlite.Insert:
    # ON CONFLICT DO NOTHING is spelt alike by both, but each dialect has its own construct.
    return postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)


def table_of(model: type[db.Base]) -> Table:
    # The table, not the mapped class: the ORM's bulk path would build each row's parameters
    # anew, where Core compiles the statement once and pages the rows into it.
    return db.Base.metadata.tables[model.__tablename__]
