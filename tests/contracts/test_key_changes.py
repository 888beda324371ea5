"""The key changes port: changes held for a second administrator, marked approved or
withdrawn, listed while they await approval and by organisation, kept only if the unit of
work commits."""

from datetime import UTC, datetime, timedelta

import pytest

from broker.ports import KeyChangeView
from tests.contracts.conftest import UnitsOfWork

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def change(change_id: str, org_id: str = "school-a", minutes: int = 0) -> KeyChangeView:
    return KeyChangeView(id=change_id, entity="organisation", entity_id=org_id, org_id=org_id,
                         spec="{}", key_ids="k-1,k-2", requested_by="admin-a",
                         requested_at=AT + timedelta(minutes=minutes))  # fmt: skip


class TestKeyChanges:
    async def test_a_held_change_is_read_back_whole(self, unit_of_work: UnitsOfWork) -> None:
        """What was added is what is got, and an unknown id is None."""
        async with unit_of_work() as uow:
            await uow.key_changes.add(change("c-1"))
        async with unit_of_work() as uow:
            assert await uow.key_changes.get_for_update("c-1") == change("c-1")
            assert await uow.key_changes.get_for_update("c-2") is None

    async def test_approved_and_withdrawn_changes_no_longer_await(
        self, unit_of_work: UnitsOfWork
    ) -> None:
        """Only changes neither approved nor withdrawn, and recent enough, await, oldest first."""
        async with unit_of_work() as uow:
            for number in range(4):
                await uow.key_changes.add(change(f"c-{number}", minutes=number))
        async with unit_of_work() as uow:
            await uow.key_changes.mark_approved("c-1", "admin-b", AT + timedelta(hours=1))
            await uow.key_changes.mark_withdrawn("c-2", "admin-a", AT + timedelta(hours=1))
        async with unit_of_work() as uow:
            waiting = await uow.key_changes.awaiting(AT - timedelta(minutes=1))
            recent = await uow.key_changes.awaiting(AT)
            approved = await uow.key_changes.get_for_update("c-1")
        assert [c.id for c in waiting] == ["c-0", "c-3"]
        assert [c.id for c in recent] == ["c-3"]
        assert approved is not None
        assert (approved.approved_by, approved.approved_at) == ("admin-b", AT + timedelta(hours=1))

    async def test_an_organisation_sees_its_own_newest_first(
        self, unit_of_work: UnitsOfWork
    ) -> None:
        """Changes concerning one organisation, whatever became of them, newest first."""
        async with unit_of_work() as uow:
            await uow.key_changes.add(change("c-1", minutes=1))
            await uow.key_changes.add(change("c-2", minutes=2))
            await uow.key_changes.add(change("c-3", org_id="school-b"))
            await uow.key_changes.mark_approved("c-1", "admin-b", AT)
        async with unit_of_work() as uow:
            theirs = await uow.key_changes.concerning("school-a")
        assert [c.id for c in theirs] == ["c-2", "c-1"]

    async def test_a_failed_unit_of_work_holds_nothing(self, unit_of_work: UnitsOfWork) -> None:
        """A change added in a unit of work that fails is rolled back with it."""
        with pytest.raises(LookupError):  # noqa: PT012 - the failure must be inside the unit
            async with unit_of_work() as uow:
                await uow.key_changes.add(change("c-1"))
                raise LookupError("a later record was refused")
        async with unit_of_work() as uow:
            assert await uow.key_changes.get_for_update("c-1") is None
