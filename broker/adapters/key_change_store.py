"""Key changes held for a second administrator, in SQL (``KeyChanges`` in broker/ports.py)."""

from dataclasses import fields
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from broker.adapters import db
from broker.ports import KeyChangeView

COLUMNS = [f.name for f in fields(KeyChangeView)]


def _view(row: db.PendingKeyChange) -> KeyChangeView:
    return KeyChangeView(**{name: getattr(row, name) for name in COLUMNS})


class SqlKeyChanges:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, change: KeyChangeView) -> None:
        self._session.add(db.PendingKeyChange(**{name: getattr(change, name) for name in COLUMNS}))
        await self._session.flush()

    async def get_for_update(self, change_id: str) -> KeyChangeView | None:
        row = await self._session.get(db.PendingKeyChange, change_id, with_for_update=True)
        return _view(row) if row else None

    async def mark_approved(self, change_id: str, approver: str, at: datetime) -> None:
        await self._set(change_id, approved_by=approver, approved_at=at)

    async def mark_withdrawn(self, change_id: str, administrator: str, at: datetime) -> None:
        await self._set(change_id, withdrawn_by=administrator, withdrawn_at=at)

    async def awaiting(self, requested_after: datetime) -> list[KeyChangeView]:
        table = db.PendingKeyChange
        rows = await self._session.scalars(
            select(table)
            .where(table.approved_at.is_(None), table.withdrawn_at.is_(None),
                   table.requested_at > requested_after)
            .order_by(table.requested_at)
        )  # fmt: skip
        return [_view(row) for row in rows]

    async def concerning(self, org_id: str) -> list[KeyChangeView]:
        table = db.PendingKeyChange
        rows = await self._session.scalars(
            select(table).where(table.org_id == org_id).order_by(table.requested_at.desc())
        )
        return [_view(row) for row in rows]

    async def _set(self, change_id: str, **values: object) -> None:
        table = db.PendingKeyChange
        await self._session.execute(update(table).where(table.id == change_id).values(**values))
        # Written past the ORM: whatever it holds of the row is read afresh.
        self._session.expire_all()
