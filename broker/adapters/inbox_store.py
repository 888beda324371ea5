"""Recipients' inboxes in SQL: the ``InboxStore`` port over the unit of work's session."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.adapters import bulk, db
from broker.ports import InboxEntry

_ORDER = (db.InboxNotice.delivered_at, db.InboxNotice.notice_id)


class SqlInboxStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_new(self, entries: Sequence[InboxEntry]) -> set[str]:
        # One statement for the whole batch; a notice already there is skipped, even one
        # another process committed a moment ago.
        rows = [vars(entry) for entry in entries]  # asdict() would deep-copy every field
        return await bulk.insert_new(self._session, db.InboxNotice, "notice_id", rows)

    async def get(self, notice_id: str) -> InboxEntry | None:
        row = await self._session.get(db.InboxNotice, notice_id)
        return None if row is None else _entry(row)

    async def released(self, recipient_id: str, now: datetime) -> list[InboxEntry]:
        held = db.InboxNotice.held_until
        return await self._listed(recipient_id, or_(held.is_(None), held <= now))

    async def held_until(self, recipient_id: str, released_at: datetime) -> list[InboxEntry]:
        return await self._listed(recipient_id, db.InboxNotice.held_until == released_at)

    async def released_ids(self, recipient_id: str, now: datetime) -> set[str]:
        # Ids alone, by the recipient's index: a live page asks every few seconds.
        held = db.InboxNotice.held_until
        ids = await self._session.scalars(
            select(db.InboxNotice.notice_id).where(
                db.InboxNotice.recipient_id == recipient_id, or_(held.is_(None), held <= now)
            )
        )
        return set(ids)

    async def _listed(self, recipient_id: str, which: ColumnElement[bool]) -> list[InboxEntry]:
        rows = await self._session.scalars(
            select(db.InboxNotice)
            .where(db.InboxNotice.recipient_id == recipient_id, which)
            .order_by(*_ORDER)
        )
        return [_entry(row) for row in rows]


def _entry(row: db.InboxNotice) -> InboxEntry:
    return InboxEntry(
        notice_id=row.notice_id, recipient_id=row.recipient_id, header=row.header,
        ciphertext=row.ciphertext, signature=row.signature, deadline=row.deadline,
        held_until=row.held_until, delivered_at=row.delivered_at,
    )  # fmt: skip
