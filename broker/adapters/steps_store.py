"""What is kept beside a notice when it is sealed, in SQL: the next steps owed
(``StepsOwed``) and the broker's full view (``FullViews``), over the unit of work's session."""

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.adapters import db
from broker.ports import StepOwed

Milestone = db.NoticeMilestone


class SqlStepsOwed:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, steps: Sequence[StepOwed]) -> None:
        # Through the session, as routing added them: flushed with its transaction's rows.
        self._session.add_all(Milestone(notice_id=s.notice_id, step=s.step, chain_id=s.chain_id,
                                        due_at=s.due_at) for s in steps)  # fmt: skip

    async def of_chain(self, chain_id: str) -> list[StepOwed]:
        rows = await self._session.scalars(
            select(Milestone)
            .where(Milestone.chain_id == chain_id)
            .order_by(Milestone.due_at, Milestone.step)
        )
        return [StepOwed(r.notice_id, r.step, r.chain_id, r.due_at) for r in rows]


class SqlFullViews:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def keep(self, notice_id: str, wrapped_body: str) -> None:
        self._session.add(db.NoticeFullView(notice_id=notice_id, body=wrapped_body))

    async def get(self, notice_id: str) -> str | None:
        row = await self._session.get(db.NoticeFullView, notice_id)
        return row.body if row else None
