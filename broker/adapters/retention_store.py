"""Retention's deletions and reads in SQL: the ``RetentionStore`` port over the unit of
work's session."""

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from broker.adapters import db
from broker.ports import ExpiredQueueEntry

# Unknown people's key names: "u" and a hex pseudonym; a household's never start with "u".
UNKNOWN_PERSON_KEYS = "u%"
WAITING = "waiting"  # a queue entry nobody has matched yet (services/matching.py)
Queued = db.MatchingQueueEntry
Member = db.HouseholdMember


class SqlRetentionStore:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def identifiers_of(self, household_id: str) -> set[str]:
        members = select(Member.person_id).where(Member.household_id == household_id)
        people = (await self._session.scalars(
            select(db.Person).where(db.Person.id.in_(members))
        )).all()  # fmt: skip
        aliases = (await self._session.scalars(
            select(db.PersonAlias).where(db.PersonAlias.person_id.in_(members))
        )).all()  # fmt: skip
        return (
            {f"nhs:{p.nhs_number}" for p in people if p.nhs_number}
            | {f"upn:{p.upn}" for p in people if p.upn}
            | {f"local:{a.source_org}:{a.local_id}" for a in aliases}
        )

    async def purge_household(self, household_id: str) -> dict[str, int]:
        events = list(await self._session.scalars(
            select(db.ChronologyEntry.event_id)
            .where(db.ChronologyEntry.household_id == household_id)
            .distinct()
        ))  # fmt: skip
        queued = await self._delete(Queued, Queued.event_id, events)
        held = await self._delete(db.DirectoryProposal, db.DirectoryProposal.event_id, events)
        people = await self._members_of_no_other_household(household_id)
        patterns = await self._delete(db.PatternRecord, db.PatternRecord.person_id, people)
        lines = (await self._session.execute(
            delete(db.ChronologyEntry).where(db.ChronologyEntry.household_id == household_id)
        )).rowcount  # type: ignore[attr-defined]  # fmt: skip
        return {"chronology_lines": lines, "pattern_records": patterns, "queued_events": queued,
                "proposals": held}  # fmt: skip

    async def unknown_keys_used_by(self, before: datetime) -> list[tuple[str, datetime]]:
        last_used = func.max(db.NoticeRecord.created_at)
        stale = await self._session.execute(
            select(db.NoticeRecord.household, last_used)
            .where(db.NoticeRecord.household.like(UNKNOWN_PERSON_KEYS))
            .group_by(db.NoticeRecord.household)
            .having(last_used <= before)
        )
        return [(name, last) for name, last in stale.all()]

    async def take_expired_queue_entries(
        self, received_by: datetime, limit: int
    ) -> list[ExpiredQueueEntry]:
        expired = (await self._session.scalars(
            select(Queued)
            .where(Queued.status == WAITING, Queued.received_at <= received_by)
            .order_by(Queued.received_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )).all()  # fmt: skip
        for entry in expired:
            await self._session.delete(entry)
        return [ExpiredQueueEntry(e.event_id, e.event_type, e.front_door) for e in expired]

    async def _members_of_no_other_household(self, household_id: str) -> list[str]:
        members = select(Member.person_id).where(Member.household_id == household_id)
        elsewhere = select(Member.person_id).where(Member.household_id != household_id)
        rows = await self._session.scalars(members.where(Member.person_id.not_in(elsewhere)))
        return list(rows.all())

    async def _delete(
        self, model: type[db.Base], column: InstrumentedAttribute[str], values: Sequence[str]
    ) -> int:
        if not values:
            return 0
        result = await self._session.execute(delete(model).where(column.in_(values)))
        return int(result.rowcount)  # type: ignore[attr-defined]
