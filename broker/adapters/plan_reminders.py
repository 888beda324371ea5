"""Step-down plans' review reminders in SQL: the ``PlanReminders`` port over the unit of
work's session."""

from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from broker.adapters import db
from broker.ports import PlanReminder

Row = db.PlanReminder


class SqlPlanReminders:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def schedule(self, notice_id: str, due_at: datetime) -> None:
        # Through the session, as routing adds its notices: flushed with its transaction.
        self._session.add(Row(notice_id=notice_id, due_at=due_at))

    async def due(self, now: datetime, limit: int) -> list[str]:
        return list(await self._session.scalars(
            select(Row.notice_id)
            .where(Row.sent_at.is_(None), Row.due_at <= now)
            .order_by(Row.due_at, Row.notice_id)
            .limit(limit)
        ))  # fmt: skip

    async def claim(self, notice_id: str, now: datetime) -> bool:
        # One conditional statement: of two timers, one sends the reminder.
        claimed = await self._session.execute(
            update(Row)
            .where(Row.notice_id == notice_id, Row.sent_at.is_(None))
            .values(sent_at=now)
            .execution_options(synchronize_session=False)
        )
        return bool(claimed.rowcount)  # type: ignore[attr-defined]

    async def sent_as(self, notice_id: str, reminder_id: str) -> None:
        await self._session.execute(
            update(Row)
            .where(Row.notice_id == notice_id)
            .values(reminder_id=reminder_id)
            .execution_options(synchronize_session=False)
        )

    async def get(self, notice_id: str) -> PlanReminder | None:
        row = await self._session.get(Row, notice_id, populate_existing=True)
        return None if row is None else PlanReminder(row.notice_id, row.due_at, row.sent_at,
                                                     row.reminder_id)  # fmt: skip
