"""Households' chronologies in SQL: the ``Chronologies`` port over the unit of work's
session (the lines themselves are built in broker/adapters/chronology.py)."""

import json
from collections.abc import Sequence
from dataclasses import replace

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from broker.adapters import chronology, db
from broker.ports import ChronologyLine, ChronologyNotice
from schemas.notices import NoticeType

Entry = db.ChronologyEntry


class SqlChronologies:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def of_household(self, household_id: str) -> list[ChronologyLine]:
        return await chronology.chronology_of(self._session, household_id)

    async def notices_starting(self, id_start: str) -> list[ChronologyNotice]:
        rows = await self._session.scalars(
            select(Entry).where(
                Entry.kind == "notice", Entry.notice_id.startswith(id_start, autoescape=True)
            )
        )
        return [ChronologyNotice(row.notice_id or "", row.household_id, row.event_id,
                                 row.recipient_id, row.at) for row in rows]  # fmt: skip

    async def transfer_open_to(self, org_id: str, household_id: str) -> bool:
        query = (
            select(db.NoticeRecord.notice_id)
            .join(Entry, Entry.notice_id == db.NoticeRecord.notice_id)
            .where(Entry.household_id == household_id,
                   db.NoticeRecord.notice_type == NoticeType.TRANSFER.value,
                   db.NoticeRecord.recipient_org == org_id,
                   db.NoticeRecord.rejected_at.is_(None))
            .limit(1)
        )  # fmt: skip
        return (await self._session.scalar(query)) is not None

    # Follow-ups
    async def of_notice(self, notice_id: str) -> list[tuple[str, ChronologyLine]]:
        rows = await self._session.scalars(select(Entry).where(Entry.notice_id == notice_id))
        return [(row.household_id, _line(row)) for row in rows]

    async def add(self, lines: Sequence[tuple[str, ChronologyLine]]) -> None:
        self._session.add_all(
            Entry(household_id=household, at=line.at, kind=line.kind, event_id=line.event_id,
                  event_type=line.event_type, source_org=line.source_org,
                  notice_id=line.notice_id, recipient_id=line.recipient_id,
                  notice_type=line.notice_type, severity=line.severity, rule_id=line.rule_id,
                  facts=None if line.facts is None else json.dumps(line.facts, sort_keys=True))
            for household, line in lines
        )  # fmt: skip

    # Next steps (services/next_steps.py)
    async def source_of_event(self, event_id: str) -> str | None:
        query = select(Entry.source_org).where(Entry.event_id == event_id).limit(1)
        return await self._session.scalar(query)


def _line(row: Entry) -> ChronologyLine:
    line = ChronologyLine(row.at, row.kind, row.event_id, row.event_type, row.source_org)
    return replace(line, notice_id=row.notice_id, recipient_id=row.recipient_id,
                   notice_type=row.notice_type, severity=row.severity, rule_id=row.rule_id,
                   facts=json.loads(row.facts) if row.facts else None)  # fmt: skip
