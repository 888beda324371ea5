"""What is kept beside a notice when it is sealed, in SQL: the next steps owed
(``StepsOwed``, and what becomes of them) and the broker's full view (``FullViews``), over
the unit of work's session."""

from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime

from sqlalchemy import ColumnElement, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from broker.adapters import db, held_rows
from broker.ports import StepOwed, StepState

Milestone = db.NoticeMilestone


class SqlStepsOwed:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, steps: Sequence[StepOwed]) -> None:
        # Plain rows, a routing group's held to its end with its notices' (held_rows.py): an
        # ORM object per step cost more to build and flush than the one insert does.
        rows = [{"notice_id": s.notice_id, "step": s.step, "chain_id": s.chain_id,
                 "due_at": s.due_at} for s in steps]  # fmt: skip
        await held_rows.add(self._session, Milestone, rows)

    async def _release(self) -> None:
        # A read or change of the steps first writes those a group holds (held_rows.py).
        await held_rows.release(self._session, Milestone)

    async def of_chain(self, chain_id: str) -> list[StepOwed]:
        await self._release()
        rows = await self._session.scalars(
            select(Milestone)
            .where(Milestone.chain_id == chain_id)
            .order_by(Milestone.due_at, Milestone.step)
        )
        return [StepOwed(r.notice_id, r.step, r.chain_id, r.due_at) for r in rows]

    async def of_chains(self, chain_ids: Sequence[str]) -> dict[str, list[StepState]]:
        await self._release()
        found: dict[str, list[StepState]] = {}
        if not chain_ids:
            return found
        rows = await self._session.scalars(
            select(Milestone)
            .where(Milestone.chain_id.in_(set(chain_ids)))
            .order_by(Milestone.due_at, Milestone.step)
        )
        for row in rows:
            found.setdefault(row.chain_id, []).append(_state(row))
        return found

    # Next steps met, told and escalated (services/next_steps.py)
    async def in_chain(self, chain_id: str, step: str) -> StepState | None:
        await self._release()
        row = await self._session.scalar(
            select(Milestone)
            .where(Milestone.chain_id == chain_id, Milestone.step == step)
            .with_for_update()
            .execution_options(populate_existing=True)
        )
        return None if row is None else _state(row)

    async def meet(
        self, notice_id: str, step: str, met_by: str, outcome: str | None, at: datetime,
        *, tell: bool,
    ) -> None:  # fmt: skip
        await self._release()
        await self._session.execute(
            update(Milestone)
            .where(Milestone.notice_id == notice_id, Milestone.step == step)
            .values(met_at=at, met_by=met_by, outcome=outcome,
                    tell_pending_since=at if tell else None)
            .execution_options(synchronize_session="fetch")
        )  # fmt: skip

    async def awaiting_telling(self, limit: int) -> list[tuple[str, str]]:
        await self._release()
        rows = await self._session.execute(
            select(Milestone.notice_id, Milestone.step)
            .where(Milestone.tell_pending_since.is_not(None))
            .order_by(Milestone.tell_pending_since, Milestone.notice_id, Milestone.step)
            .limit(limit)
        )
        return [(notice_id, step) for notice_id, step in rows.all()]

    async def take_telling(self, notice_id: str, step: str) -> StepState | None:
        await self._release()
        # The row is locked while it is read, so two timers tell the referrer once.
        row = await self._session.get(
            Milestone, (notice_id, step), with_for_update=True, populate_existing=True
        )
        if row is None or row.tell_pending_since is None:
            return None
        taken = _state(row)
        row.tell_pending_since = None
        return taken

    async def overdue(self, now: datetime, limit: int) -> list[tuple[str, str]]:
        await self._release()
        rows = await self._session.execute(
            select(Milestone.notice_id, Milestone.step)
            .where(*_overdue(now))
            .order_by(Milestone.due_at, Milestone.notice_id, Milestone.step)
            .limit(limit)
        )
        return [(notice_id, step) for notice_id, step in rows.all()]

    async def claim_overdue(self, notice_id: str, step: str, now: datetime) -> StepState | None:
        await self._release()
        # One conditional statement: of two timers, one claims it.
        claimed = await self._session.execute(
            update(Milestone)
            .where(Milestone.notice_id == notice_id, Milestone.step == step, *_overdue(now))
            .values(escalated_at=now)
            .execution_options(synchronize_session=False)
        )
        if not claimed.rowcount:  # type: ignore[attr-defined]
            return None
        row = await self._session.get(Milestone, (notice_id, step), populate_existing=True)
        assert row is not None  # just claimed
        return replace(_state(row), escalated_at=None)


def _state(row: db.NoticeMilestone) -> StepState:
    return StepState(row.notice_id, row.step, row.chain_id, row.due_at, row.met_at, row.met_by,
                     row.outcome, row.tell_pending_since, row.escalated_at)  # fmt: skip


def _overdue(now: datetime) -> tuple[ColumnElement[bool], ...]:
    """Unmet, not yet escalated, past its time, and the notice acknowledged: until someone
    has acknowledged it, its own escalation chain is what chases it (one chase, not two)."""
    acknowledged = select(db.NoticeRecord.notice_id).where(
        db.NoticeRecord.chain_id == Milestone.chain_id,
        db.NoticeRecord.acknowledged_at.is_not(None),
    )
    return (Milestone.met_at.is_(None), Milestone.escalated_at.is_(None),
            Milestone.due_at <= now, acknowledged.exists())  # fmt: skip


class SqlFullViews:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def keep(self, notice_id: str, wrapped_body: str) -> None:
        await held_rows.add(
            self._session, db.NoticeFullView, [{"notice_id": notice_id, "body": wrapped_body}]
        )

    async def get(self, notice_id: str) -> str | None:
        await held_rows.release(self._session, db.NoticeFullView)
        row = await self._session.get(db.NoticeFullView, notice_id)
        return row.body if row else None
