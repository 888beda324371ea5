"""What is kept beside a notice when it is sealed: the steps owed, read back by chain,
soonest due first, and the broker's full view; each only if its unit of work commits."""

from datetime import UTC, datetime, timedelta

import pytest

from broker.ports import StepOwed
from tests.contracts.conftest import UnitsOfWork

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
CHAIN = "00000000-0000-4000-8000-000000000001"


def owed(step: str, hours: int, chain: str = CHAIN) -> StepOwed:
    return StepOwed(chain, step, chain, AT + timedelta(hours=hours))


class TestStepsOwed:
    async def test_a_chains_steps_soonest_first(self, unit_of_work: UnitsOfWork) -> None:
        """The chain's steps by due time, then step; another chain's left out."""
        other = owed("decision", 1, chain="00000000-0000-4000-8000-000000000002")
        async with unit_of_work() as uow:
            await uow.steps_owed.add([owed("decision", 72), owed("strategy", 24),
                                      owed("contact", 24), other])  # fmt: skip
        async with unit_of_work() as uow:
            assert await uow.steps_owed.of_chain(CHAIN) == [
                owed("contact", 24), owed("strategy", 24), owed("decision", 72)]  # fmt: skip

    async def test_a_failed_unit_of_work_owes_nothing(self, unit_of_work: UnitsOfWork) -> None:
        """An exception inside the unit of work rolls its steps back."""
        with pytest.raises(LookupError):  # noqa: PT012 - the failure must be inside the unit
            async with unit_of_work() as uow:
                await uow.steps_owed.add([owed("decision", 72)])
                raise LookupError("the service failed after recording")
        async with unit_of_work() as uow:
            assert await uow.steps_owed.of_chain(CHAIN) == []


class TestFullViews:
    async def test_a_kept_view_is_read_back(self, unit_of_work: UnitsOfWork) -> None:
        """The wrapped view kept for a notice, and none for another."""
        async with unit_of_work() as uow:
            await uow.full_views.keep(CHAIN, "wrapped view")
        async with unit_of_work() as uow:
            assert await uow.full_views.get(CHAIN) == "wrapped view"
            assert await uow.full_views.get("00000000-0000-4000-8000-000000000009") is None

    async def test_a_failed_unit_of_work_keeps_no_view(self, unit_of_work: UnitsOfWork) -> None:
        """An exception inside the unit of work rolls the view back."""
        with pytest.raises(LookupError):  # noqa: PT012 - the failure must be inside the unit
            async with unit_of_work() as uow:
                await uow.full_views.keep(CHAIN, "wrapped view")
                raise LookupError("the service failed after keeping")
        async with unit_of_work() as uow:
            assert await uow.full_views.get(CHAIN) is None
