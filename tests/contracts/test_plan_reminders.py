"""A step-down plan's review reminder: scheduled with its step-down notice, due from its
time, claimed by one timer, and recorded with the notice it went out as."""

from datetime import timedelta

import pytest

from broker.ports import PlanReminder
from tests.contracts.conftest import UnitsOfWork
from tests.contracts.test_notice_records import AT

HOUR = timedelta(hours=1)


def notice(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


class TestPlanReminders:
    async def test_due_reminders_soonest_first(self, unit_of_work: UnitsOfWork) -> None:
        """Reminders due by now, soonest first, then by notice; one not yet due waits."""
        async with unit_of_work() as uow:
            await uow.plan_reminders.schedule(notice(1), AT - HOUR)
            await uow.plan_reminders.schedule(notice(2), AT - 2 * HOUR)
            await uow.plan_reminders.schedule(notice(3), AT - HOUR)
            await uow.plan_reminders.schedule(notice(4), AT + HOUR)
        async with unit_of_work() as uow:
            assert await uow.plan_reminders.due(AT, 10) == [notice(2), notice(1), notice(3)]
            assert await uow.plan_reminders.due(AT, 1) == [notice(2)]

    async def test_a_reminder_is_claimed_once(self, unit_of_work: UnitsOfWork) -> None:
        """The first claim marks it sent; a second, or one of no reminder, fails."""
        async with unit_of_work() as uow:
            await uow.plan_reminders.schedule(notice(5), AT - HOUR)
        async with unit_of_work() as uow:
            assert await uow.plan_reminders.claim(notice(5), AT)
        async with unit_of_work() as uow:
            assert not await uow.plan_reminders.claim(notice(5), AT)
            assert not await uow.plan_reminders.claim(notice(6), AT)
            assert await uow.plan_reminders.due(AT, 10) == []
            assert await uow.plan_reminders.get(notice(5)) == PlanReminder(
                notice(5), AT - HOUR, sent_at=AT)  # fmt: skip

    async def test_the_reminder_sent_is_recorded(self, unit_of_work: UnitsOfWork) -> None:
        """The notice it went out as is kept with it; no reminder, none read back."""
        async with unit_of_work() as uow:
            await uow.plan_reminders.schedule(notice(7), AT - HOUR)
        async with unit_of_work() as uow:
            assert await uow.plan_reminders.claim(notice(7), AT)
            await uow.plan_reminders.sent_as(notice(7), notice(8))
        async with unit_of_work() as uow:
            assert await uow.plan_reminders.get(notice(7)) == PlanReminder(
                notice(7), AT - HOUR, AT, notice(8))  # fmt: skip
            assert await uow.plan_reminders.get(notice(8)) is None

    async def test_a_failed_unit_schedules_nothing(self, unit_of_work: UnitsOfWork) -> None:
        """An exception inside the unit of work rolls the reminder back."""
        with pytest.raises(LookupError):  # noqa: PT012 - the failure must be inside the unit
            async with unit_of_work() as uow:
                await uow.plan_reminders.schedule(notice(9), AT - HOUR)
                raise LookupError("sealing failed after scheduling")
        async with unit_of_work() as uow:
            assert await uow.plan_reminders.get(notice(9)) is None
