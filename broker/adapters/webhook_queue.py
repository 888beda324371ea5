"""Recipients' webhook deliveries in SQL: the ``WebhookQueue`` port over the unit of work's
session. A batch is queued in one statement; claiming and settling are the retry queues'
(``retry_queue.SqlRetryRows``): of two dispatchers that read a delivery only one moves it."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update

from broker.adapters import bulk, db
from broker.adapters.retry_queue import SqlRetryRows
from broker.ports import WebhookDue, WebhookQueued

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
Delivery = db.WebhookDelivery


class SqlWebhookQueue(SqlRetryRows[WebhookDue]):
    table = Delivery

    async def enqueue(self, deliveries: Sequence[WebhookQueued]) -> int:
        rows = [{"notice_id": d.notice_id, "state": PENDING, "attempts": 0,
                 "recipient_id": d.recipient_id, "next_attempt_at": d.at, "enqueued_at": d.at,
                 "source": d.source} for d in deliveries]  # fmt: skip
        return len(await bulk.insert_new(self._session, Delivery, "notice_id", rows))

    async def requeue(self, notice_id: str, now: datetime) -> bool:
        revived = await self._session.execute(
            update(Delivery)
            .where(Delivery.notice_id == notice_id, Delivery.state == DEAD)
            .values(state=PENDING, attempts=0, next_attempt_at=now, finished_at=None)
        )
        return bool(revived.rowcount)  # type: ignore[attr-defined]

    async def due(self, now: datetime, limit: int) -> list[WebhookDue]:
        # A recipient's later notices wait until its earliest is delivered or dead.
        heads = (
            select(func.min(Delivery.sequence).label("sequence"))
            .where(Delivery.state == PENDING)
            .group_by(Delivery.recipient_id)
            .subquery()
        )
        query = (
            select(Delivery, db.Contact.webhook_url)
            .join(heads, heads.c.sequence == Delivery.sequence)
            .outerjoin(db.Contact, db.Contact.id == Delivery.recipient_id)
            .where(Delivery.next_attempt_at <= now)
            .order_by(Delivery.next_attempt_at, Delivery.sequence)
            .limit(limit)
        )
        return [_due(d, url) for d, url in (await self._session.execute(query)).all()]


def _due(d: db.WebhookDelivery, url: str | None) -> WebhookDue:
    return WebhookDue(d.sequence, d.notice_id, d.recipient_id, d.attempts, d.next_attempt_at,
                      d.first_failed_at, d.source, url)  # fmt: skip
