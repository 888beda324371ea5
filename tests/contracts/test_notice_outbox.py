"""The outbox port: notice records are unpublished until marked, listed in publication order
(oldest first, then by id), and marking one published drops its sealed copy, once."""

from dataclasses import replace
from datetime import timedelta

import pytest

from broker.ports import NoticeRecordView, OutboxEntry
from tests.contracts.conftest import UnitsOfWork
from tests.contracts.test_notice_records import AT, LATER, record


def sealed(n: int, created: timedelta = timedelta(0)) -> NoticeRecordView:
    """Record ``n``, recorded ``created`` after AT, holding its own sealed notice."""
    return replace(record(n, recipient=f"gp-{n}:lead"), created_at=AT + created,
                   sealed=f'{{"notice": {n}}}')  # fmt: skip


def entry(n: int) -> OutboxEntry:
    return OutboxEntry(record(n).notice_id, f"gp-{n}:lead", f'{{"notice": {n}}}')


class TestNoticeOutbox:
    async def test_unpublished_in_publication_order(self, unit_of_work: UnitsOfWork) -> None:
        """Oldest record first, then by notice id; those recorded after the moment wait."""
        async with unit_of_work() as uow:
            await uow.notice_records.add([sealed(3), sealed(1, timedelta(minutes=1)), sealed(2),
                                          sealed(4, timedelta(hours=2))])  # fmt: skip
        async with unit_of_work() as uow:
            found = await uow.outbox.unpublished(LATER, limit=10)
        assert found == [entry(2), entry(3), entry(1)]

    async def test_unpublished_at_most_the_limit(self, unit_of_work: UnitsOfWork) -> None:
        """The first ``limit`` in publication order, the rest for the next read."""
        async with unit_of_work() as uow:
            await uow.notice_records.add([sealed(n) for n in (5, 6, 7)])
        async with unit_of_work() as uow:
            assert await uow.outbox.unpublished(AT, limit=2) == [entry(5), entry(6)]

    async def test_unpublished_of_named_notices(self, unit_of_work: UnitsOfWork) -> None:
        """Of the notices named, those recorded and unpublished, in publication order."""
        async with unit_of_work() as uow:
            await uow.notice_records.add([sealed(8, timedelta(minutes=1)), sealed(9), sealed(10)])
            await uow.outbox.mark_published([record(10).notice_id], AT)
        named = [record(n).notice_id for n in (8, 9, 10, 11)]
        async with unit_of_work() as uow:
            assert await uow.outbox.unpublished_of(named) == [entry(9), entry(8)]
            assert await uow.outbox.unpublished_of([]) == []

    async def test_marked_published_drops_the_sealed_copy(self, unit_of_work: UnitsOfWork) -> None:
        """A published record keeps no sealed copy and leaves the outbox; a second mark
        leaves its first time as it was."""
        async with unit_of_work() as uow:
            await uow.notice_records.add([sealed(12), sealed(13)])
        async with unit_of_work() as uow:
            await uow.outbox.mark_published([record(12).notice_id], AT)
            assert await uow.outbox.unpublished(LATER, limit=10) == [entry(13)]
        async with unit_of_work() as uow:
            await uow.outbox.mark_published([record(12).notice_id, record(13).notice_id], LATER)
        async with unit_of_work() as uow:
            kept = await uow.notice_records.of([record(12).notice_id, record(13).notice_id])
            assert await uow.outbox.unpublished(LATER, limit=10) == []
        assert kept[record(12).notice_id] == replace(sealed(12), published_at=AT, sealed="")
        assert kept[record(13).notice_id] == replace(sealed(13), published_at=LATER, sealed="")

    async def test_a_mark_in_a_failed_unit_is_not_kept(self, unit_of_work: UnitsOfWork) -> None:
        """Marked in a unit of work that fails, the notice stays in the outbox."""
        async with unit_of_work() as uow:
            await uow.notice_records.add([sealed(14)])
        with pytest.raises(LookupError):  # noqa: PT012 - the failure must be inside the unit
            async with unit_of_work() as uow:
                await uow.outbox.mark_published([record(14).notice_id], AT)
                raise LookupError("the publication failed after marking")
        async with unit_of_work() as uow:
            assert await uow.outbox.unpublished_of([record(14).notice_id]) == [entry(14)]
