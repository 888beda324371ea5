"""Who may read a household's chronology, and what a quoted reference finds, on the fakes:
a front door of an area the household lives in, lived in, or is moving to; nobody else;
every read and look-up audited."""

from datetime import UTC, datetime

import pytest

from broker.ports import AuditRecord, ChronologyLine, ChronologyNotice
from broker.pseudonyms import pseudonym
from broker.services import household_access, references
from broker.services.household_access import Refusal
from tests.fakes import FakeDataKeys, FakeUnitOfWork

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
SECRET = b"s" * 32
HOUSEHOLD = "hh-1"
LINE = ChronologyLine(at=AT, kind="event", event_id="e-1", event_type="ed_attendance",
                      source_org="acute-1")  # fmt: skip


def a_family() -> FakeUnitOfWork:
    """A household living in E1 that lived in E2; front doors of E1, E2, E3 and E4; a
    transfer notice to E4's front door; a school that is no front door."""
    uow = FakeUnitOfWork()
    uow.recipients.front_doors.update({"fd-e1": "E1", "fd-e2": "E2", "fd-e3": "E3",
                                       "fd-e4": "E4"})  # fmt: skip
    uow.recipients.areas[HOUSEHOLD] = {"E1", "E2"}
    uow.chronologies.lines[HOUSEHOLD] = [LINE]
    uow.chronologies.transfers.add(("fd-e4", HOUSEHOLD))
    return uow


async def read(uow: FakeUnitOfWork, caller: str, keys: FakeDataKeys | None = None) -> object:
    async with uow:
        return await household_access.read_chronology(uow, keys or FakeDataKeys(), SECRET,
                                                      caller, HOUSEHOLD, AT)  # fmt: skip


class TestReadChronology:
    @pytest.mark.parametrize(
        ("caller", "allowed"),
        [("fd-e1", True), ("fd-e2", True), ("fd-e4", True), ("fd-e3", False),
         ("school-1", False)],
    )  # fmt: skip
    async def test_who_may_read(self, caller: str, allowed: bool) -> None:
        """The front doors of its areas now and before, and the one it is moving to; not
        another area's, nor any organisation that is no front door."""
        answer = await read(a_family(), caller)
        assert answer == ([LINE] if allowed else Refusal.NOT_YOURS)

    async def test_every_read_is_audited(self) -> None:
        """A read names the caller and the household; a refusal its status and reason."""
        uow = a_family()
        await read(uow, "fd-e1")
        await read(uow, "fd-e3")
        assert await uow.audit.entries_for(HOUSEHOLD) == [
            AuditRecord("chronology_accessed", "fd-e1", HOUSEHOLD, {}),
            AuditRecord("access_refused", "fd-e3", HOUSEHOLD,
                        {"status": 403, "reason": Refusal.NOT_YOURS.value, "read": "chronology"}),
        ]  # fmt: skip

    async def test_a_shredded_household_is_gone_only_to_its_front_door(self) -> None:
        """Its own front door learns it was shredded; another still learns nothing."""
        keys = FakeDataKeys()
        keys.shred(pseudonym(SECRET, "household", HOUSEHOLD))
        assert await read(a_family(), "fd-e1", keys) == Refusal.SHREDDED
        assert await read(a_family(), "fd-e3", keys) == Refusal.NOT_YOURS


class TestLookUp:
    async def test_a_reference_finds_notices_only_where_the_caller_may_read(self) -> None:
        """The notices whose id starts as quoted, in households the caller may read; the
        look-up audited with how many it found."""
        uow = a_family()
        mine = ChronologyNotice("ab12cd34-0000-4000-8000-000000000001", HOUSEHOLD, "e-1",
                                "school-1:dsl", AT)  # fmt: skip
        elsewhere = ChronologyNotice("ab12cd34-0000-4000-8000-000000000002", "hh-2", "e-2",
                                     None, AT)  # fmt: skip
        uow.chronologies.notices += [mine, elsewhere]
        async with uow:
            found = await references.look_up(uow, "fd-e1", "AB12CD34-0000", AT)
        assert found == [mine]
        subject = "reference:AB12CD34-0000"
        assert await uow.audit.entries_for(subject) == [
            AuditRecord("notice_reference_looked_up", "fd-e1", subject, {"found": 1})
        ]
