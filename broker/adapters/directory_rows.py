"""The directory's tables as plain rows, in SQL (``DirectoryRows`` in broker/ports.py): Core
statements, not the ORM, whose bookkeeping per row costs more than the write itself."""

from collections.abc import Iterable, Iterator, Sequence
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import delete, insert, inspect, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.sql.schema import ScalarElementColumnDefault

from broker.adapters import db
from broker.ports import DirectoryChangeEntry, DirectoryTable, TableRow, TableShape

T = TypeVar("T")
IN_LIMIT = 2000  # values per IN list: far below SQLite's and asyncpg's bound-parameter limits
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
        for part in _parts(sorted(set(values))):
            result = await self._session.execute(query.where(wanted.in_(part)))
            found += [dict(row) for row in result.mappings()]
        return found

    async def insert(self, table: DirectoryTable, rows: Sequence[TableRow]) -> None:
        if rows:  # one multi-row insert
            await self._session.execute(insert(db.Base.metadata.tables[table]), rows)
            self._written()

    async def update(self, table: DirectoryTable, rows: Sequence[TableRow]) -> None:
        if rows:  # one executemany, by primary key
            await self._session.execute(update(MODELS[table]), rows)
            self._written()

    async def delete_in(self, table: DirectoryTable, column: str, values: Sequence[Any]) -> None:
        model = MODELS[table]
        for part in _parts(values):
            await self._session.execute(delete(model).where(getattr(model, column).in_(part)))
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
        if rows:  # new rows only: nothing the ORM holds goes stale (see _written)
            await self._session.execute(insert(db.Base.metadata.tables["directory_changes"]), rows)

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

    def _written(self) -> None:
        # Rows written past the ORM: whatever it holds of them is read afresh.
        self._session.expire_all()


def _entry(change: db.DirectoryChange) -> DirectoryChangeEntry:
    fields = tuple(filter(None, change.fields.split(",")))
    return DirectoryChangeEntry(change.at, change.actor, change.entity, change.entity_id,
                                change.action, fields)  # type: ignore[arg-type]  # fmt: skip
