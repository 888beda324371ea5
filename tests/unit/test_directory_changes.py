"""The directory's change log, on the fakes: each change recorded once, with its audit entry,
naming fields and never their values; listed newest first."""

from datetime import UTC, datetime

import pytest

from broker.ports import AuditRecord, DirectoryChangeEntry
from broker.services import directory_changes
from tests.fakes import FakeUnitOfWork

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


class TestRecord:
    async def test_a_change_is_logged_for_the_projection(self) -> None:
        """The change log holds the record's kind, id, action, author and field names."""
        uow = FakeUnitOfWork()
        async with uow:
            await directory_changes.record(uow, "admin", "contact", "c-1", "updated",
                                           ["email"], at=AT)  # fmt: skip
        async with uow:
            logged = await uow.directory_rows.changes_for("contact", "c-1")
        assert logged == [DirectoryChangeEntry(AT, "admin", "contact", "c-1", "updated",
                                               ("email",))]  # fmt: skip

    async def test_a_change_is_audited_against_its_record(self) -> None:
        """By default the audit entry names the record as ``kind:id``, the action, the fields."""
        uow = FakeUnitOfWork()
        async with uow:
            await directory_changes.record(uow, "admin", "plan", "pl-1", "created",
                                           ["kind", "owners"], at=AT)  # fmt: skip
        expected = AuditRecord("directory_changed", "admin", "plan:pl-1",
                               {"action": "created", "fields": "kind,owners"})  # fmt: skip
        assert uow.audit.committed == [(expected, AT)]

    async def test_a_change_may_say_more_in_its_audit_entry(self) -> None:
        """A change with its own audit entry (a match) is audited with that entry only."""
        uow = FakeUnitOfWork()
        own = AuditRecord("directory_changed", "fd-1", "p-1", {"action": "matched"})
        async with uow:
            await directory_changes.record(uow, "fd-1", "person", "p-1", "matched", ["alias"],
                                           at=AT, audited=own)  # fmt: skip
        assert uow.audit.committed == [(own, AT)]

    async def test_a_failed_unit_of_work_records_nothing(self) -> None:
        """The change and its audit entry go with the write that failed."""
        uow = FakeUnitOfWork()
        with pytest.raises(LookupError):  # noqa: PT012 - the failure must be inside the unit
            async with uow:
                await directory_changes.record(uow, "admin", "contact", "c-1", "deleted", [])
                raise LookupError("the write after the change failed")
        async with uow:
            assert await directory_changes.list_changes(uow, 10) == []
        assert uow.audit.committed == []


class TestListChanges:
    async def test_the_newest_changes_come_first(self) -> None:
        """The listing is the newest ``limit`` changes, newest first."""
        uow = FakeUnitOfWork()
        async with uow:
            for contact in ("c-1", "c-2", "c-3"):
                await directory_changes.record(uow, "admin", "contact", contact, "created",
                                               ["email"], at=AT)  # fmt: skip
        async with uow:
            listed = await directory_changes.list_changes(uow, 2)
        assert [change.entity_id for change in listed] == ["c-3", "c-2"]
