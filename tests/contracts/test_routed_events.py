"""A group of events' state as the router reads it before deciding and writes it after: routed
events with their Kafka records, pattern records, receipts, the matching queue and the audit
entries; each only if its unit of work commits, and an event routed by another unit of work
first refused as AlreadyRecorded."""

from datetime import UTC, datetime, timedelta

import pytest

from broker.adapters import db
from broker.errors import AlreadyRecorded
from broker.ports import AuditRecord, QueuedForMatching, UnitOfWork
from tests.contracts.conftest import MEMORY, UnitsOfWork
from tests.contracts.test_directory_rows import person

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
FIRST = "00000000-0000-4000-8000-000000000001"
SECOND = "00000000-0000-4000-8000-000000000002"


def queued(event_id: str, status: str = "waiting") -> QueuedForMatching:
    return QueuedForMatching(event_id, "la-front-door", "ed_attendance", AT, "sealed", status,
                             "wrapped people")  # fmt: skip


class TestRoutedEvents:
    async def test_a_routed_event_is_read_back_with_its_record(
        self, unit_of_work: UnitsOfWork
    ) -> None:
        """The Kafka record an event was routed from, for the group that meets it again."""
        async with unit_of_work() as uow:
            state = await uow.routed_events.load([FIRST])
            assert state.routed == {}
            state.mark_routed(FIRST, AT, 2, "t.events/0/7")
            await uow.routed_events.write(state)
        async with unit_of_work() as uow:
            assert await uow.routed_events.routed_from([FIRST, SECOND]) == {FIRST: "t.events/0/7"}
            assert (await uow.routed_events.load([FIRST, SECOND])).routed == {FIRST: "t.events/0/7"}

    async def test_a_failed_unit_of_work_routes_nothing(self, unit_of_work: UnitsOfWork) -> None:
        """An exception inside the unit of work rolls the routed event back."""
        with pytest.raises(LookupError):  # noqa: PT012 - the failure must be inside the unit
            async with unit_of_work() as uow:
                state = await uow.routed_events.load([FIRST])
                state.mark_routed(FIRST, AT, 0, None)
                await uow.routed_events.write(state)
                raise LookupError("the service failed after writing")
        async with unit_of_work() as uow:
            assert await uow.routed_events.routed_from([FIRST]) == {}

    async def test_an_event_another_unit_routed_first_is_already_recorded(
        self, unit_of_work: UnitsOfWork
    ) -> None:
        """Two units of work that both read the event as new: the second to write it is
        refused, and nothing of it stays."""
        async with unit_of_work() as uow:
            late = await uow.routed_events.load([FIRST, SECOND])
        async with unit_of_work() as uow:
            first = await uow.routed_events.load([FIRST])
            first.mark_routed(FIRST, AT, 1, "t.events/0/1")
            await uow.routed_events.write(first)
        with pytest.raises(AlreadyRecorded):  # noqa: PT012 - the failure must be inside the unit
            async with unit_of_work() as uow:
                late.mark_routed(SECOND, AT, 1, "t.events/0/2")
                late.mark_routed(FIRST, AT, 1, "t.events/1/1")
                await uow.routed_events.write(late)
        async with unit_of_work() as uow:
            assert await uow.routed_events.routed_from([FIRST, SECOND]) == {FIRST: "t.events/0/1"}

    async def test_pattern_records_make_a_persons_history(self, unit_of_work: UnitsOfWork) -> None:
        """What a group records is read back as the person's history by the next group, and
        an event keeps the first record it made."""
        async with unit_of_work() as uow:
            await uow.directory_rows.insert("people", [person("mum")])
            state = await uow.routed_events.load([FIRST])
            state.patterns.record(FIRST, "mum", "ed", AT, None)
            await uow.routed_events.write(state)
        async with unit_of_work() as uow:
            state = await uow.routed_events.load([FIRST, SECOND])
            state.patterns.record(FIRST, "mum", "ed", AT + timedelta(days=1), None)
            state.patterns.record(SECOND, "mum", "crisis", AT + timedelta(days=2), None)
            history = (await state.patterns.histories(uow.routed_events, ["mum"]))["mum"]
            assert history.ed_attendances == (AT,)
            assert history.crises == (AT + timedelta(days=2),)
            await uow.routed_events.write(state)
        async with unit_of_work() as uow:
            state = await uow.routed_events.load([])
            history = (await state.patterns.histories(uow.routed_events, ["mum"]))["mum"]
            assert (history.ed_attendances, history.crises) == ((AT,), (AT + timedelta(days=2),))

    async def test_one_load_tells_each_event_routed_accepted_or_recorded(
        self, database_backend: str, unit_of_work: UnitsOfWork
    ) -> None:
        """An event routed, one the gateway accepted, one with pattern records, and one never
        seen, read at once: each is told apart (SQL reads them in one statement)."""
        third = "00000000-0000-4000-8000-000000000003"
        unseen = "00000000-0000-4000-8000-000000000004"
        async with unit_of_work() as uow:
            await uow.directory_rows.insert("people", [person("mum")])
            state = await uow.routed_events.load([])
            state.mark_routed(FIRST, AT, 1, "t.events/0/3")
            state.mark_routed(SECOND, AT, 0, None)
            state.patterns.record(third, "mum", "ed", AT, None)
            await uow.routed_events.write(state)
            await _accepted(database_backend, uow, SECOND)
        async with unit_of_work() as uow:
            state = await uow.routed_events.load([FIRST, SECOND, third, unseen])
        assert state.routed == {FIRST: "t.events/0/3", SECOND: None}
        assert state.accepted == {SECOND}
        state.patterns.record(third, "mum", "ed", AT + timedelta(days=1), None)
        state.patterns.record(unseen, "mum", "ed", AT + timedelta(days=1), None)
        assert [row["event_id"] for row in state.patterns.new] == [unseen]

    async def test_a_receipt_is_fresh_once(self, unit_of_work: UnitsOfWork) -> None:
        """Whoever records an event's receipt first audits it; nobody after."""
        async with unit_of_work() as uow:
            assert await uow.routed_events.fresh_receipts([(FIRST, AT)]) == {FIRST}
        async with unit_of_work() as uow:
            assert await uow.routed_events.fresh_receipts([(FIRST, AT), (SECOND, AT)]) == {SECOND}

    async def test_the_audit_entries_kept_are_appended_in_order(
        self, unit_of_work: UnitsOfWork
    ) -> None:
        """The group's audit entries go into the audit log, and the state forgets them."""
        entries = [AuditRecord("notice_produced", "router", FIRST, {"rule_id": "a"}),
                   AuditRecord("notice_produced", "router", FIRST, {"rule_id": "b"})]  # fmt: skip
        async with unit_of_work() as uow:
            state = await uow.routed_events.load([FIRST])
            state.audit += [(AT, entries[0]), (AT + timedelta(seconds=1), entries[1])]
            await uow.routed_events.append_audit(state)
            assert state.audit == []
        async with unit_of_work() as uow:
            assert await uow.audit.entries_for(FIRST) == entries

    async def test_a_parked_event_is_read_back_and_its_changes_kept(
        self, unit_of_work: UnitsOfWork
    ) -> None:
        """An event parked for its front door is in the next group's queue, and what that
        group changes of it (matched, its people gone) is kept."""
        async with unit_of_work() as uow:
            state = await uow.routed_events.load([FIRST])
            state.park(queued(FIRST))
            await uow.routed_events.write(state)
        async with unit_of_work() as uow:
            state = await uow.routed_events.load([FIRST, SECOND])
            assert state.queue == {FIRST: queued(FIRST)}
            entry = state.queue[FIRST]
            entry.status, entry.sealed_event, entry.people = "matched", "", None
            await uow.routed_events.write(state)
        async with unit_of_work() as uow:
            [entry] = (await uow.routed_events.load([FIRST])).queue.values()
            assert (entry.status, entry.sealed_event, entry.people) == ("matched", "", None)


async def _accepted(backend: str, uow: UnitOfWork, event_id: str) -> None:
    """The gateway's record of an event it accepted (written outside the unit of work's ports:
    adapters/accepted_events.py on SQL)."""
    if backend == MEMORY:
        uow.routed_events.accepted.add(event_id)  # type: ignore[attr-defined]
        return
    row = db.AcceptedEvent(event_id=event_id, digest="d" * 64, accepted_at=AT)
    uow.session.add(row)  # type: ignore[attr-defined]
