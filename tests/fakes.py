"""In-memory fakes of the ports in broker/ports.py, for services' tests that need no
database. Each fake passes the same contract tests as its SQL adapter (tests/contracts)."""

from collections.abc import Sequence
from datetime import datetime
from types import TracebackType
from typing import Literal, Self

from broker.ports import AuditRecord, Message


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


class FakeUnitOfWork:
    """Keeps what a unit of work wrote only if it exits cleanly, like a transaction."""

    def __init__(self) -> None:
        self.audit = FakeAuditLog()
        self.commits = 0

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
        return False


class FakePublisher:
    def __init__(self) -> None:
        self.published: list[Message] = []

    async def publish(self, messages: Sequence[Message]) -> None:
        self.published += messages
