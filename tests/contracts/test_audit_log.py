"""The audit log port: what a unit of work appends is kept only if it commits."""

from datetime import UTC, datetime

import pytest

from broker.ports import AuditRecord
from tests.contracts.conftest import UnitsOfWork

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def entry(subject: str, n: int = 0) -> AuditRecord:
    return AuditRecord("notice_receipt", "inbox", subject, {"receipt": "viewed", "n": n})


class TestAuditLog:
    async def test_a_committed_entry_is_found_by_its_subject(
        self, unit_of_work: UnitsOfWork
    ) -> None:
        """An entry appended in a unit of work that commits is there afterwards."""
        async with unit_of_work() as uow:
            await uow.audit.append(entry("n-1"), AT)
        async with unit_of_work() as uow:
            assert await uow.audit.entries_for("n-1") == [entry("n-1")]

    async def test_entries_keep_their_order(self, unit_of_work: UnitsOfWork) -> None:
        """Entries appended together are read back in the order given, and only their
        subject's."""
        async with unit_of_work() as uow:
            await uow.audit.append_many([entry("n-2", 1), entry("other"), entry("n-2", 2)], AT)
        async with unit_of_work() as uow:
            assert await uow.audit.entries_for("n-2") == [entry("n-2", 1), entry("n-2", 2)]

    async def test_a_failed_unit_of_work_leaves_nothing(self, unit_of_work: UnitsOfWork) -> None:
        """An exception inside the unit of work rolls its entries back."""
        with pytest.raises(LookupError):  # noqa: PT012 - the failure must be inside the unit
            async with unit_of_work() as uow:
                await uow.audit.append(entry("n-3"), AT)
                raise LookupError("the service failed after appending")
        async with unit_of_work() as uow:
            assert await uow.audit.entries_for("n-3") == []

    async def test_entries_kept_are_appended_later_in_order(
        self, unit_of_work: UnitsOfWork
    ) -> None:
        """While kept, appends go to the given list (with their times), not to the log; the
        same unit of work appends them afterwards, in that order (a routing group's way)."""
        later = datetime(2026, 11, 30, 9, 5, tzinfo=UTC)
        kept: list[tuple[datetime, AuditRecord]] = []
        async with unit_of_work() as uow:
            with uow.audit.kept_in(kept):
                await uow.audit.append(entry("n-4", 1), AT)
                await uow.audit.append_many([entry("n-4", 2), entry("n-4", 3)], later)
                assert await uow.audit.entries_for("n-4") == []
            assert kept == [(AT, entry("n-4", 1)), (later, entry("n-4", 2)),
                            (later, entry("n-4", 3))]  # fmt: skip
            await uow.audit.append(entry("n-4", 0), AT)
            for at, record in kept:
                await uow.audit.append(record, at)
        async with unit_of_work() as uow:
            assert await uow.audit.entries_for("n-4") == [entry("n-4", n) for n in (0, 1, 2, 3)]
