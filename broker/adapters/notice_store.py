"""The broker's notice records in SQL: the ``NoticeRecords`` port over the unit of work's
session, and the directory as the recipient side reads it (``RecipientDirectory``)."""

from collections.abc import Sequence
from dataclasses import fields
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from broker.adapters import db, held_rows
from broker.adapters.directory import ContactRecord, OrgRecord, SqlDirectory
from broker.ports import NoticeRecordView, Reach
from broker.rules.family import Addressee, OrgKind
from schemas.notices import NoticeType

Record = db.NoticeRecord
_FIELDS = [f.name for f in fields(NoticeRecordView)]


class SqlNoticeRecords:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, records: Sequence[NoticeRecordView]) -> None:
        # Plain rows, a routing group's held to its end (held_rows.py). The fields are
        # plain values: vars() spares asdict()'s deep copy of each.
        await held_rows.add(self._session, Record, [vars(r) for r in records])

    async def get(self, notice_id: str) -> NoticeRecordView | None:
        await self._held_written()
        row = await self._session.get(Record, notice_id)
        return None if row is None else _view(row)

    async def of(self, notice_ids: Sequence[str]) -> dict[str, NoticeRecordView]:
        await self._held_written()
        rows = await self._session.scalars(select(Record).where(Record.notice_id.in_(notice_ids)))
        return {row.notice_id: _view(row) for row in rows}

    async def chain_recipients(self, chain_id: str) -> set[str]:
        await self._held_written()
        query = select(Record.recipient_id).where(Record.chain_id == chain_id)
        return set(await self._session.scalars(query))

    async def firsts_of_event(self, event_id: str) -> list[NoticeRecordView]:
        await self._held_written()
        rows = await self._session.scalars(
            select(Record)
            .where(Record.event_id == event_id, Record.follows.is_(None))
            .order_by(Record.created_at, Record.notice_id)
        )
        return [_view(row) for row in rows]

    async def mark_delivered(self, notice_id: str, channel: str, at: datetime) -> bool:
        return await self._first(notice_id, Record.delivered_at.is_(None),
                                 delivered_at=at, delivered_via=channel)  # fmt: skip

    async def mark_viewed(self, notice_id: str, at: datetime) -> bool:
        return await self._first(notice_id, Record.viewed_at.is_(None), viewed_at=at)

    async def mark_acknowledged(self, notice_id: str, at: datetime) -> bool:
        unsettled = Record.acknowledged_at.is_(None) & Record.rejected_at.is_(None)
        if not await self._first(notice_id, unsettled, acknowledged_at=at):
            return False
        # An acknowledgement stops the clock for the whole chain: nothing of it escalates.
        chain = select(Record.chain_id).where(Record.notice_id == notice_id).scalar_subquery()
        await self._session.execute(
            update(Record)
            .where(Record.chain_id == chain, Record.closed_at.is_(None))
            .values(closed_at=at)
            .execution_options(synchronize_session=False)
        )
        return True

    async def mark_rejected(self, notice_id: str, at: datetime, wrapped_reason: str) -> bool:
        unsettled = Record.acknowledged_at.is_(None) & Record.rejected_at.is_(None)
        return await self._first(notice_id, unsettled, rejected_at=at,
                                 rejection_reason=wrapped_reason,
                                 reroute_pending_since=at)  # fmt: skip

    # Follow-ups
    async def due_for_escalation(
        self, now: datetime, school_lead: timedelta, limit: int
    ) -> list[str]:
        await self._held_written()
        return list(await self._session.scalars(
            select(Record.notice_id)
            .where(*_escalable(now, school_lead))
            .order_by(Record.deadline, Record.notice_id)
            .limit(limit)
        ))  # fmt: skip

    async def claim_escalation(self, notice_id: str, now: datetime, school_lead: timedelta) -> bool:
        await self._held_written()
        claimed = await self._session.execute(
            update(Record)
            .where(Record.notice_id == notice_id, *_escalable(now, school_lead))
            .values(escalated_at=now)
        )
        return bool(claimed.rowcount)  # type: ignore[attr-defined]

    async def due_for_reroute(self, limit: int) -> list[str]:
        await self._held_written()
        return list(await self._session.scalars(
            select(Record.notice_id)
            .where(Record.reroute_pending_since.is_not(None))
            .order_by(Record.reroute_pending_since, Record.notice_id)
            .limit(limit)
        ))  # fmt: skip

    async def take_reroute(self, notice_id: str) -> NoticeRecordView | None:
        await self._held_written()
        # The row is locked while it is read, so two timers send it on once.
        row = await self._session.get(Record, notice_id, with_for_update=True)
        if row is None or row.reroute_pending_since is None:
            return None
        taken = _view(row)
        row.reroute_pending_since = None
        return taken

    # Next steps (services/next_steps.py)
    async def first_acknowledged(self, chain_id: str) -> datetime | None:
        await self._held_written()
        return await self._session.scalar(
            select(Record.acknowledged_at)
            .where(Record.chain_id == chain_id, Record.acknowledged_at.is_not(None))
            .order_by(Record.acknowledged_at)
            .limit(1)
        )

    async def _held_written(self) -> None:
        # A read in a routing group sees the group's own notices, as a flush showed them.
        await held_rows.release(self._session, Record)

    async def _first(self, notice_id: str, unset: ColumnElement[bool], **values: object) -> bool:
        await self._held_written()
        # One conditional statement: of two concurrent receipts, one is the first.
        done = await self._session.execute(
            update(Record)
            .where(Record.notice_id == notice_id, unset)
            .values(**values)
            .execution_options(synchronize_session="fetch")
        )
        return bool(done.rowcount)  # type: ignore[attr-defined]


