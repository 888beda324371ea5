"""The effects services need, as protocols: adapters implement them, tests fake them.

A service takes a ``UnitOfWork`` (one transaction: it commits on a clean exit, rolls back
on an exception) and reaches the stores through it; what it publishes goes through a
``Publisher`` once the unit of work has committed. In-memory fakes of each protocol are in
tests/fakes.py, and one contract test per port runs against both implementations.
"""

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Literal, Protocol, Self

# One record to publish to Kafka, already sealed: defined with the agency package, which
# publishes them too.
from producers.kafka import Message as Message

Clock = Callable[[], datetime]


class Publisher(Protocol):
    async def publish(self, messages: Sequence[Message]) -> None: ...


class DataKeyStore(Protocol):
    """Households' data keys, kept apart from the database (broker/adapters/data_keys.py).

    ``unwrap`` raises ``DataKeyShredded`` for what a shredded key sealed and
    ``DataKeyUnusable`` for a damaged key or ciphertext, nothing else; ``wrap`` makes the
    household's key on first use, a new one after a shred. ``household`` in ``wrap`` and
    ``unwrap`` may name several households ("a+b"): sealed under each key, gone with any."""

    def wrap(self, household: str, data: bytes, context: bytes) -> bytes: ...

    def unwrap(self, household: str, stored: bytes, context: bytes) -> bytes: ...

    def shred(self, household: str) -> bool: ...

    def is_shredded(self, household: str) -> bool: ...


AuditAction = Literal[
    "event_received",
    "event_rejected",
    "notice_produced",
    "notice_delivered",
    "notice_refused",
    "notice_read",
    "notice_gone",
    "notice_receipt",
    "notice_acknowledged",
    "notice_rejected",
    "notice_escalated",
    "notice_undeliverable",
    "directory_changed",
    "directory_change_refused",
    "chronology_accessed",
    "matching_queue_read",
    "household_shredded",
    "queue_entry_purged",
    "unknown_person_key_swept",
    "access_refused",
    "webhook_refused",
    "key_change_requested",
    "key_change_approved",
    "key_change_withdrawn",
    "key_change_refused",
    "directory_proposal",
    "notice_withheld",
    "notice_reference_looked_up",  # a front door finding a notice a school quoted
    "next_step_recorded",
    "next_step_overdue",
    "outcome_not_told",
]
AuditDetails = Mapping[str, str | int | bool | None]


@dataclass(frozen=True)
class AuditRecord:
    """One entry for the audit log: ids and reasons only, never personal data."""

    action: AuditAction
    actor: str
    subject_ref: str
    details: AuditDetails


class AuditLog(Protocol):
    """The tamper-evident audit log (broker/adapters/audit.py): entries appended in the
    unit of work's transaction, chained in the order given, kept only if it commits."""

    async def append(self, record: AuditRecord, at: datetime) -> None: ...

    async def append_many(self, records: Sequence[AuditRecord], at: datetime) -> None: ...

    async def entries_for(self, subject_ref: str) -> list[AuditRecord]: ...


# Timer side: the matching queue as the router's timer publishes matched events again
# (services/match_publication.py). The front door's half (matching.py) is another port's.
@dataclass(frozen=True)
class QueuedEvent:
    """A matching queue entry as the router's timer needs it: the event as sealed to the
    broker, and when the front door matched it (None while it waits)."""

    event_id: str
    sealed_event: str
    matched_at: datetime | None


class MatchedEvents(Protocol):
    """Entries go waiting -> accepted (matched) -> publishing (claimed by one router) ->
    routing (Kafka has it again); a publication Kafka refused goes back to accepted."""

    async def accepted(self, limit: int) -> list[str]:
        """Matched entries waiting to be published, oldest match first."""
        ...

    async def claim(self, event_id: str) -> QueuedEvent | None:
        """Takes an accepted entry for publishing; None when another router took it."""
        ...

    async def published(self, event_id: str, *, succeeded: bool) -> None:
        """An entry still being published is now routing (Kafka has it), or accepted again
        (Kafka refused it); one in any other state is left as it is."""
        ...

    async def unkept(self, limit: int) -> list[str]:
        """Waiting entries parked before the queue kept their people apart."""
        ...

    async def unkept_entry(self, event_id: str) -> QueuedEvent | None:
        """The entry if it still waits without its people, locked until the unit ends."""
        ...

    async def keep_people(self, event_id: str, wrapped_people: str) -> None:
        """Keeps the entry's people, already wrapped under its own data key."""
        ...


# Directory writes: the directory's tables as plain rows, for the bulk import
# (services/directory_bulk.py, services/bulk_rows.py), which judges each record in memory.
DirectoryTable = Literal[
    "organisations",
    "school_terms",
    "org_signing_keys",
    "contacts",
    "people",
    "households",
    "household_members",
    "household_areas",
    "relationships",
    "registrations",
    "involvements",
    "plans",
    "plan_owners",
]
TableRow = dict[str, Any]


@dataclass(frozen=True)
class TableShape:
    """A table's primary key, and each column with its value when a new row leaves it out
    (rows written together carry every column, in this order)."""

    key: tuple[str, ...]
    defaults: Mapping[str, Any]


@dataclass(frozen=True)
class DirectoryChangeEntry:
    """One entry of the directory's change log: field names only, never values."""

    at: datetime
    actor: str
    entity: str
    entity_id: str
    action: Literal["created", "updated", "deleted"]
    fields: tuple[str, ...]


class DirectoryRows(Protocol):
    """Reads by column value and writes in bulk; one call may name thousands of rows."""

    def shape(self, table: DirectoryTable) -> TableShape: ...

    async def select_in(
        self, table: DirectoryTable, column: str, values: Iterable[Any]
    ) -> list[TableRow]:
        """Every row whose ``column`` holds one of ``values``, each with every column."""
        ...

    async def insert(self, table: DirectoryTable, rows: Sequence[TableRow]) -> None:
        """New rows, each with every column of the table's shape."""
        ...

    async def update(self, table: DirectoryTable, rows: Sequence[TableRow]) -> None:
        """Rows on record, found by their primary key, given their other columns' values."""
        ...

    async def delete_in(self, table: DirectoryTable, column: str, values: Sequence[Any]) -> None:
        """Removes every row whose ``column`` holds one of ``values``."""
        ...

    async def log_changes(self, changes: Sequence[DirectoryChangeEntry]) -> None: ...

    async def changes_for(self, entity: str, entity_id: str) -> list[DirectoryChangeEntry]:
        """The change log's entries for one record, oldest first."""
        ...


class UnitOfWork(Protocol):
    """One transaction over the broker's stores. Each store a service needs is an
    attribute of the unit of work, typed by its protocol in this module (read-only: the SQL
    unit of work builds each store on its session as a property)."""

    # Read-only, so that an adapter may build its stores as properties.
    @property
    def audit(self) -> AuditLog: ...

    # Timer side
    @property
    def matched_events(self) -> MatchedEvents: ...

    # Directory writes
    @property
    def directory_rows(self) -> DirectoryRows: ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> Literal[False]: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]
