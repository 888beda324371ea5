"""The audit log's head: the chain's last committed entry, moving with every entry kept."""

from datetime import UTC, datetime, timedelta

import pytest

from broker.ports import AuditRecord
from tests.contracts.conftest import UnitsOfWork

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


def entry(n: int) -> AuditRecord:
    return AuditRecord("notice_read", "gp-1:lead", f"n-{n}", {})


class TestAuditHead:
    async def test_an_empty_log_has_no_head(self, unit_of_work: UnitsOfWork) -> None:
        """Nothing appended, nothing to anchor."""
        async with unit_of_work() as uow:
            assert await uow.audit.head() is None

    async def test_the_head_is_the_last_entry(self, unit_of_work: UnitsOfWork) -> None:
        """The head numbers the entries kept and moves, to a new hash, with the next one."""
        async with unit_of_work() as uow:
            await uow.audit.append_many([entry(1), entry(2)], AT)
        async with unit_of_work() as uow:
            first = await uow.audit.head()
            await uow.audit.append(entry(3), AT + timedelta(minutes=1))
        async with unit_of_work() as uow:
            second = await uow.audit.head()
        assert first is not None
        assert second is not None
        assert (first.seq, first.at, second.seq, second.at) == (2, AT, 3, AT + timedelta(minutes=1))
        assert first.hash != second.hash

    async def test_a_failed_unit_of_work_leaves_the_head(self, unit_of_work: UnitsOfWork) -> None:
        """Entries rolled back do not move the head."""
        async with unit_of_work() as uow:
            await uow.audit.append(entry(1), AT)
        async with unit_of_work() as uow:
            before = await uow.audit.head()
        with pytest.raises(LookupError):  # noqa: PT012 - the failure must be inside the unit
            async with unit_of_work() as uow:
                await uow.audit.append(entry(2), AT)
                raise LookupError("the service failed after appending")
        async with unit_of_work() as uow:
            assert await uow.audit.head() == before
