"""The notices waiting for Kafka, in SQL (``NoticeOutbox`` in broker/ports.py): a row of
``notice_outbox`` from the transaction that decided its notice until Kafka has it."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.adapters import db, held_rows
from broker.ports import OutboxEntry

Entry = db.OutboxNotice


class SqlNoticeOutbox:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, entries: Sequence[OutboxEntry]) -> None:
        # Held with the group's other rows (held_rows.py): one insert per routing group. The
        # fields are plain values: vars() spares asdict()'s deep copy of each.
        await held_rows.add(self._session, Entry, [vars(e) for e in entries])

    async def unpublished(self, created_by: datetime, limit: int) -> list[OutboxEntry]:
        return await self._entries(Entry.created_at <= created_by, limit)

    async def unpublished_of(self, notice_ids: Sequence[str]) -> list[OutboxEntry]:
        return await self._entries(Entry.notice_id.in_(notice_ids))

    async def published(self, notice_ids: Sequence[str]) -> None:
        await held_rows.release(self._session, Entry)
        await self._session.execute(_TAKE_OUT, {"ids": list(notice_ids)})

    async def _entries(
        self, which: ColumnElement[bool], limit: int | None = None
    ) -> list[OutboxEntry]:
        await held_rows.release(self._session, Entry)
        rows = await self._session.execute(
            select(Entry.notice_id, Entry.recipient_id, Entry.created_at, Entry.sealed)
            .where(which)
            .order_by(Entry.created_at, Entry.notice_id)
            .limit(limit)
        )
        return [OutboxEntry(*row) for row in rows]


# Built once (every routing group takes its notices out): building a statement costs more
# than sending it.
_TAKE_OUT = (
    delete(Entry)
    .where(Entry.notice_id.in_(bindparam("ids", expanding=True)))
    .execution_options(synchronize_session=False)
)
