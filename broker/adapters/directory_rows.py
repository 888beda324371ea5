"""The directory's tables as plain rows, in SQL (``DirectoryRows`` in broker/ports.py): Core
statements, not the ORM, whose bookkeeping per row costs more than the write itself."""

from collections.abc import AsyncIterator, Iterable, Iterator, Mapping, Sequence
from contextlib import asynccontextmanager
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import (
    ColumnElement,
    any_,
    bindparam,
    delete,
    insert,
    inspect,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.schema import ScalarElementColumnDefault

from broker.adapters import bulk, db
from broker.ports import DirectoryChangeEntry, DirectoryTable, TableRow, TableShape

T = TypeVar("T")
IN_LIMIT = 2000  # values per IN list: far below SQLite's and asyncpg's bound-parameter limits
MANY_VALUES = 100  # from here a statement is planned for its own values (``_custom_plans``)
# The execution option naming the change log rows a statement inserts, as (entity, entity id,
# fields): for the directory's listener (SqlDirectory._executed), which cannot read them out
# of a statement that binds them as arrays.
LOGGED_CHANGES = "sgb_logged_changes"
DIRECTORY_MODELS = (db.Organisation, db.SchoolTerm, db.OrgSigningKey, db.Contact, db.Person,
                    db.Household, db.HouseholdMember, db.HouseholdArea, db.Relationship,
                    db.Registration, db.Involvement, db.Plan, db.PlanOwner,
                    db.PersonAlias, db.Peer, db.PeerArea)  # fmt: skip
MODELS: dict[str, type[db.Base]] = {model.__tablename__: model for model in DIRECTORY_MODELS}


@cache
def shape_of(table: DirectoryTable) -> TableShape:
    """The primary key, and each column's scalar default (else None), in the model's order."""
    model = MODELS[table]
    columns = model.__table__.c
    names = [attr.key for attr in inspect(model).column_attrs]
    defaults = {
        name: default.arg if isinstance(default, ScalarElementColumnDefault) else None
        for name in names
        for default in (columns[name].default,)
    }
    return TableShape(tuple(str(c.key) for c in inspect(model).primary_key), defaults)


def _parts(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), IN_LIMIT):
        yield items[start : start + IN_LIMIT]


class SqlDirectoryRows:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    def shape(self, table: DirectoryTable) -> TableShape:
        return shape_of(table)

    async def select_in(
        self, table: DirectoryTable, column: str, values: Iterable[Any]
    ) -> list[TableRow]:
        model = MODELS[table]
        wanted = getattr(model, column)
        query = select(*(getattr(model, name) for name in shape_of(table).defaults))
        found: list[TableRow] = []
        wanted_values = sorted(set(values))
        async with self._custom_plans(len(wanted_values)):
            for part in _parts(wanted_values):
                result = await self._session.execute(query.where(self._one_of(wanted, part)))
                found += [dict(row) for row in result.mappings()]
        return found

    async def insert(self, table: DirectoryTable, rows: Sequence[TableRow]) -> None:
        if rows:
            await self._insert(table, rows)
            self._written()

    async def _insert(
        self, table: str, rows: Sequence[TableRow], options: Mapping[str, Any] = {}
    ) -> None:
        into = db.Base.metadata.tables[table]
        if self._on_postgresql():
            written, arrays = bulk.insert_unnested(into, rows)
            await self._session.execute(written, arrays, execution_options=options)
        else:  # one multi-row insert
            await self._session.execute(insert(into), rows, execution_options=options)

    async def update(self, table: DirectoryTable, rows: Sequence[TableRow]) -> None:
        if rows:  # one executemany, by primary key
            await self._session.execute(update(MODELS[table]), rows)
            self._written()

    async def delete_in(self, table: DirectoryTable, column: str, values: Sequence[Any]) -> None:
        model = MODELS[table]
        async with self._custom_plans(len(values)):
            for part in _parts(values):
                gone = delete(model).where(self._one_of(getattr(model, column), part))
                await self._session.execute(gone)
        self._written()

    # Directory records one at a time (directory_admin)
    async def delete_keys(self, table: DirectoryTable, keys: Sequence[TableRow]) -> None:
        model = MODELS[table]
        for key in keys:
            found = [getattr(model, name) == key[name] for name in shape_of(table).key]
            await self._session.execute(delete(model).where(*found))
        if keys:
            self._written()

    async def log_changes(self, changes: Sequence[DirectoryChangeEntry]) -> None:
        rows = [{"at": c.at, "actor": c.actor, "entity": c.entity, "entity_id": c.entity_id,
                 "action": c.action, "fields": ",".join(c.fields)} for c in changes]  # fmt: skip
        named = tuple((row["entity"], row["entity_id"], row["fields"]) for row in rows)
        if rows:  # new rows only: nothing the ORM holds goes stale (see _written)
            await self._insert("directory_changes", rows, {LOGGED_CHANGES: named})

    async def changes_for(self, entity: str, entity_id: str) -> list[DirectoryChangeEntry]:
        found = await self._session.scalars(
            select(db.DirectoryChange)
            .where(db.DirectoryChange.entity == entity, db.DirectoryChange.entity_id == entity_id)
            .order_by(db.DirectoryChange.id)
        )  # fmt: skip
        return [_entry(change) for change in found]

    # The change log (services/directory_changes.py)
    async def latest_changes(self, limit: int) -> list[DirectoryChangeEntry]:
        found = await self._session.scalars(
            select(db.DirectoryChange).order_by(db.DirectoryChange.id.desc()).limit(limit)
        )
        return [_entry(change) for change in found]

    def _one_of(self, column: ColumnElement[Any], values: Sequence[Any]) -> ColumnElement[bool]:
        """``column IN values``; on PostgreSQL ``= ANY`` of one array: an IN list binds and casts
        each value in the statement's text, made again for every list (most of a bulk
        import's time went to building its statements)."""
        if not self._on_postgresql():
            return column.in_(values)
        return column == any_(bindparam("values", list(values), type_=bulk.array_of(column)))

    @asynccontextmanager
    async def _custom_plans(self, values: int) -> AsyncIterator[None]:
        """On PostgreSQL, the statements inside, for many values, planned for their own values:
        a plan kept for ``= ANY`` of an array, made while an import's tables were still small,
        went on scanning them whole as they grew, comparing each row with every value (thirty
        times slower at 100,000 people). Not for a few values, whose whole scan costs little
        next to planning each statement again (a per-record import's), nor for the rest of the
        transaction: its foreign keys' checks, planned again for every row, cost more than
        that saves. (After a failure the transaction rolls back, and the setting with it.)"""
        if not self._on_postgresql() or values < MANY_VALUES:
            yield
            return
        await self._session.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
        yield
        await self._session.execute(text("SET LOCAL plan_cache_mode = auto"))

    def _on_postgresql(self) -> bool:
        return self._session.get_bind().dialect.name == "postgresql"

    def _written(self) -> None:
        # Rows written past the ORM: whatever it holds of them is read afresh.
        self._session.expire_all()


def _entry(change: db.DirectoryChange) -> DirectoryChangeEntry:
    fields = tuple(filter(None, change.fields.split(",")))
    return DirectoryChangeEntry(change.at, change.actor, change.entity, change.entity_id,
                                change.action, fields)  # type: ignore[arg-type]  # fmt: skip