class SqlRecipientDirectory:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session
        self._directory = SqlDirectory(session)

    async def contact_for(self, addressee: Addressee) -> str | None:
        contact = await self._directory.contact_for(addressee)
        return contact.contact_id if contact else None

    async def webhook_url(self, contact_id: str) -> str | None:
        return await self._directory.webhook_url(contact_id)

    async def organisation_of(self, contact_id: str) -> str | None:
        contact = await self._session.get(db.Contact, contact_id)
        return contact.org_id if contact is not None else None

    async def reach(self, contact_ids: Sequence[str]) -> dict[str, Reach]:
        return await self._directory.reach(contact_ids)

    async def front_door_area(self, org_id: str) -> str | None:
        org = await self._session.get(db.Organisation, org_id)
        return org.area if org is not None and org.kind == OrgKind.FRONT_DOOR else None

    async def organisation_kind(self, org_id: str) -> str | None:
        org = await self._directory.organisation(org_id)
        return org.kind if org else None

    async def household_areas(self, household_id: str) -> set[str]:
        home = await self._session.get(db.Household, household_id)
        before = await self._session.scalars(
            select(db.HouseholdArea.area).where(db.HouseholdArea.household_id == household_id)
        )
        return set(before) | ({home.area} if home else set())

    # Follow-ups
    async def contact_record(self, addressee: Addressee) -> ContactRecord | None:
        return await self._directory.contact_for(addressee)

    async def organisation(self, org_id: str) -> OrgRecord | None:
        return await self._directory.organisation(org_id)


def _view(row: Record) -> NoticeRecordView:
    return NoticeRecordView(**{name: getattr(row, name) for name in _FIELDS})


def _escalable(now: datetime, school_lead: timedelta) -> tuple[ColumnElement[bool], ...]:
    # Whether anyone in the chain has acknowledged is asked of the chain itself, at the
    # moment of the claim: an acknowledgement committed in between, or one that could not see
    # an escalation inserted a moment before it, still stops the chain.
    other = aliased(Record)
    acknowledged = select(other.notice_id).where(
        other.chain_id == Record.chain_id, other.acknowledged_at.is_not(None)
    )
    return (Record.escalated_at.is_(None), Record.rejected_at.is_(None),
            Record.closed_at.is_(None), _past_due(now, school_lead),
            ~acknowledged.exists())  # fmt: skip


def _past_due(now: datetime, school_lead: timedelta) -> ColumnElement[bool]:
    """Past its deadline; a school's own notice (not yet escalated) ``school_lead`` before
    its session starts, not at it (the deadline is the session's start)."""
    school = and_(Record.notice_type == NoticeType.SCHOOL_SUPPORT.value, Record.level == 0)
    return or_(Record.deadline <= now, and_(school, Record.deadline <= now + school_lead))
