"""The matching queue in SQL: as the router's timer publishes matched events again
(``MatchedEvents`` in broker/ports.py) and as the router parks events and a front door
matches them (``MatchingQueue``); the states are those services/matching.py names."""

from dataclasses import asdict
from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from broker.adapters import db
from broker.ports import ParkedEvent, QueuedEvent

WAITING, ACCEPTED, PUBLISHING, ROUTING = "waiting", "accepted", "publishing", "routing"
TO_DO = (WAITING, ACCEPTED, PUBLISHING, ROUTING)  # not yet routed: shown to the front door
Entry = db.MatchingQueueEntry


class SqlMatchedEvents:
    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def accepted(self, limit: int) -> list[str]:
        return list(await self._session.scalars(
            select(Entry.event_id).where(Entry.status == ACCEPTED)
            .order_by(Entry.matched_at, Entry.event_id).limit(limit)
        ))  # fmt: skip

    async def claim(self, event_id: str) -> QueuedEvent | None:
        # One conditional update is the claim: of two routers, one changes the row.
        claimed = await self._session.execute(
            update(Entry).where(Entry.event_id == event_id, Entry.status == ACCEPTED)
            .values(status=PUBLISHING)
        )  # fmt: skip
        if not claimed.rowcount:  # type: ignore[attr-defined]
            return None
        return _view(await self._session.get(Entry, event_id, populate_existing=True))

    async def published(self, event_id: str, *, succeeded: bool) -> None:
        await self._session.execute(
            update(Entry).where(Entry.event_id == event_id, Entry.status == PUBLISHING)
            .values(status=ROUTING if succeeded else ACCEPTED)
        )  # fmt: skip

    async def unkept(self, limit: int) -> list[str]:
        return list(await self._session.scalars(
            select(Entry.event_id).where(Entry.status == WAITING, Entry.people.is_(None))
            .order_by(Entry.event_id).limit(limit)
        ))  # fmt: skip

    async def unkept_entry(self, event_id: str) -> QueuedEvent | None:
        entry = await self._session.get(Entry, event_id, with_for_update=True)
        if entry is None or entry.people is not None or entry.status != WAITING:
            return None
        return _view(entry)

    async def keep_people(self, event_id: str, wrapped_people: str) -> None:
        await self._session.execute(
            update(Entry).where(Entry.event_id == event_id).values(people=wrapped_people)
        )

    # Front door side (MatchingQueue)
    async def park(self, entry: ParkedEvent) -> None:
        if await self._session.get(Entry, entry.event_id) is None:
            self._session.add(queue_row(entry))

    async def to_do(self, front_door: str) -> list[ParkedEvent]:
        found = await self._session.scalars(
            select(Entry).where(Entry.front_door == front_door, Entry.status.in_(TO_DO))
            .order_by(Entry.received_at, Entry.event_id)
        )  # fmt: skip
        return [parked(entry) for entry in found]

    async def for_match(self, event_id: str) -> ParkedEvent | None:
        entry = await self._session.get(Entry, event_id, with_for_update=True)
        return parked(entry) if entry is not None else None

    async def accept(self, event_id: str, matched_by: str, at: datetime) -> None:
        await self._session.execute(
            update(Entry).where(Entry.event_id == event_id)
            .values(status=ACCEPTED, matched_at=at, matched_by=matched_by)
        )  # fmt: skip
        await self._session.execute(
            delete(db.RoutedEvent).where(db.RoutedEvent.event_id == event_id)
        )

    async def release_claims(self) -> int:
        released = await self._session.execute(
            update(Entry).where(Entry.status == PUBLISHING).values(status=ACCEPTED)
        )
        return int(released.rowcount)  # type: ignore[attr-defined]


def queue_row(entry: ParkedEvent) -> Entry:
    """The entry as a row of the table (the router's group state adds rows to its session)."""
    return Entry(**asdict(entry))


def parked(entry: Entry) -> ParkedEvent:
    return ParkedEvent(entry.event_id, entry.front_door, entry.event_type, entry.received_at,
                       entry.sealed_event, entry.people, entry.status,
                       entry.matched_at)  # fmt: skip


def _view(entry: Entry | None) -> QueuedEvent | None:
    if entry is None:
        return None
    return QueuedEvent(entry.event_id, entry.sealed_event, entry.matched_at)
