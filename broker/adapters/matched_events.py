"""The matching queue as the router's timer publishes matched events again, in SQL
(``MatchedEvents`` in broker/ports.py; the states are those services/matching.py names)."""

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from broker.adapters import db
from broker.ports import QueuedEvent

WAITING, ACCEPTED, PUBLISHING, ROUTING = "waiting", "accepted", "publishing", "routing"
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


def _view(entry: Entry | None) -> QueuedEvent | None:
    if entry is None:
        return None
    return QueuedEvent(entry.event_id, entry.sealed_event, entry.matched_at)
