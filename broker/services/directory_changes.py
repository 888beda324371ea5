"""The directory's change log (the row-level writes go through services/directory_writes.py).

A change names the kind of record, its id, the action, who made it and the names of the
fields that changed: never their values, which are personal data (names, NHS numbers, dates
of birth, keys). A write that changes nothing is not logged.

DirectoryError (broker.errors)
├── MissingReference   a record names another the directory does not hold
├── DuplicateValue     another record already holds a value that must be unique
└── RecordNotFound     nothing to change or delete under that id
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import select
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
