"""In-memory fakes of the ports in broker/ports.py, for services' tests that need no
database. Each fake passes the same contract tests as its SQL adapter (tests/contracts)."""

from collections.abc import Callable, Sequence
from datetime import datetime
from types import TracebackType
from typing import Literal, Self

from broker.errors import DataKeyShredded, DataKeyUnusable
from broker.ports import AuditRecord, InboxEntry, Message


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


# Recipient side.


class FakeDataKeys:
    """Data keys in memory: what a key wraps opens only under that key and context, and is
    gone once any household it names ("a+b") is shredded. Not encryption: a test double."""

    def __init__(self) -> None:
        self.shredded: set[str] = set()

    def wrap(self, household: str, data: bytes, context: bytes) -> bytes:
        if any(h in self.shredded for h in household.split("+")):
            self.shredded -= set(household.split("+"))  # a new key after a shred
        return b"%s|%s|%s" % (household.encode(), context, data)

    def unwrap(self, household: str, stored: bytes, context: bytes) -> bytes:
        if any(h in self.shredded for h in household.split("+")):
            raise DataKeyShredded(household)
        prefix = b"%s|%s|" % (household.encode(), context)
        if not stored.startswith(prefix):
            raise DataKeyUnusable("not wrapped under this key and context")
        return stored[len(prefix) :]

    def shred(self, household: str) -> bool:
        self.shredded.add(household)
        return True

    def is_shredded(self, household: str) -> bool:
        return household in self.shredded


class FakeInboxStore:
    def __init__(self) -> None:
        self.committed: dict[str, InboxEntry] = {}
        self.pending: dict[str, InboxEntry] = {}

    async def add_new(self, entries: Sequence[InboxEntry]) -> set[str]:
        new = set()
        for entry in entries:
            if await self.get(entry.notice_id) is None:
                self.pending[entry.notice_id] = entry
                new.add(entry.notice_id)
        return new

    async def get(self, notice_id: str) -> InboxEntry | None:
        return self.pending.get(notice_id) or self.committed.get(notice_id)

    async def released(self, recipient_id: str, now: datetime) -> list[InboxEntry]:
        return self._listed(recipient_id, lambda held: held is None or held <= now)

    async def held_until(self, recipient_id: str, released_at: datetime) -> list[InboxEntry]:
        return self._listed(recipient_id, lambda held: held == released_at)

    def _listed(
        self, recipient_id: str, which: Callable[[datetime | None], bool]
    ) -> list[InboxEntry]:
        found = [e for e in (self.committed | self.pending).values()
                 if e.recipient_id == recipient_id and which(e.held_until)]  # fmt: skip
        return sorted(found, key=lambda e: (e.delivered_at, e.notice_id))

    def end(self, committed: bool) -> None:
        if committed:
            self.committed |= self.pending
        self.pending = {}


class FakeUnitOfWork:
    """Keeps what a unit of work wrote only if it exits cleanly, like a transaction."""

    def __init__(self) -> None:
        self.audit = FakeAuditLog()
        self.commits = 0
        # Recipient side.
        self.inbox = FakeInboxStore()

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
        # Recipient side.
        self.inbox.end(committed=exc is None)
        return False


class FakePublisher:
    def __init__(self) -> None:
        self.published: list[Message] = []

    async def publish(self, messages: Sequence[Message]) -> None:
        self.published += messages
