"""Recipients' webhook deliveries in SQL: the ``WebhookQueue`` port over the unit of work's
session. A batch is queued in one statement; settling is one conditional update, so of two
dispatchers that read the same delivery only one moves it."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from broker.adapters import bulk, db
from broker.ports import WebhookChange, WebhookDue, WebhookQueued

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
Delivery = db.WebhookDelivery


class SqlWebhookQueue:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

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

    async def due_heads(self, now: datetime, limit: int) -> list[WebhookDue]:
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

    async def settle(self, due: WebhookDue, made: int, change: WebhookChange) -> bool:
        seen = due.next_attempt_at if made == due.attempts else None
        query = update(Delivery).where(
            Delivery.sequence == due.sequence,
            Delivery.state == PENDING,
            Delivery.attempts == made,
            *([Delivery.next_attempt_at == seen] if seen else []),
        )
        return bool((await self._session.execute(query.values(**change))).rowcount)  # type: ignore[attr-defined]


def _due(d: db.WebhookDelivery, url: str | None) -> WebhookDue:
    return WebhookDue(d.sequence, d.notice_id, d.recipient_id, d.attempts, d.next_attempt_at,
                      d.first_failed_at, d.source, url)  # fmt: skip
