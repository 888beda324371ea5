"""The matching queue's front door side: the router parks an event once, a front door lists
what it still has to do, takes one entry for a match and records the match; a router that
stopped mid-publication has its claims given back."""

from datetime import UTC, datetime, timedelta

from broker.ports import ParkedEvent
from tests.contracts.conftest import UnitsOfWork

RECEIVED = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
MATCHED = RECEIVED + timedelta(hours=2)


def parked(event_id: str, front_door: str = "fd-1", minutes: int = 0) -> ParkedEvent:
    return ParkedEvent(event_id, front_door, "parent_crisis", RECEIVED + timedelta(minutes=minutes),
                       f"sealed {event_id}", f"people of {event_id}")  # fmt: skip


async def park(units: UnitsOfWork, *entries: ParkedEvent) -> None:
    async with units() as uow:
        for entry in entries:
            await uow.matching_queue.park(entry)


async def statuses(units: UnitsOfWork, front_door: str = "fd-1") -> dict[str, str]:
    async with units() as uow:
        return {
            entry.event_id: entry.status for entry in await uow.matching_queue.to_do(front_door)
        }


class TestPark:
    async def test_a_parked_event_is_read_back_waiting(self, unit_of_work: UnitsOfWork) -> None:
        """The entry comes back as parked: waiting, sealed, its people kept, not matched."""
        await park(unit_of_work, parked("e-1"))
        async with unit_of_work() as uow:
            assert await uow.matching_queue.to_do("fd-1") == [parked("e-1")]

    async def test_an_event_is_parked_once(self, unit_of_work: UnitsOfWork) -> None:
        """Parking an event the queue holds already changes nothing (a redelivery)."""
        await park(unit_of_work, parked("e-1"))
        again = ParkedEvent("e-1", "fd-2", "ed_attendance", MATCHED, "other", None)
        await park(unit_of_work, again)
        async with unit_of_work() as uow:
            assert await uow.matching_queue.for_match("e-1") == parked("e-1")


class TestToDo:
    async def test_a_front_door_sees_its_own_entries_oldest_first(
        self, unit_of_work: UnitsOfWork
    ) -> None:
        """Only the front door's entries, in the order they were received."""
        await park(unit_of_work, parked("e-2", minutes=5), parked("e-1", minutes=1),
                   parked("e-3", front_door="fd-2"))  # fmt: skip
        async with unit_of_work() as uow:
            listed = [entry.event_id for entry in await uow.matching_queue.to_do("fd-1")]
        assert listed == ["e-1", "e-2"]

    async def test_a_matched_entry_stays_listed_until_routed(
        self, unit_of_work: UnitsOfWork
    ) -> None:
        """Accepted, being published or routing: still to do; matched (routed): not."""
        await park(unit_of_work, parked("e-1"), parked("e-2", minutes=1))
        async with unit_of_work() as uow:
            await uow.matching_queue.accept("e-1", "fd-1", MATCHED)
            await uow.matching_queue.accept("e-2", "fd-1", MATCHED)
        async with unit_of_work() as uow:
            await uow.matched_events.claim("e-2")
        assert await statuses(unit_of_work) == {"e-1": "accepted", "e-2": "publishing"}


class TestAccept:
    async def test_a_match_is_recorded_for_the_timer(self, unit_of_work: UnitsOfWork) -> None:
        """The accepted entry carries the time of its match, and the timer lists it."""
        await park(unit_of_work, parked("e-1"))
        async with unit_of_work() as uow:
            await uow.matching_queue.accept("e-1", "fd-1", MATCHED)
        async with unit_of_work() as uow:
            entry = await uow.matching_queue.for_match("e-1")
            listed = await uow.matched_events.accepted(10)
        assert entry is not None
        assert (entry.status, entry.matched_at, listed) == ("accepted", MATCHED, ["e-1"])

    async def test_an_unknown_entry_is_none(self, unit_of_work: UnitsOfWork) -> None:
        """Nothing to match under an id the queue does not hold."""
        async with unit_of_work() as uow:
            assert await uow.matching_queue.for_match("e-9") is None


class TestReleaseClaims:
    async def test_claims_are_given_back(self, unit_of_work: UnitsOfWork) -> None:
        """Entries being published are accepted again and counted; others stay as they are."""
        await park(unit_of_work, parked("e-1"), parked("e-2", minutes=1), parked("e-3", minutes=2))
        async with unit_of_work() as uow:
            for event_id in ("e-1", "e-2"):
                await uow.matching_queue.accept(event_id, "fd-1", MATCHED)
        async with unit_of_work() as uow:
            await uow.matched_events.claim("e-1")
        async with unit_of_work() as uow:
            released = await uow.matching_queue.release_claims()
        assert released == 1
        assert await statuses(unit_of_work) == {"e-1": "accepted", "e-2": "accepted",
                                                "e-3": "waiting"}  # fmt: skip
