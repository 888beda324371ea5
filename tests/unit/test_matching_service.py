"""The matching queue's front door side, on the fakes: an event parked with its people kept
under the entry's own key, each listed entry an audited read, and a match that teaches the
directory identifiers (only of people in the front door's area) as one audited change."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from broker.demo import family
from broker.ports import AuditRecord, DirectoryChangeEntry, ParkedEvent, TableRow
from broker.rules.admission import Arrival
from broker.services import matching
from broker.services.directory_writes import whole
from schemas.events import EdAttendance, PersonRef
from schemas.transport import EventHeader, SealedEvent
from tests.fakes import FakeDataKeys, FakeUnitOfWork

RECEIVED = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
NOW = RECEIVED + timedelta(hours=3)
FRONT_DOOR, AREA, SOURCE = "la-fd", "E09000001", "mh-1"
EVENT = str(uuid.UUID(int=7))
STRANGER = PersonRef(local_id="MH-77", given_name="Jess", family_name="Carter")


def rows(uow: FakeUnitOfWork, table: str, *found: TableRow) -> list[TableRow]:
    return [whole(uow, table, row) for row in found]  # type: ignore[arg-type]


async def directory(uow: FakeUnitOfWork, nhs_number: str | None = None) -> None:
    """The front door, and p-1 living in its area; p-2 in another area."""
    async with uow:
        put = uow.directory_rows.insert
        await put("organisations", rows(uow, "organisations",
                                        {"id": FRONT_DOOR, "area": AREA}))  # fmt: skip
        await put("people", rows(uow, "people", {"id": "p-1", "nhs_number": nhs_number},
                                 {"id": "p-2"}))  # fmt: skip
        await put("households", rows(uow, "households", {"id": "h-1", "area": AREA},
                                     {"id": "h-2", "area": "W06000001"}))  # fmt: skip
        await put("household_members", rows(
            uow, "household_members", {"household_id": "h-1", "person_id": "p-1"},
            {"household_id": "h-2", "person_id": "p-2"}))  # fmt: skip


async def queue(uow: FakeUnitOfWork, keys: FakeDataKeys, *people: PersonRef) -> None:
    named = matching.QueuedPeople(source_org=SOURCE, people=list(people or [STRANGER]))
    entry = ParkedEvent(EVENT, FRONT_DOOR, "parent_crisis", RECEIVED, "sealed",
                        matching.wrap_people(keys, EVENT, named))  # fmt: skip
    async with uow:
        await uow.matching_queue.park(entry)


async def match_to(uow: FakeUnitOfWork, keys: FakeDataKeys, person_id: str) -> None:
    async with uow:
        entry, named = await matching.queued(uow, FRONT_DOOR, EVENT, keys)
        await matching.match(uow, entry, named, {0: person_id}, FRONT_DOOR, NOW)


async def person(uow: FakeUnitOfWork, person_id: str) -> TableRow:
    async with uow:
        [found] = await uow.directory_rows.select_in("people", "id", [person_id])
    return found


async def aliases(uow: FakeUnitOfWork) -> list[TableRow]:
    async with uow:
        return await uow.directory_rows.select_in("person_aliases", "source_org", [SOURCE])


async def status(uow: FakeUnitOfWork) -> str:
    async with uow:
        entry = await uow.matching_queue.for_match(EVENT)
    assert entry is not None
    return entry.status


class TestPark:
    async def test_the_people_are_kept_under_the_entrys_own_key(self) -> None:
        """The front door reads the event's people with the entry's data key alone."""
        uow, keys = FakeUnitOfWork(), FakeDataKeys()
        event = EdAttendance(
            event_type="ed_attendance", event_id=uuid.UUID(EVENT), source_org=SOURCE,
            occurred_at=RECEIVED, subject=STRANGER, arrived_at=RECEIVED,
            presenting_category="ingestion_or_poisoning",
        )  # fmt: skip
        header = EventHeader(event_id=event.event_id, source_org=SOURCE, broker_key_id="k")
        sealed = SealedEvent(header=header.model_dump_json(), ciphertext="sealed")
        async with uow:
            await matching.park(uow, sealed, Arrival.of(event, RECEIVED), event, FRONT_DOOR, keys)
        async with uow:
            [entry] = await uow.matching_queue.to_do(FRONT_DOOR)
        assert (entry.event_id, entry.status, entry.received_at) == (EVENT, "waiting", RECEIVED)
        assert matching.people_of(entry, keys).people == [STRANGER]
        assert keys.is_shredded(matching.people_key(EVENT)) is False


class TestReadQueue:
    async def test_each_entry_shown_is_an_audited_read(self) -> None:
        """The reader's read of each entry is in the audit log, naming the event's type."""
        uow, keys = FakeUnitOfWork(), FakeDataKeys()
        await queue(uow, keys)
        async with uow:
            shown = await matching.read_queue(uow, FRONT_DOOR, FRONT_DOOR, NOW)
        assert [entry.event_id for entry in shown] == [EVENT]
        expected = AuditRecord("matching_queue_read", FRONT_DOOR, EVENT,
                               {"event_type": "parent_crisis"})  # fmt: skip
        assert uow.audit.committed == [(expected, NOW)]


class TestQueued:
    async def test_another_front_doors_entry_is_not_in_the_queue(self) -> None:
        """A front door cannot take another's entry for a match."""
        uow, keys = FakeUnitOfWork(), FakeDataKeys()
        await queue(uow, keys)
        with pytest.raises(matching.NotInQueue):
            await matching.queued(uow, "other-fd", EVENT, keys)

    async def test_a_matched_entry_is_not_matched_again(self) -> None:
        """Once accepted, the entry is no longer waiting for a match."""
        uow, keys = FakeUnitOfWork(), FakeDataKeys()
        await directory(uow)
        await queue(uow, keys)
        await match_to(uow, keys, "p-1")
        with pytest.raises(matching.NotInQueue):
            await matching.queued(uow, FRONT_DOOR, EVENT, keys)


