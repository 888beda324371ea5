"""Alerts in SQL: contacts' channels (``AlertChannels``) and the alerts queued for them
(``AlertQueue``), over the unit of work's session. A batch is queued in one statement, once
per (notice, trigger, channel); claiming and settling are the retry queues'
(``retry_queue.SqlRetryRows``): of two workers that read an alert only one moves it."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Integer, delete, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.adapters import bulk, db
from broker.adapters.retry_queue import SqlRetryRows
from broker.ports import AlertChannelRow, AlertDue, AlertFailures, AlertQueued

PENDING, SENT, DEAD, CANCELLED = "pending", "sent", "dead", "cancelled"
Alert, Channel, Record = db.AlertDelivery, db.AlertChannel, db.NoticeRecord


class SqlAlertChannels:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def of_contacts(self, contact_ids: Sequence[str]) -> list[AlertChannelRow]:
        if not contact_ids:
            return []
        query = (
            select(Channel)
            .where(Channel.contact_id.in_(sorted(set(contact_ids))))
            .order_by(Channel.contact_id, Channel.id)
        )
        rows = await self._session.scalars(query)
        return [AlertChannelRow(r.id, r.contact_id, r.kind, r.address) for r in rows]

    async def replace(self, contact_id: str, channels: Sequence[tuple[str, str]]) -> bool:
        existing = {(c.kind, c.address): c.id for c in await self.of_contacts([contact_id])}
        wanted = list(dict.fromkeys(channels))
        gone = [id_ for pair, id_ in existing.items() if pair not in wanted]
        new = [{"contact_id": contact_id, "kind": kind, "address": address}
               for kind, address in wanted if (kind, address) not in existing]  # fmt: skip
        if gone:
            await self._session.execute(delete(Channel).where(Channel.id.in_(gone)))
        if new:
            await self._session.execute(db.Base.metadata.tables[Channel.__tablename__].insert(),
                                        new)  # fmt: skip
        return bool(gone or new)


class SqlAlertQueue(SqlRetryRows[AlertDue]):
    table = Alert

    async def enqueue(self, alerts: Sequence[AlertQueued]) -> int:
        rows = [{"alert_key": a.key, "notice_id": a.notice_id, "trigger": a.trigger,
                 "channel_id": a.channel_id, "contact_id": a.contact_id, "deadline": a.deadline,
                 "state": PENDING, "attempts": 0, "next_attempt_at": a.due_at,
                 "enqueued_at": a.enqueued_at} for a in alerts]  # fmt: skip
        return len(await bulk.insert_new(self._session, Alert, "alert_key", rows))

    async def due(self, now: datetime, limit: int) -> list[AlertDue]:
        answered = or_(Record.acknowledged_at.is_not(None), Record.rejected_at.is_not(None),
                       Record.closed_at.is_not(None))  # fmt: skip
        query = (
            select(Alert, Channel.kind, Channel.address, db.Organisation.name, db.Contact.role,
                   db.Organisation.session_start, answered.label("answered"))
            .join(db.Contact, db.Contact.id == Alert.contact_id)
            .join(db.Organisation, db.Organisation.id == db.Contact.org_id)
            .outerjoin(Channel, Channel.id == Alert.channel_id)
            .outerjoin(Record, Record.notice_id == Alert.notice_id)
            .where(Alert.state == PENDING, Alert.next_attempt_at <= now)
            .order_by(Alert.next_attempt_at, Alert.sequence)
            .limit(limit)
        )  # fmt: skip
        rows = (await self._session.execute(query)).all()
        return [AlertDue(a.sequence, a.notice_id, a.trigger, a.contact_id, kind, address, org,
                         role, start, a.deadline, a.attempts, a.next_attempt_at,
                         a.first_failed_at, bool(done))
                for a, kind, address, org, role, start, done in rows]  # fmt: skip

    async def failing(self, since: datetime) -> list[AlertFailures]:
        dead = func.sum((Alert.state == DEAD).cast(Integer))
        query = (
            select(Alert.contact_id, func.coalesce(Channel.kind, "removed"), dead,
                   func.sum((Alert.state == PENDING).cast(Integer)),
                   func.max(Alert.last_error), func.max(Alert.first_failed_at))
            .outerjoin(Channel, Channel.id == Alert.channel_id)
            .where(Alert.first_failed_at >= since, Alert.state.in_([DEAD, PENDING]))
            .group_by(Alert.contact_id, Channel.kind)
            .order_by(dead.desc(), Alert.contact_id)
        )  # fmt: skip
        rows = (await self._session.execute(query)).all()
        return [AlertFailures(c, k, int(d or 0), int(r or 0), e, at)
                for c, k, d, r, e, at in rows]  # fmt: skip
