"""Receipts owed to peer brokers, in SQL (``broker.services.peer_receipts``): queued in the
transaction that records the receipt here (``SqlReceiptsOwed``, a unit of work's store), sent
and retried by the delivery worker (``SqlPeerReceipts``)."""

from datetime import date, datetime
from typing import cast, get_args

from sqlalchemy import Update, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.adapters import audit, db
from broker.ports import AuditAction, PeerReceiptKind
from broker.services.peer_receipts import DeadReceipt, Owed
from schemas.notices import NoticeHeader, SealedNotice


class SqlReceiptsOwed:
    """The ``PeerReceiptsOwed`` port over the unit of work's session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def owe(
        self, notice_id: str, receipt: PeerReceiptKind, at: datetime,
        conference_on: date | None = None,
    ) -> bool:  # fmt: skip
        record = await self._session.get(db.NoticeRecord, notice_id)
        transfer = await self._session.get(db.PeerTransfer, record.event_id) if record else None
        if transfer is None:
            return False
        sealed = SealedNotice.model_validate_json(transfer.sealed)
        addressee = NoticeHeader.model_validate_json(sealed.header).recipient_id
        return await db.insert_once(
            self._session, db.PeerReceipt, transfer_id=transfer.transfer_id, receipt=receipt,
            peer_org=transfer.peer_org, recipient_id=addressee, conference_on=conference_on,
            reason=None, household=None, queued_at=at, attempts=0, next_attempt_at=at,
            sent_at=None, last_status=None,
        )  # fmt: skip


def _kind(text: str) -> PeerReceiptKind:
    for kind in get_args(PeerReceiptKind):
        if kind == text:
            return cast(PeerReceiptKind, kind)
    raise ValueError("not a receipt kind")


class SqlPeerReceipts:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions

    async def due(self, now: datetime, limit: int) -> list[Owed]:
        r = db.PeerReceipt
        query = (
            select(r.transfer_id, r.receipt, r.peer_org, r.recipient_id, r.conference_on,
                   r.attempts)
            .where(r.sent_at.is_(None), r.dead_at.is_(None), r.next_attempt_at <= now)
            .order_by(r.queued_at)
            .limit(limit)
        )  # fmt: skip
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return [Owed(t, _kind(k), p, rid, on, n) for t, k, p, rid, on, n in rows]

    async def next_due(self) -> datetime | None:
        r = db.PeerReceipt
        query = select(func.min(r.next_attempt_at)).where(r.sent_at.is_(None), r.dead_at.is_(None))
        async with self._sessions() as session:
            due: datetime | None = await session.scalar(query)
        return due

    async def sent(self, owed: Owed, status: int | None, at: datetime) -> None:
        await self._end(owed, status, at, "peer_receipt_sent", sent_at=at)

    async def dead(self, owed: Owed, status: int | None, at: datetime) -> None:
        await self._end(owed, status, at, "peer_receipt_dead_lettered", dead_at=at)

    async def _end(self, owed: Owed, status: int | None, at: datetime, action: AuditAction,
                   **ended: datetime) -> None:  # fmt: skip
        async with self._sessions.begin() as session:
            moved = await session.execute(self._row(owed).values(
                last_status=status, attempts=owed.attempts + 1, **ended))  # fmt: skip
            if not moved.rowcount:  # type: ignore[attr-defined]
                return  # another worker settled it first, and audited it then
            details = {"receipt": owed.receipt, "status": status}
            await audit.append(session, action, owed.peer_org, owed.transfer_id, details, at)

    async def retry(self, owed: Owed, status: int | None, at: datetime) -> None:
        async with self._sessions.begin() as session:
            await session.execute(self._row(owed).values(
                next_attempt_at=at, last_status=status, attempts=owed.attempts + 1))  # fmt: skip

    async def dead_letters(self) -> list[DeadReceipt]:
        r = db.PeerReceipt
        query = (
            select(r.transfer_id, r.receipt, r.peer_org, r.last_status, r.attempts, r.dead_at)
            .where(r.dead_at.is_not(None)).order_by(r.dead_at, r.transfer_id, r.receipt)
        )  # fmt: skip
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        return [DeadReceipt(t, _kind(k), p, status, n, dead)
                for t, k, p, status, n, dead in rows if dead is not None]  # fmt: skip

    async def requeue(self, dead: DeadReceipt, operator: str, now: datetime) -> bool:
        r = db.PeerReceipt
        query = (
            update(r)
            .where(r.transfer_id == dead.transfer_id, r.receipt == dead.receipt,
                   r.dead_at.is_not(None))
            .values(dead_at=None, attempts=0, next_attempt_at=now)
        )  # fmt: skip
        async with self._sessions.begin() as session:
            if not (await session.execute(query)).rowcount:  # type: ignore[attr-defined]
                return False
            details = {"receipt": dead.receipt, "status": dead.last_status}
            await audit.append(session, "peer_receipt_requeued", operator, dead.transfer_id,
                               details, now)  # fmt: skip
        return True

    @staticmethod
    def _row(owed: Owed) -> Update:
        """The receipt, only if it is still owed as ``owed`` read it: of two workers that
        sent it at once, one settles it (and audits it), never both, and a slow one never
        marks dead a receipt the other has sent."""
        r = db.PeerReceipt
        return update(r).where(
            r.transfer_id == owed.transfer_id, r.receipt == owed.receipt,
            r.attempts == owed.attempts, r.sent_at.is_(None), r.dead_at.is_(None),
        )  # fmt: skip
