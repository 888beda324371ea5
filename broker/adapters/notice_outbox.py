"""The notice records as the outbox, in SQL (``NoticeOutbox`` in broker/ports.py): a record
is unpublished while its ``published_at`` is empty (broker/adapters/db.py NoticeRecord)."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from broker.adapters import db
from broker.ports import OutboxEntry

Record = db.NoticeRecord


class SqlNoticeOutbox:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def unpublished(self, created_by: datetime, limit: int) -> list[OutboxEntry]:
        return await self._entries(Record.created_at <= created_by, limit)

    async def unpublished_of(self, notice_ids: Sequence[str]) -> list[OutboxEntry]:
        return await self._entries(Record.notice_id.in_(notice_ids))

    async def mark_published(self, notice_ids: Sequence[str], at: datetime) -> None:
        await self._session.execute(
            update(Record)
            .where(Record.notice_id.in_(notice_ids), Record.published_at.is_(None))
            .values(published_at=at, sealed="")
        )

    async def _entries(
        self, which: ColumnElement[bool], limit: int | None = None
    ) -> list[OutboxEntry]:
        # The three columns only: the relay reads hundreds at a time, the rest is not needed.
        rows = await self._session.execute(
            select(Record.notice_id, Record.recipient_id, Record.sealed)
            .where(Record.published_at.is_(None), which)
            .order_by(Record.created_at, Record.notice_id)
            .limit(limit)
        )
        return [
            OutboxEntry(notice_id, recipient_id, sealed) for notice_id, recipient_id, sealed in rows
        ]