class TestMatch:
    async def test_a_match_teaches_the_directory_the_agencys_id(self) -> None:
        """The agency's own id becomes an alias of the person matched."""
        uow, keys = FakeUnitOfWork(), FakeDataKeys()
        await directory(uow)
        await queue(uow, keys)
        await match_to(uow, keys, "p-1")
        assert await aliases(uow) == [{"source_org": SOURCE, "local_id": "MH-77",
                                       "person_id": "p-1"}]  # fmt: skip

    async def test_a_missing_nhs_number_is_learnt(self) -> None:
        """An NHS number the event gives and the directory lacks is kept on the person."""
        uow, keys = FakeUnitOfWork(), FakeDataKeys()
        await directory(uow)
        await queue(uow, keys, PersonRef(nhs_number=family.MOTHER))
        await match_to(uow, keys, "p-1")
        assert (await person(uow, "p-1"))["nhs_number"] == family.MOTHER

    async def test_the_match_is_one_change_naming_kinds_not_values(self) -> None:
        """The change log and the audit log name the kinds of identifier learnt, from whose
        records and through which event: never the identifiers themselves."""
        uow, keys = FakeUnitOfWork(), FakeDataKeys()
        await directory(uow)
        await queue(uow, keys)
        await match_to(uow, keys, "p-1")
        async with uow:
            changes = await uow.directory_rows.changes_for("person", "p-1")
        assert changes == [DirectoryChangeEntry(NOW, FRONT_DOOR, "person", "p-1", "matched",
                                                ("alias",))]  # fmt: skip
        details = {"entity": "person", "action": "matched", "fields": "alias",
                   "source_org": SOURCE, "event_id": EVENT}  # fmt: skip
        assert uow.audit.committed[-1] == (
            AuditRecord("directory_changed", FRONT_DOOR, "p-1", details), NOW)  # fmt: skip

    async def test_the_match_is_accepted_for_the_timer(self) -> None:
        """The entry waits for the router's timer, which routes the event afresh."""
        uow, keys = FakeUnitOfWork(), FakeDataKeys()
        await directory(uow)
        await queue(uow, keys)
        await match_to(uow, keys, "p-1")
        assert await status(uow) == "accepted"
        assert uow.matched_events.forgotten() == {EVENT}

    async def test_a_person_of_another_area_is_refused_before_any_write(self) -> None:
        """No alias, no change, and the entry still waiting."""
        uow, keys = FakeUnitOfWork(), FakeDataKeys()
        await directory(uow)
        await queue(uow, keys)
        with pytest.raises(matching.NotInArea):
            await match_to(uow, keys, "p-2")
        assert (await aliases(uow), await status(uow)) == ([], "waiting")

    async def test_a_different_nhs_number_is_another_person(self) -> None:
        """A person holding a different NHS number is not the one the event names."""
        uow, keys = FakeUnitOfWork(), FakeDataKeys()
        await directory(uow, nhs_number=family.FATHER)
        await queue(uow, keys, PersonRef(nhs_number=family.MOTHER, local_id="MH-77"))
        with pytest.raises(matching.MatchConflict):
            await match_to(uow, keys, "p-1")
        assert (await aliases(uow), await status(uow)) == ([], "waiting")

    async def test_a_position_the_event_does_not_have_is_refused(self) -> None:
        """Links name the event's people by position: one past the last is not in it."""
        uow, keys = FakeUnitOfWork(), FakeDataKeys()
        await directory(uow)
        await queue(uow, keys)
        async with uow:
            entry, named = await matching.queued(uow, FRONT_DOOR, EVENT, keys)
            with pytest.raises(matching.NotInQueue):
                await matching.match(uow, entry, named, {1: "p-1"}, FRONT_DOOR, NOW)


class TestReleaseClaims:
    async def test_a_claim_left_by_a_stopped_router_is_given_back(self) -> None:
        """An entry being published when its router stopped is accepted again."""
        uow, keys = FakeUnitOfWork(), FakeDataKeys()
        await directory(uow)
        await queue(uow, keys)
        await match_to(uow, keys, "p-1")
        async with uow:
            await uow.matched_events.claim(EVENT)
        async with uow:
            assert await matching.release_claims(uow) == 1
        assert await status(uow) == "accepted"
