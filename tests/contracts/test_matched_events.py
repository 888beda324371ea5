"""The matched-events port: the router's timer claims a matched entry once, hands it back
when Kafka refuses it, and keeps the people of entries parked before the queue kept them."""

from datetime import UTC, datetime

import pytest

from broker.adapters import db
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.ports import QueuedEvent, UnitOfWork
from tests.contracts.conftest import UnitsOfWork
from tests.fakes import FakeUnitOfWork, QueueEntry

MATCHED = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


async def queue(units: UnitsOfWork, entry: QueueEntry) -> None:
    """Puts an entry in the queue as the front door's half (services/matching.py) leaves it:
    that half is not this port's, so each backend is given the entry its own way."""
    async with units() as uow:
        await _queue(uow, entry)


async def _queue(uow: UnitOfWork, entry: QueueEntry) -> None:
    if isinstance(uow, FakeUnitOfWork):
        uow.matched_events.rows[entry.event_id] = entry
        return
    assert isinstance(uow, SqlUnitOfWork)
    uow.session.add(db.MatchingQueueEntry(
        event_id=entry.event_id, front_door="fd", event_type="parent_crisis",
        received_at=MATCHED, sealed_event=entry.sealed_event, status=entry.status,
        people=entry.people, matched_at=entry.matched_at,
    ))  # fmt: skip


def accepted(event_id: str, minutes: int = 0) -> QueueEntry:
    at = MATCHED.replace(minute=minutes)
    return QueueEntry(event_id, f"sealed {event_id}", "accepted", "people", at)


class TestMatchedEvents:
    async def test_accepted_entries_come_oldest_match_first(
        self, unit_of_work: UnitsOfWork
    ) -> None:
        """Only matched entries are listed, in the order they were matched."""
        await queue(unit_of_work, accepted("e-2", minutes=5))
        await queue(unit_of_work, accepted("e-1", minutes=1))
        await queue(unit_of_work, QueueEntry("e-3", "sealed", "waiting", "people"))
        async with unit_of_work() as uow:
            assert await uow.matched_events.accepted(10) == ["e-1", "e-2"]

    async def test_an_entry_is_claimed_once(self, unit_of_work: UnitsOfWork) -> None:
        """The first claim answers the entry as sealed and matched; a second answers None."""
        await queue(unit_of_work, accepted("e-1"))
        async with unit_of_work() as uow:
            first = await uow.matched_events.claim("e-1")
        async with unit_of_work() as uow:
            again = await uow.matched_events.claim("e-1")
            listed = await uow.matched_events.accepted(10)
        assert (first, again, listed) == (QueuedEvent("e-1", "sealed e-1", MATCHED), None, [])

    async def test_a_refused_publication_is_accepted_again(self, unit_of_work: UnitsOfWork) -> None:
        """Kafka refusing the entry puts it back for the next round."""
        await queue(unit_of_work, accepted("e-1"))
        async with unit_of_work() as uow:
            await uow.matched_events.claim("e-1")
            await uow.matched_events.published("e-1", succeeded=False)
        async with unit_of_work() as uow:
            assert await uow.matched_events.accepted(10) == ["e-1"]

    async def test_a_published_entry_is_neither_listed_nor_claimed(
        self, unit_of_work: UnitsOfWork
    ) -> None:
        """Once Kafka has it, the entry waits for the router, not for the timer."""
        await queue(unit_of_work, accepted("e-1"))
        async with unit_of_work() as uow:
            await uow.matched_events.claim("e-1")
            await uow.matched_events.published("e-1", succeeded=True)
        async with unit_of_work() as uow:
            assert await uow.matched_events.accepted(10) == []
            assert await uow.matched_events.claim("e-1") is None

    async def test_only_an_entry_being_published_moves(self, unit_of_work: UnitsOfWork) -> None:
        """A late report of a publication leaves an entry in another state as it is."""
        await queue(unit_of_work, accepted("e-1"))
        async with unit_of_work() as uow:
            await uow.matched_events.published("e-1", succeeded=True)
        async with unit_of_work() as uow:
            assert await uow.matched_events.accepted(10) == ["e-1"]

    async def test_a_failed_unit_of_work_leaves_the_claim_untaken(
        self, unit_of_work: UnitsOfWork
    ) -> None:
        """A claim in a unit of work that fails is rolled back with it."""
        await queue(unit_of_work, accepted("e-1"))
        with pytest.raises(LookupError):  # noqa: PT012 - the failure must be inside the unit
            async with unit_of_work() as uow:
                await uow.matched_events.claim("e-1")
                raise LookupError("sealing failed after the claim")
        async with unit_of_work() as uow:
            assert await uow.matched_events.accepted(10) == ["e-1"]

    async def test_people_are_kept_once(self, unit_of_work: UnitsOfWork) -> None:
        """A waiting entry without its people is listed and answered until they are kept."""
        await queue(unit_of_work, QueueEntry("e-1", "sealed e-1", "waiting", None))
        await queue(unit_of_work, QueueEntry("e-2", "sealed e-2", "waiting", "people"))
        async with unit_of_work() as uow:
            assert await uow.matched_events.unkept(10) == ["e-1"]
            entry = await uow.matched_events.unkept_entry("e-1")
            await uow.matched_events.keep_people("e-1", "wrapped")
        async with unit_of_work() as uow:
            assert entry == QueuedEvent("e-1", "sealed e-1", None)
            assert await uow.matched_events.unkept(10) == []
            assert await uow.matched_events.unkept_entry("e-1") is None
