"""The gauges of open, overdue and escalated notices per recipient organisation kind, from one
grouped query over notice_records. Counted by the router's follow-up timer, at its first round
and then once per ``notice_gauges_interval_seconds`` (not per scrape, and not each round: the
query reads every open notice): only router pods serve them, so aggregate across pods with
``max``, never ``sum``.

Open: neither acknowledged nor closed (its chain acknowledged). Overdue: open and past its
deadline. Escalated: open and already escalated to the next recipient.
"""

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from broker.adapters import metrics
from broker.adapters.db import NoticeRecord, Organisation
from broker.rules.family import OrgKind

UNKNOWN_KIND = "unknown"  # a recipient organisation no longer in the directory


@dataclass
class NoticeGauges:
    """The gauges counted again once ``interval`` seconds have passed since the last count."""

    engine: AsyncEngine
    interval: float
    clock: Callable[[], float] = time.monotonic
    counted_at: float = -math.inf

    async def refresh_if_due(self, now: datetime) -> bool:
        """Counts them if due; answers whether it did."""
        if self.clock() - self.counted_at < self.interval:
            return False
        await refresh_notice_gauges(self.engine, now)
        self.counted_at = self.clock()
        return True


async def refresh_notice_gauges(engine: AsyncEngine, now: datetime) -> None:
    """Sets every kind's three gauges; a kind with no open notice reads 0, never stale."""
    kind = func.coalesce(Organisation.kind, UNKNOWN_KIND)
    query = (
        select(
            kind,
            func.count(),
            func.sum(case((NoticeRecord.deadline < now, 1), else_=0)),
            func.sum(case((NoticeRecord.escalated_at.is_not(None), 1), else_=0)),
        )
        .select_from(NoticeRecord)
        .outerjoin(Organisation, Organisation.id == NoticeRecord.recipient_org)
        .where(NoticeRecord.acknowledged_at.is_(None), NoticeRecord.closed_at.is_(None))
        .group_by(kind)
    )
    async with engine.connect() as connection:
        rows = (await connection.execute(query)).all()
    counts = {str(k): (int(o), int(d or 0), int(e or 0)) for k, o, d, e in rows}
    for name in {*OrgKind, *counts}:
        open_, overdue, escalated = counts.get(str(name), (0, 0, 0))
        metrics.NOTICES_OPEN.labels(str(name)).set(open_)
        metrics.NOTICES_OVERDUE.labels(str(name)).set(overdue)
        metrics.NOTICES_ESCALATED.labels(str(name)).set(escalated)
