"""In-memory fakes of the ports in broker/ports.py, for services' tests that need no
database. Each fake passes the same contract tests as its SQL adapter (tests/contracts)."""

import copy
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, Self

from broker.adapters.directory_rows import shape_of
from broker.ports import (
    AuditRecord,
    DirectoryChangeEntry,
    DirectoryTable,
    Message,
    QueuedEvent,
    TableRow,
    TableShape,
)


class FakeAuditLog:
    def __init__(self) -> None:
        self.committed: list[tuple[AuditRecord, datetime]] = []
        self.pending: list[tuple[AuditRecord, datetime]] = []

    async def append(self, record: AuditRecord, at: datetime) -> None:
        self.pending.append((record, at))

    async def append_many(self, records: Sequence[AuditRecord], at: datetime) -> None:
        self.pending += [(record, at) for record in records]

    async def entries_for(self, subject_ref: str) -> list[AuditRecord]:
        return [r for r, _ in self.committed + self.pending if r.subject_ref == subject_ref]


# Timer side: a store's writes go to a copy of what is committed, kept on a clean exit.
class SnapshotStore:
    def __init__(self) -> None:
        self.committed: dict[str, object] = {}
        self._working: dict[str, object] | None = None

    @property
    def rows(self) -> dict[str, object]:
        if self._working is None:
            self._working = copy.deepcopy(self.committed)
        return self._working

    def end(self, *, commit: bool) -> None:
        if commit and self._working is not None:
            self.committed = self._working
        self._working = None


@dataclass
class QueueEntry:
    """A matching queue entry in the fake: the columns the timer reads and writes."""

    event_id: str
    sealed_event: str = ""
    status: str = "waiting"
    people: str | None = None
    matched_at: datetime | None = None

    def view(self) -> QueuedEvent:
        return QueuedEvent(self.event_id, self.sealed_event, self.matched_at)


class FakeMatchedEvents(SnapshotStore):
    def entry(self, event_id: str) -> QueueEntry | None:
        found = self.rows.get(event_id)
        assert found is None or isinstance(found, QueueEntry)
        return found

    def _with(self, status: str) -> list[QueueEntry]:
        return [e for e in self.rows.values() if isinstance(e, QueueEntry) and e.status == status]

    async def accepted(self, limit: int) -> list[str]:
        found = sorted(self._with("accepted"), key=lambda e: (e.matched_at, e.event_id))
        return [e.event_id for e in found][:limit]

    async def claim(self, event_id: str) -> QueuedEvent | None:
        entry = self.entry(event_id)
        if entry is None or entry.status != "accepted":
            return None
        entry.status = "publishing"
        return entry.view()

    async def published(self, event_id: str, *, succeeded: bool) -> None:
        entry = self.entry(event_id)
        if entry is not None and entry.status == "publishing":
            entry.status = "routing" if succeeded else "accepted"

    async def unkept(self, limit: int) -> list[str]:
        return sorted(e.event_id for e in self._with("waiting") if e.people is None)[:limit]

    async def unkept_entry(self, event_id: str) -> QueuedEvent | None:
        entry = self.entry(event_id)
        if entry is None or entry.people is not None or entry.status != "waiting":
            return None
        return entry.view()

    async def keep_people(self, event_id: str, wrapped_people: str) -> None:
        entry = self.entry(event_id)
        if entry is not None:
            entry.people = wrapped_people


# Directory writes: each table's rows by primary key (shapes as the SQL schema has them).
class FakeDirectoryRows(SnapshotStore):
    def shape(self, table: DirectoryTable) -> TableShape:
        return shape_of(table)

    def table(self, table: str) -> dict[tuple[Any, ...], TableRow]:
        rows = self.rows.setdefault(table, {})
        assert isinstance(rows, dict)
        return rows

    def _key(self, table: DirectoryTable, row: TableRow) -> tuple[Any, ...]:
        return tuple(row[name] for name in shape_of(table).key)

    async def select_in(
        self, table: DirectoryTable, column: str, values: Iterable[Any]
    ) -> list[TableRow]:
        wanted = set(values)
        return [dict(row) for row in self.table(table).values() if row[column] in wanted]

    async def insert(self, table: DirectoryTable, rows: Sequence[TableRow]) -> None:
        for row in rows:
            key = self._key(table, row)
            if key in self.table(table):
                raise ValueError(f"{table}: a row under {key} is on record already")
            self.table(table)[key] = dict(row)

    async def update(self, table: DirectoryTable, rows: Sequence[TableRow]) -> None:
        for row in rows:
            self.table(table)[self._key(table, row)].update(row)

    async def delete_in(self, table: DirectoryTable, column: str, values: Sequence[Any]) -> None:
        kept = {k: r for k, r in self.table(table).items() if r[column] not in set(values)}
        self.rows[table] = kept

    async def log_changes(self, changes: Sequence[DirectoryChangeEntry]) -> None:
        log = self.table("directory_changes")
        for change in changes:
            log[(len(log),)] = {"change": change}

    async def changes_for(self, entity: str, entity_id: str) -> list[DirectoryChangeEntry]:
        logged = [row["change"] for row in self.table("directory_changes").values()]
        return [c for c in logged if (c.entity, c.entity_id) == (entity, entity_id)]


class FakeUnitOfWork:
    """Keeps what a unit of work wrote only if it exits cleanly, like a transaction."""

    def __init__(self) -> None:
        self.audit = FakeAuditLog()
        self.commits = 0
        # Timer side
        self.matched_events = FakeMatchedEvents()
        # Directory writes
        self.directory_rows = FakeDirectoryRows()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> Literal[False]:
        if exc is None:
            self.audit.committed += self.audit.pending
            self.commits += 1
        self.audit.pending = []
        for store in (self.matched_events, self.directory_rows):  # timer side, directory
            store.end(commit=exc is None)
        return False


class FakePublisher:
    def __init__(self) -> None:
        self.published: list[Message] = []

    async def publish(self, messages: Sequence[Message]) -> None:
        self.published += messages
