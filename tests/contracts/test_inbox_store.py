"""The inbox store port: a notice kept once, listings by recipient and digest hold, in order,
and nothing kept from a unit of work that fails."""

from datetime import UTC, datetime, timedelta

import pytest

from broker.ports import InboxEntry
from tests.contracts.conftest import UnitsOfWork

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
DIGEST = datetime(2026, 12, 1, 7, 0, tzinfo=UTC)


def entry(
    n: int, recipient: str = "gp-1", held_until: datetime | None = None, minutes: int = 0
) -> InboxEntry:
    return InboxEntry(
        notice_id=f"00000000-0000-4000-8000-{n:012d}", recipient_id=recipient,
        header=f'{{"n": {n}}}', ciphertext=f"c{n}", signature=f"s{n}",
        deadline=AT + timedelta(days=1), held_until=held_until,
        delivered_at=AT + timedelta(minutes=minutes),
    )  # fmt: skip


class TestInboxStore:
    async def test_a_committed_notice_is_read_back_as_stored(
        self, unit_of_work: UnitsOfWork
    ) -> None:
        """A notice added in a unit of work that commits is found by its id, unchanged."""
        async with unit_of_work() as uow:
            assert await uow.inbox.add_new([entry(1)]) == {entry(1).notice_id}
        async with unit_of_work() as uow:
            assert await uow.inbox.get(entry(1).notice_id) == entry(1)

    async def test_a_notice_is_kept_once(self, unit_of_work: UnitsOfWork) -> None:
        """A notice delivered again, or twice in one batch, goes in once: the first copy."""
        again = entry(2, minutes=5)
        async with unit_of_work() as uow:
            assert await uow.inbox.add_new([entry(2), again]) == {entry(2).notice_id}
        async with unit_of_work() as uow:
            assert await uow.inbox.add_new([again, entry(3)]) == {entry(3).notice_id}
            assert await uow.inbox.get(entry(2).notice_id) == entry(2)

    async def test_an_unknown_notice_is_none(self, unit_of_work: UnitsOfWork) -> None:
        """A notice never stored is not found."""
        async with unit_of_work() as uow:
            assert await uow.inbox.get(entry(4).notice_id) is None

    async def test_released_lists_the_recipients_notices_oldest_first(
        self, unit_of_work: UnitsOfWork
    ) -> None:
        """The recipient's notices, by arrival then id: another recipient's and those still
        held for a later digest left out, one whose hold has ended included."""
        mine = [entry(7, minutes=2), entry(6, minutes=1), entry(5, minutes=1)]
        ended = entry(8, held_until=AT, minutes=3)
        async with unit_of_work() as uow:
            await uow.inbox.add_new([*mine, ended, entry(9, "school-1"),
                                     entry(10, held_until=DIGEST)])  # fmt: skip
        async with unit_of_work() as uow:
            listed = await uow.inbox.released("gp-1", AT)
        assert listed == [entry(5, minutes=1), entry(6, minutes=1), entry(7, minutes=2), ended]

    async def test_released_ids_are_released_s_ids(self, unit_of_work: UnitsOfWork) -> None:
        """The ids of the recipient's released notices, none held or of another recipient."""
        async with unit_of_work() as uow:
            await uow.inbox.add_new([entry(20), entry(21, held_until=AT), entry(22, "school-1"),
                                     entry(23, held_until=DIGEST)])  # fmt: skip
        async with unit_of_work() as uow:
            ids = await uow.inbox.released_ids("gp-1", AT)
        assert ids == {entry(20).notice_id, entry(21).notice_id}

    async def test_held_until_lists_one_digest(self, unit_of_work: UnitsOfWork) -> None:
        """The recipient's notices held for the digest released at that moment, no others."""
        held = [entry(11, held_until=DIGEST, minutes=1), entry(12, held_until=DIGEST)]
        async with unit_of_work() as uow:
            await uow.inbox.add_new([*held, entry(13), entry(14, "school-1", DIGEST),
                                     entry(15, held_until=DIGEST + timedelta(days=1))])  # fmt: skip
        async with unit_of_work() as uow:
            assert await uow.inbox.held_until("gp-1", DIGEST) == [held[1], held[0]]

    async def test_a_failed_unit_of_work_leaves_nothing(self, unit_of_work: UnitsOfWork) -> None:
        """An exception inside the unit of work rolls its notices back."""
        with pytest.raises(LookupError):  # noqa: PT012 - the failure must be inside the unit
            async with unit_of_work() as uow:
                await uow.inbox.add_new([entry(16)])
                raise LookupError("the service failed after storing")
        async with unit_of_work() as uow:
            assert await uow.inbox.get(entry(16).notice_id) is None
