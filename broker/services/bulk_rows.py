"""Tables as the bulk import sees them: the rows it touches, read in a few statements, changed
in memory one record at a time (so that every record is judged as the per-record path would
judge it, a record named twice included), then written in a few statements.

``Rows`` keeps a table's rows by primary key (what ``directory_changes.put_row`` does row by
row); ``Children`` keeps a table's rows by owner, each owner's rows replaced whole (what
``directory_changes.replace_rows`` does).
"""

from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, delete, insert, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.schema import ScalarElementColumnDefault, Table

from broker.adapters import db
from broker.services.directory_changes import Delta

Key = tuple[Any, ...]
Row = dict[str, Any]
T = TypeVar("T")
IN_LIMIT = 2000  # ids per IN list: far below SQLite's and asyncpg's bound-parameter limits


def chunks(items: Sequence[T], size: int) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


@cache
def columns_of(model: type[db.Base]) -> tuple[str, ...]:
    return tuple(attr.key for attr in inspect(model).column_attrs)


def table_of(model: type[db.Base]) -> Table:
    return db.Base.metadata.tables[model.__tablename__]


@cache
def defaults_of(model: type[db.Base]) -> dict[str, Any]:
    """Each column's value when a row leaves it out: its scalar default, else None."""
    table = model.__table__
    return {
        name: default.arg if isinstance(default, ScalarElementColumnDefault) else None
        for name in columns_of(model)
        for default in (table.c[name].default,)
    }


def complete(model: type[db.Base], row: Mapping[str, Any]) -> Row:
    """Every column of ``model``, as the ORM would insert ``model(**row)`` (one executemany
    needs the same columns in each row)."""
    return defaults_of(model) | dict(row)


async def select_in(
    session: AsyncSession, model: type[db.Base], column: str, values: Iterable[Any]
) -> list[Row]:
    """The ``model`` rows whose ``column`` is one of ``values``, as plain dicts."""
    names = columns_of(model)
    wanted = sorted(set(values))
    found: list[Row] = []
    for part in chunks(wanted, IN_LIMIT):
        query = select(*(getattr(model, n) for n in names)).where(getattr(model, column).in_(part))
        found += [dict(row) for row in (await session.execute(query)).mappings()]
    return found


async def existing_ids(session: AsyncSession, model: type[db.Base], ids: Iterable[str]) -> set[str]:
    return {row["id"] for row in await select_in(session, model, "id", ids)}


class Rows:
    """One table's rows under the keys the import names: as read, and as the import leaves them."""

    def __init__(self, model: type[db.Base]) -> None:
        self.model = model
        self.key = [str(column.key) for column in inspect(model).primary_key]
        self.before: dict[Key, Row] = {}
        self.after: dict[Key, Row] = {}

    async def load(self, session: AsyncSession, keys: Iterable[Key]) -> None:
        wanted = set(keys)
        for row in await select_in(session, self.model, self.key[0], (k[0] for k in wanted)):
            key = tuple(row[name] for name in self.key)
            if key in wanted:
                self.before[key] = row
                self.after[key] = dict(row)

    def get(self, key: Key) -> Row | None:
        return self.after.get(key)

    def put(self, key: Key, values: Mapping[str, Any]) -> Delta:
        """Creates the row under ``key`` or updates it to ``values`` (as ``put_row``)."""
        row = self.after.get(key)
        if row is None:
            self.after[key] = complete(self.model, {**dict(zip(self.key, key, strict=True)),
                                                    **values})  # fmt: skip
            return Delta(created=True, fields=[n for n, v in values.items() if v is not None])
        changed = [name for name, value in values.items() if row[name] != value]
        row.update({name: values[name] for name in changed})
        return Delta(created=False, fields=changed)

    async def write(self, session: AsyncSession) -> None:
        """One multi-row insert for the new rows, one executemany update for the changed."""
        new = [row for key, row in self.after.items() if key not in self.before]
        changed = [row for key, row in self.after.items()
                   if key in self.before and row != self.before[key]]  # fmt: skip
        if new:  # Core, not ORM, insert: the ORM's bookkeeping per row costs more than it
            await session.execute(insert(table_of(self.model)), new)
        if changed:
            await session.execute(update(self.model), changed)


class Children:
    """One table's rows by owner (an organisation's terms, a household's members...)."""

    def __init__(self, model: type[db.Base], owner: str) -> None:
        self.model = model
        self.owner = owner
        self.columns = columns_of(model)
        self.before: dict[Any, set[Key]] = {}
        self.after: dict[Any, list[Row]] = {}

    async def load(self, session: AsyncSession, owners: Iterable[Any]) -> None:
        wanted = set(owners)
        self.before = {owner: set() for owner in wanted}
        for row in await select_in(session, self.model, self.owner, wanted):
            self.before[row[self.owner]].add(self._tuple(row))

    def replace(self, owner: Any, rows: Sequence[Mapping[str, Any]]) -> bool:
        """Makes ``rows`` the owner's only rows; True when that changed any (as
        ``replace_rows``)."""
        current = (
            {self._tuple(r) for r in self.after[owner]}
            if owner in self.after
            else self.before[owner]
        )
        if current == {self._tuple(row) for row in rows}:
            return False
        self.after[owner] = [complete(self.model, row) for row in rows]
        return True

    async def write(self, session: AsyncSession) -> None:
        """Deletes the changed owners' rows and inserts their new ones, a statement for each."""
        changed = [owner for owner, rows in self.after.items()
                   if {self._tuple(r) for r in rows} != self.before[owner]]  # fmt: skip
        column: ColumnElement[Any] = getattr(self.model, self.owner)
        for part in chunks(changed, IN_LIMIT):
            await session.execute(delete(self.model).where(column.in_(part)))
        rows = [row for owner in changed for row in self.after[owner]]
        if rows:
            await session.execute(insert(table_of(self.model)), rows)

    def _tuple(self, row: Mapping[str, Any]) -> Key:
        return tuple(row.get(column) for column in self.columns)
