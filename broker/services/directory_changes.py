"""The directory's change log: the one way a directory change is recorded (the row-level
writes go through services/directory_writes.py). Each router's in-memory projection follows
this log, so every directory write, those routing and matching make included, is recorded
here, with its audit entry, in the unit of work that made it.

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

from broker.errors import DirectoryError
from broker.ports import AuditRecord, ChangeAction, DirectoryChangeEntry, UnitOfWork

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
    uow: UnitOfWork, actor: str, entity: str, entity_id: str, action: ChangeAction,
    fields: Sequence[str], *, at: datetime | None = None, audited: AuditRecord | None = None,
) -> None:  # fmt: skip
    """Logs the change and audits it: by default against ``entity:entity_id`` naming the
    action and fields; ``audited`` when the change has more to say (a match names the event
    and the organisation whose identifier was learnt)."""
    at = at or datetime.now(UTC)
    entry = DirectoryChangeEntry(at, actor, entity, entity_id, action, tuple(fields))
    await uow.directory_rows.log_changes([entry])
    details = {"action": action, "fields": ",".join(fields)}
    default = AuditRecord("directory_changed", actor, f"{entity}:{entity_id}", details)
    await uow.audit.append(audited or default, at)


async def list_changes(uow: UnitOfWork, limit: int) -> list[DirectoryChangeEntry]:
    """The change log, newest first."""
    return await uow.directory_rows.latest_changes(limit)
