"""The SQL unit of work: one session, one transaction, the stores over it.

Services reach the database only through the stores a unit of work exposes (their
protocols are in broker/ports.py); a store is built on first use, on the unit's session.
"""

from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from types import TracebackType
from typing import TYPE_CHECKING, Literal, Self

from sqlalchemy import select
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession, AsyncSessionTransaction, async_sessionmaker

from broker.adapters import audit
from broker.adapters.alert_store import SqlAlertChannels, SqlAlertQueue
from broker.adapters.chronology_store import SqlChronologies
from broker.adapters.data_quality import SqlDataQualityLog
from broker.adapters.directory import SqlDirectory
from broker.adapters.directory_rows import SqlDirectoryRows
from broker.adapters.family_locks import SqlFamilyLocks
from broker.adapters.group_state import SqlRoutedEvents
from broker.adapters.inbox_store import SqlInboxStore
from broker.adapters.key_change_store import SqlKeyChanges
from broker.adapters.matched_events import SqlMatchedEvents
from broker.adapters.mesh_queue import SqlMeshQueue
from broker.adapters.notice_outbox import SqlNoticeOutbox
from broker.adapters.notice_store import SqlNoticeRecords, SqlRecipientDirectory
from broker.adapters.passkey_store import SqlPasskeys
from broker.adapters.peer_receipts import SqlReceiptsOwed
from broker.adapters.plan_reminders import SqlPlanReminders
from broker.adapters.proposal_store import SqlProposalStore
from broker.adapters.retention_store import SqlRetentionStore
from broker.adapters.steps_store import SqlFullViews, SqlStepsOwed
from broker.adapters.web_session_store import SqlWebSessions
from broker.adapters.webhook_queue import SqlWebhookQueue
from broker.errors import AlreadyRecorded, Unrecordable
from broker.ports import AuditHead, AuditRecord

if TYPE_CHECKING:
    from broker.adapters.directory_projection import DirectoryProjection


class SqlAuditLog:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def append(self, record: AuditRecord, at: datetime) -> None:
        await audit.append(self._session, record.action, record.actor, record.subject_ref,
                           record.details, at)  # fmt: skip

    async def append_many(self, records: Sequence[AuditRecord], at: datetime) -> None:
        await audit.append_many(self._session, records, at)

    def kept_in(self, entries: list[tuple[datetime, AuditRecord]]) -> AbstractContextManager[None]:
        return audit.kept_in(self._session, entries)

    async def entries_for(self, subject_ref: str) -> list[AuditRecord]:
        rows = await self._session.scalars(
            select(audit.AuditEntry)
            .where(audit.AuditEntry.subject_ref == subject_ref)
            .order_by(audit.AuditEntry.seq)
        )
        return [audit.record_of(row) for row in rows]

    async def head(self) -> AuditHead | None:
        anchor = await audit.head(self._session)
        return AuditHead(anchor.seq, anchor.hash, anchor.at) if anchor else None


def _data_exception(exc: DBAPIError) -> bool:
    """SQLSTATE class 22, "data exception" (a string too long, a number out of range): asyncpg
    comes through SQLAlchemy as a plain DBAPIError carrying the code, other drivers as
    DataError."""
    return isinstance(exc, DataError) or str(getattr(exc.orig, "sqlstate", "")).startswith("22")


