"""Sends to recipients' NHS MESH mailboxes in SQL: the ``MeshQueue`` port over the unit of
work's session. Queuing reads which recipients have a mailbox in the same statement's
transaction; claiming and settling are the retry queues' (``retry_queue.SqlRetryRows``): of
two workers that read the same delivery only one moves it."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import bindparam, or_, select, update

from broker.adapters import bulk, db
from broker.adapters.retry_queue import SqlRetryRows
from broker.ports import MeshDue, MeshQueued

PENDING, SENT, DEAD = "pending", "sent", "dead"
Delivery = db.MeshDelivery
# Which of the recipients (``ids``) have a MESH mailbox: asked for every delivery batch, so
# built once (building a statement costs more than sending it).
_WITH_MAILBOX = select(db.Contact.id).where(
    db.Contact.id.in_(bindparam("ids", expanding=True)), db.Contact.mesh_mailbox.is_not(None)
)


class SqlMeshQueue(SqlRetryRows[MeshDue]):
    table = Delivery
    open_states = (PENDING, SENT)  # a sent message is tracked until MESH acknowledges it

    async def enqueue(self, deliveries: Sequence[MeshQueued]) -> int:
        recipients = {d.recipient_id for d in deliveries}
        if not recipients:
            return 0
        found = await self._session.execute(_WITH_MAILBOX, {"ids": sorted(recipients)})
        with_mailbox = set(found.scalars())
        rows = [
            {
                "notice_id": d.notice_id,
                "recipient_id": d.recipient_id,
                "state": PENDING,
                "attempts": 0,
                "next_attempt_at": d.at,
                "enqueued_at": d.at,
                "source": d.source,
            }
            for d in deliveries
            if d.recipient_id in with_mailbox
        ]
        if not rows:
            return 0
        return len(await bulk.insert_new(self._session, Delivery, "notice_id", rows))

    async def requeue(self, notice_id: str, now: datetime) -> bool:
        revived = await self._session.execute(
            update(Delivery)
            .where(Delivery.notice_id == notice_id, Delivery.state == DEAD)
            .values(
                state=PENDING,
                attempts=0,
                next_attempt_at=now,
                finished_at=None,
                message_id=None,
                sent_at=None,
            )
        )
        return bool(revived.rowcount)  # type: ignore[attr-defined]

    async def due(self, now: datetime, limit: int) -> list[MeshDue]:
        query = (
            select(Delivery, db.Contact.mesh_mailbox)
            .outerjoin(db.Contact, db.Contact.id == Delivery.recipient_id)
            .where(
                or_(Delivery.state == PENDING, Delivery.state == SENT),
                Delivery.next_attempt_at <= now,
            )
            .order_by(Delivery.next_attempt_at, Delivery.sequence)
            .limit(limit)
        )
        return [_due(d, mailbox) for d, mailbox in (await self._session.execute(query)).all()]


def _due(d: db.MeshDelivery, mailbox: str | None) -> MeshDue:
    return MeshDue(
        d.sequence,
        d.notice_id,
        d.recipient_id,
        d.state,
        d.attempts,
        d.next_attempt_at,
        d.first_failed_at,
        d.source,
        d.message_id,
        d.sent_at,
        mailbox,
    )
