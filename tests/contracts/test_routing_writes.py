"""What routing writes beside its notices: the proposals held for a front door, only if its
unit of work commits (its directory changes go through services/directory_changes.py)."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from broker.errors import AlreadyRecorded
from broker.ports import HeldProposal
from tests.contracts.conftest import UnitsOfWork

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
EVENT = "00000000-0000-4000-8000-000000000001"
OTHER = "00000000-0000-4000-8000-000000000002"
THIRD = "00000000-0000-4000-8000-000000000003"


def held(status: str = "pending") -> HeldProposal:
    named = frozenset({"gp-hillview", "school-brookside"})
    return HeldProposal(EVENT, "move", "school-oakfield", "la-front-door", "E06000001", named,
                        "sealed", status, AT)  # fmt: skip


class TestProposalStore:
    async def test_a_held_proposal_is_read_back_and_decided(
        self, unit_of_work: UnitsOfWork
    ) -> None:
        """As held, then with the front door's answer, who gave it and when."""
        async with unit_of_work() as uow:
            await uow.proposals.hold(held())
        async with unit_of_work() as uow:
            assert await uow.proposals.get_for_update(EVENT) == held()
            await uow.proposals.mark_decided(EVENT, "confirming", "la-front-door:duty", AT)
        async with unit_of_work() as uow:
            found = await uow.proposals.get_for_update(EVENT)
            assert found is not None
            assert (found.status, found.decided_by, found.decided_at) == (
                "confirming", "la-front-door:duty", AT)  # fmt: skip

    async def test_a_failed_unit_of_work_holds_nothing(self, unit_of_work: UnitsOfWork) -> None:
        """An exception inside the unit of work rolls the proposal back."""
        with pytest.raises(LookupError):  # noqa: PT012 - the failure must be inside the unit
            async with unit_of_work() as uow:
                await uow.proposals.hold(held())
                raise LookupError("the service failed after holding")
        async with unit_of_work() as uow:
            assert await uow.proposals.get_for_update(EVENT) is None

    async def test_an_event_proposes_once(self, unit_of_work: UnitsOfWork) -> None:
        """A second proposal of the same event is refused as already recorded."""
        async with unit_of_work() as uow:
            await uow.proposals.hold(held())
        with pytest.raises(AlreadyRecorded):
            async with unit_of_work() as uow:
                await uow.proposals.hold(held())

    async def test_proposals_are_listed_by_status_and_front_door(
        self, unit_of_work: UnitsOfWork
    ) -> None:
        """A front door's pending proposals, oldest first; those decided listed apart, by
        when they were decided."""
        later = replace(held(), event_id=OTHER, proposed_at=AT + timedelta(hours=1))
        elsewhere = replace(held(), event_id=THIRD, front_door="other-front-door")
        async with unit_of_work() as uow:
            for proposal in (later, held(), elsewhere):
                await uow.proposals.hold(proposal)
        async with unit_of_work() as uow:
            pending = await uow.proposals.with_status("pending", front_door="la-front-door")
            assert [p.event_id for p in pending] == [EVENT, OTHER]
            await uow.proposals.mark_decided(OTHER, "confirming", "la-front-door", AT)
            await uow.proposals.mark_decided(THIRD, "confirming", "other-front-door",
                                             AT - timedelta(hours=1))  # fmt: skip
        async with unit_of_work() as uow:
            confirming = await uow.proposals.with_status("confirming", limit=1)
            assert [p.event_id for p in confirming] == [THIRD]
            assert [p.event_id for p in await uow.proposals.with_status("pending")] == [EVENT]