class SqlUnitOfWork:
    """``async with SqlUnitOfWork(sessions) as uow:`` commits on a clean exit and rolls
    back on an exception, as ``sessions.begin()`` does. A row another transaction wrote
    first (the database's uniqueness refusing this one's, at a flush or at the commit)
    comes out as ``AlreadyRecorded``, after the rollback.

    Given a router's projection of the directory, ``directory`` answers from it."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        projection: "DirectoryProjection | None" = None,
    ) -> None:
        self._sessions = sessions
        self._session: AsyncSession | None = None
        self._transaction: AsyncSessionTransaction | None = None
        # Routing: the directory holds what this transaction read and wrote of it.
        self._projection = projection
        self._directory: SqlDirectory | None = None

    @classmethod
    def joined(cls, session: AsyncSession) -> "SqlUnitOfWork":
        """The stores over a session the caller's transaction already holds, for services
        in transition to call converted ones: it neither commits nor closes anything, and
        is not to be entered."""
        joined = cls(async_sessionmaker())
        joined._session = session
        return joined

    @property
    def session(self) -> AsyncSession:
        """For adapters while services move onto the stores; never for a service."""
        if self._session is None:
            raise RuntimeError("the unit of work is not open: use it in `async with`")
        return self._session

    @property
    def audit(self) -> SqlAuditLog:
        return SqlAuditLog(self.session)

    # Timer side
    @property
    def matched_events(self) -> SqlMatchedEvents:
        return SqlMatchedEvents(self.session)

    # Front door side: the same queue
    @property
    def matching_queue(self) -> SqlMatchedEvents:
        return SqlMatchedEvents(self.session)

    # Directory writes
    @property
    def directory_rows(self) -> SqlDirectoryRows:
        return SqlDirectoryRows(self.session)

    # Recipient side.

    @property
    def inbox(self) -> SqlInboxStore:
        return SqlInboxStore(self.session)

    @property
    def notice_records(self) -> SqlNoticeRecords:
        return SqlNoticeRecords(self.session)

    @property
    def recipients(self) -> SqlRecipientDirectory:
        return SqlRecipientDirectory(self.session)

    @property
    def webhooks(self) -> SqlWebhookQueue:
        return SqlWebhookQueue(self.session)

    @property
    def mesh(self) -> SqlMeshQueue:
        return SqlMeshQueue(self.session)

    @property
    def chronologies(self) -> SqlChronologies:
        return SqlChronologies(self.session)

    @property
    def retention(self) -> SqlRetentionStore:
        return SqlRetentionStore(self.session)

    @property
    def steps_owed(self) -> SqlStepsOwed:
        return SqlStepsOwed(self.session)

    @property
    def full_views(self) -> SqlFullViews:
        return SqlFullViews(self.session)

    @property
    def peer_receipts(self) -> SqlReceiptsOwed:
        return SqlReceiptsOwed(self.session)

    # Key changes (key_changes)
    @property
    def key_changes(self) -> SqlKeyChanges:
        return SqlKeyChanges(self.session)

    # Follow-ups
    @property
    def data_quality(self) -> SqlDataQualityLog:
        return SqlDataQualityLog(self.session)

    # Plan reminders (reminders)
    @property
    def plan_reminders(self) -> SqlPlanReminders:
        return SqlPlanReminders(self.session)

    # The outbox, for services/outbox.py
    @property
    def outbox(self) -> SqlNoticeOutbox:
        return SqlNoticeOutbox(self.session)

    # Routing: the stores of routing, sealing and proposals
    @property
    def directory(self) -> SqlDirectory:
        if self._directory is None:
            self._directory = SqlDirectory(self.session, self._projection)
        return self._directory

    @property
    def routed_events(self) -> SqlRoutedEvents:
        return SqlRoutedEvents(self.session)

    @property
    def family_locks(self) -> SqlFamilyLocks:
        return SqlFamilyLocks(self.session)

    @property
    def proposals(self) -> SqlProposalStore:
        return SqlProposalStore(self.session)

    # The alerts that tell a person a notice waits
    @property
    def alert_channels(self) -> SqlAlertChannels:
        return SqlAlertChannels(self.session)

    @property
    def alerts(self) -> SqlAlertQueue:
        return SqlAlertQueue(self.session)

    # The web inbox's sign-in
    @property
    def web_sessions(self) -> SqlWebSessions:
        return SqlWebSessions(self.session)

    @property
    def passkeys(self) -> SqlPasskeys:
        return SqlPasskeys(self.session)

    async def __aenter__(self) -> Self:
        self._session = self._sessions()
        self._transaction = await self._session.begin()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> Literal[False]:
        session, transaction = self.session, self._transaction
        assert transaction is not None
        try:
            if exc is None:
                await transaction.commit()
            else:
                await transaction.rollback()
        except IntegrityError as refused:
            await transaction.rollback()
            raise AlreadyRecorded("another transaction wrote this first") from refused
        except DBAPIError as refused:
            if not _data_exception(refused):
                raise
            await transaction.rollback()
            raise Unrecordable("the database refused a value as it stands") from refused
        finally:
            await session.close()
            self._session = self._transaction = None
            self._directory = None
        if isinstance(exc, IntegrityError):
            raise AlreadyRecorded("another transaction wrote this first") from exc
        if isinstance(exc, DBAPIError) and _data_exception(exc):
            raise Unrecordable("the database refused a value as it stands") from exc
        return False
