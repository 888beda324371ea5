"""The directory's change log, and the row-level writes every directory change goes through.

A change names the kind of record, its id, the action, who made it and the names of the
fields that changed: never their values, which are personal data (names, NHS numbers, dates
of birth, keys). A write that changes nothing is not logged.

DirectoryError (broker.errors)
├── MissingReference   a record names another the directory does not hold
├── DuplicateValue     another record already holds a value that must be unique
└── RecordNotFound     nothing to change or delete under that id
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.adapters import audit, db
from broker.errors import DirectoryError

Outcome = Literal["created", "updated", "unchanged", "deleted"]


class MissingReference(DirectoryError):
    """A record refers to another (by kind and id) that is not in the directory."""

    def __init__(self, kind: str, record_id: str) -> None:
        super().__init__(f"no {kind} with id {record_id!r} in the directory")
        self.kind = kind
        self.record_id = record_id


class DuplicateValue(DirectoryError):
    """Another record already holds this field's value (the value itself is never named)."""

    def __init__(self, entity: str, field_name: str) -> None:
        super().__init__(f"another {entity} already has this {field_name}")


class RecordNotFound(DirectoryError):
    def __init__(self, entity: str, record_id: str) -> None:
        super().__init__(f"no {entity} with id {record_id!r} in the directory")


@dataclass
class Delta:
    """What one write did: whether it created the record, and which fields it changed."""

    created: bool
    fields: list[str] = field(default_factory=list)


async def require(session: AsyncSession, model: type[db.Base], kind: str, key: str) -> None:
    """Raises MissingReference unless a ``model`` row with primary key ``key`` exists."""
    if await session.get(model, key) is None:
        raise MissingReference(kind, key)


async def put_row(
    session: AsyncSession, model: type[db.Base], key: Mapping[str, Any], values: Mapping[str, Any]
) -> Delta:
    """Creates the row under ``key`` or updates it to ``values``."""
    row = await session.get(model, dict(key))
    if row is None:
        session.add(model(**key, **values))
        await session.flush()
        return Delta(created=True, fields=[n for n, v in values.items() if v is not None])
    changed = [name for name, value in values.items() if getattr(row, name) != value]
    for name in changed:
        setattr(row, name, values[name])
    await session.flush()
    return Delta(created=False, fields=changed)


async def replace_rows(
    session: AsyncSession,
    model: type[db.Base],
    owner: ColumnElement[bool],
    rows: Sequence[Mapping[str, Any]],
) -> bool:
    """Makes ``rows`` the only ``model`` rows matching ``owner``; True when that changed any."""
    existing = (await session.scalars(select(model).where(owner))).all()
    columns = [attr.key for attr in inspect(model).column_attrs]
    before = {tuple(getattr(old, column) for column in columns) for old in existing}
    if before == {tuple(row.get(column) for column in columns) for row in rows}:
        return False
    for old in existing:
        await session.delete(old)
    await session.flush()
    session.add_all(model(**row) for row in rows)
    await session.flush()
    return True


async def log(
    session: AsyncSession, actor: str, entity: str, entity_id: str, delta: Delta
) -> Outcome:
    """Records what ``delta`` did to the record, unless it did nothing."""
    if not delta.created and not delta.fields:
        return "unchanged"
    action: Outcome = "created" if delta.created else "updated"
    await record(session, actor, entity, entity_id, action, delta.fields)
    return action


async def record(
    session: AsyncSession,
    actor: str,
    entity: str,
    entity_id: str,
    action: Outcome,
    fields: Sequence[str],
) -> None:
    at = datetime.now(UTC)
    session.add(db.DirectoryChange(at=at, actor=actor, entity=entity, entity_id=entity_id,
                                   action=action, fields=",".join(fields)))  # fmt: skip
    await session.flush()
    await audit.append(session, "directory_changed", actor, f"{entity}:{entity_id}",
                       {"action": action, "fields": ",".join(fields)}, at)  # fmt: skip


async def list_changes(session: AsyncSession, limit: int) -> Sequence[db.DirectoryChange]:
    """The change log, newest first."""
    query = select(db.DirectoryChange).order_by(db.DirectoryChange.id.desc()).limit(limit)
    return (await session.scalars(query)).all()
