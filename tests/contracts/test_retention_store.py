"""The retention store port: a household's identifiers; purging its chronology, the queued
events and proposals matched to it and its only-here members' pattern records; unknown
people's stale keys; and expired queue entries taken once. Each case is given its rows
through the store's own means (ORM rows on SQL, the fake's state in memory)."""

from datetime import UTC, datetime, timedelta

import pytest

from broker.adapters import db
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.ports import ExpiredQueueEntry, UnitOfWork
from tests.contracts.conftest import UnitsOfWork
from tests.fakes import FakeUnitOfWork, RetainedState

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
OLD = AT - timedelta(days=100)


def event(n: int) -> str:
    return f"e0000000-0000-4000-8000-{n:012d}"


def a_family() -> RetainedState:
    """hh-1: mum (known by NHS number and a local id) and kid, who also lives in hh-2;
    three chronology lines about two events, one queued and one held as a proposal; an
    event of hh-2's queued too; two stale unknown people's keys and a fresh one."""
    return RetainedState(
        identifiers={"hh-1": {"nhs:9434765919", "local:gp-1:m-7"}},
        chronology={"hh-1": [event(1), event(1), event(2)], "hh-2": [event(3)]},
        members={"hh-1": {"mum", "kid"}, "hh-2": {"kid"}},
        patterns={"mum": 2, "kid": 1},
        proposals={event(2)},
        queued={event(1): (ExpiredQueueEntry(event(1), "ed_attendance", "fd-1"), OLD, "matched"),
                event(3): (ExpiredQueueEntry(event(3), "school_absence", "fd-2"), OLD, "waiting")},
        unknown_keys={"u-old": OLD, "u-older": OLD - timedelta(days=1), "u-new": AT},
    )  # fmt: skip


async def given(uow: UnitOfWork, state: RetainedState) -> None:
    if isinstance(uow, FakeUnitOfWork):
        uow.retention.state = state
        return
    assert isinstance(uow, SqlUnitOfWork)
    add = uow.session.add_all
    add(db.Household(id=h, area="E1") for h in state.members)
    add(db.Person(id=p, nhs_number="9434765919" if p == "mum" else None)
        for p in set().union(*state.members.values()))  # fmt: skip
    await uow.session.flush()  # the rows below refer to these: no ORM relationship orders them
    add(db.HouseholdMember(household_id=h, person_id=p, role="parent_or_carer")
        for h, people in state.members.items() for p in people)  # fmt: skip
    add([db.PersonAlias(source_org="gp-1", local_id="m-7", person_id="mum")])
    add(db.PatternRecord(event_id=f"{p}-{i}", person_id=p, kind="ed", at=AT)
        for p, n in state.patterns.items() for i in range(n))  # fmt: skip
    add(db.ChronologyEntry(household_id=h, at=AT, kind="event", event_id=e,
                           event_type="ed_attendance", source_org="a-1")
        for h, events in state.chronology.items() for e in events)  # fmt: skip
    add(db.DirectoryProposal(event_id=e, kind="move", source_org="la-1", front_door="fd-1",
                             named_orgs="", sealed_event="x", status="pending", proposed_at=AT)
        for e in state.proposals)  # fmt: skip
    add(db.MatchingQueueEntry(event_id=e.event_id, front_door=e.front_door,
                              event_type=e.event_type, received_at=at, sealed_event="x",
                              status=status)
        for e, at, status in state.queued.values())  # fmt: skip
    add(db.NoticeRecord(notice_id=f"n-{name}", chain_id="c", event_id="e", household=name,
                        recipient_id="r", recipient_org="o", notice_type="gp_information",
                        severity="low", rule_id="r", created_at=at, deadline=at,
                        escalate_to="[]", body="b")
        for name, at in state.unknown_keys.items())  # fmt: skip


class TestRetentionStore:
    async def test_a_households_identifiers(self, unit_of_work: UnitsOfWork) -> None:
        """Its members' NHS numbers and local ids; nothing for a stranger."""
        async with unit_of_work() as uow:
            await given(uow, a_family())
        async with unit_of_work() as uow:
            assert await uow.retention.identifiers_of("hh-1") == {"nhs:9434765919",
                                                                 "local:gp-1:m-7"}  # fmt: skip
            assert await uow.retention.identifiers_of("hh-9") == set()

    async def test_purging_a_household(self, unit_of_work: UnitsOfWork) -> None:
        """Its lines, its events' queue entries and proposals, and the pattern records of
        members who live nowhere else go; another household's stay."""
        async with unit_of_work() as uow:
            await given(uow, a_family())
        async with unit_of_work() as uow:
            purged = await uow.retention.purge_household("hh-1")
            again = await uow.retention.purge_household("hh-1")
        assert purged == {"chronology_lines": 3, "pattern_records": 2, "queued_events": 1,
                          "proposals": 1}  # fmt: skip
        assert again == dict.fromkeys(purged, 0)
        async with unit_of_work() as uow:
            assert (await uow.retention.purge_household("hh-2"))["chronology_lines"] == 1

    async def test_unknown_peoples_stale_keys(self, unit_of_work: UnitsOfWork) -> None:
        """The keys whose newest notice is no later than the cut-off, with that time."""
        async with unit_of_work() as uow:
            await given(uow, a_family())
        async with unit_of_work() as uow:
            stale = await uow.retention.unknown_keys_used_by(OLD)
        assert sorted(stale) == [("u-old", OLD), ("u-older", OLD - timedelta(days=1))]

    async def test_expired_entries_are_taken_once(self, unit_of_work: UnitsOfWork) -> None:
        """A waiting entry received by the cut-off is taken, once; a matched one never."""
        async with unit_of_work() as uow:
            await given(uow, a_family())
        async with unit_of_work() as uow:
            taken = await uow.retention.take_expired_queue_entries(AT, limit=10)
            assert await uow.retention.take_expired_queue_entries(AT, limit=10) == []
        assert taken == [ExpiredQueueEntry(event(3), "school_absence", "fd-2")]

    async def test_a_failed_unit_of_work_purges_nothing(self, unit_of_work: UnitsOfWork) -> None:
        """An exception inside the unit of work keeps everything."""
        async with unit_of_work() as uow:
            await given(uow, a_family())
        with pytest.raises(LookupError):  # noqa: PT012 - the failure must be inside the unit
            async with unit_of_work() as uow:
                await uow.retention.purge_household("hh-1")
                await uow.retention.take_expired_queue_entries(AT, limit=10)
                raise LookupError("the service failed after purging")
        async with unit_of_work() as uow:
            assert (await uow.retention.purge_household("hh-1"))["chronology_lines"] == 3
            assert len(await uow.retention.take_expired_queue_entries(AT, limit=10)) == 1
