"""The effects services need, as protocols: adapters implement them, tests fake them.

A service takes a ``UnitOfWork`` (one transaction: it commits on a clean exit, rolls back
on an exception) and reaches the stores through it; what it publishes goes through a
``Publisher`` once the unit of work has committed. In-memory fakes of each protocol are in
tests/fakes.py, and one contract test per port runs against both implementations.
"""

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Literal, Protocol, Self

Clock = Callable[[], datetime]


@dataclass(frozen=True)
class Message:
    """One record to publish to Kafka: already sealed, nothing personal in clear."""

    topic: str
    key: str
    value: bytes
    headers: tuple[tuple[str, bytes], ...] = ()


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


class UnitOfWork(Protocol):
    """One transaction over the broker's stores. Each store a service needs is an
    attribute of the unit of work, typed by its protocol in this module (read-only: the SQL
    unit of work builds each store on its session as a property)."""

    @property
    def audit(self) -> AuditLog: ...

    # Recipient side.

    @property
    def inbox(self) -> "InboxStore": ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> Literal[False]: ...


UnitOfWorkFactory = Callable[[], UnitOfWork]


# Recipient side: the inbox (services/inbox.py).


@dataclass(frozen=True)
class InboxEntry:
    """A sealed notice in its recipient's inbox: the header as sent, the ciphertext sealed
    again at rest under its households' data keys, and the broker's signature."""

    notice_id: str
    recipient_id: str
    header: str
    ciphertext: str
    signature: str
    deadline: datetime
    held_until: datetime | None  # a low-severity notice waiting for its daily digest
    delivered_at: datetime  # into this inbox


class InboxStore(Protocol):
    """Recipients' inboxes (broker/adapters/inbox_store.py). A notice is kept once, however
    often it is delivered; listings come oldest first (by arrival, then id)."""

    async def add_new(self, entries: Sequence[InboxEntry]) -> set[str]:
        """Adds each entry whose notice is not there yet (of entries sharing a notice, the
        first); answers the notice ids that went in."""
        ...

    async def get(self, notice_id: str) -> InboxEntry | None: ...

    async def released(self, recipient_id: str, now: datetime) -> list[InboxEntry]:
        """The recipient's notices that are not held, or whose hold ended by ``now``."""
        ...

    async def held_until(self, recipient_id: str, released_at: datetime) -> list[InboxEntry]:
        """The recipient's notices held for the digest released at ``released_at``."""
        ...
