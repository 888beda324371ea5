"""The retry queues' shared SQL (``RetryQueue``'s claim and settle), over whichever table a
queue keeps: webhook_deliveries, alert_deliveries and mesh_deliveries share the columns of the
retry cycle (sequence, state, attempts, next_attempt_at, first_failed_at, finished_at,
last_error) and differ only in their payload. Each move is one conditional update, so of two
workers that read the same item only one moves it."""

from dataclasses import replace
from datetime import datetime
from typing import ClassVar, Generic

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from broker.adapters import db
from broker.ports import DueT, RetryChange

# The tables of the retry cycle (one per queue): what ``SqlRetryRows.table`` may name.
RetryTable = type[db.WebhookDelivery] | type[db.AlertDelivery] | type[db.MeshDelivery]


class SqlRetryRows(Generic[DueT]):
    """Claim and settle over ``table``; a queue adds its own queuing and reading of due rows."""

    table: ClassVar[RetryTable]
    open_states: ClassVar[tuple[str, ...]] = ("pending",)  # the states still to be tried

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def next_due(self) -> datetime | None:
        t = self.table
        query = select(func.min(t.next_attempt_at)).where(t.state.in_(self.open_states))
        due: datetime | None = await self._session.scalar(query)
        return due

    async def claim(self, item: DueT, until: datetime) -> DueT | None:
        if not await self.settle(item, {"attempts": item.attempts + 1, "next_attempt_at": until}):
            return None
        return replace(item, attempts=item.attempts + 1, next_attempt_at=until)  # type: ignore[type-var]

    async def settle(self, item: DueT, change: RetryChange) -> bool:
        t = self.table
        query = update(t).where(
            t.sequence == item.sequence,
            t.state == item.state,
            t.attempts == item.attempts,
            t.next_attempt_at == item.next_attempt_at,
        )
        return bool((await self._session.execute(query.values(**change))).rowcount)  # type: ignore[attr-defined]
