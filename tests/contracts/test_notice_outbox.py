"""The outbox port: notices wait there until published, listed in publication order (oldest
first, then by id); taken out once published, and only if the unit of work commits."""

from datetime import timedelta

import pytest

from broker.ports import OutboxEntry
from tests.contracts.conftest import UnitsOfWork
from tests.contracts.test_notice_records import AT, LATER, record


def entry(n: int, created: timedelta = timedelta(0)) -> OutboxEntry:
    """Notice ``n``, recorded ``created`` after AT, as sealed for its recipient."""
    return OutboxEntry(record(n).notice_id, f"gp-{n}:lead", AT + created, f'{{"notice": {n}}}')


class TestNoticeOutbox:
    async def test_unpublished_in_publication_order(self, unit_of_work: UnitsOfWork) -> None:
        """Oldest first, then by notice id; those recorded after the moment wait."""
        later = entry(1, timedelta(minutes=1))
        async with unit_of_work() as uow:
            await uow.outbox.add([entry(3), later, entry(2), entry(4, timedelta(hours=2))])
        async with unit_of_work() as uow:
            found = await uow.outbox.unpublished(LATER, limit=10)
        assert found == [entry(2), entry(3), later]

    async def test_unpublished_at_most_the_limit(self, unit_of_work: UnitsOfWork) -> None:
        """The first ``limit`` in publication order, the rest for the next read."""
        async with unit_of_work() as uow:
            await uow.outbox.add([entry(n) for n in (5, 6, 7)])
        async with unit_of_work() as uow:
            assert await uow.outbox.unpublished(AT, limit=2) == [entry(5), entry(6)]

    async def test_unpublished_of_named_notices(self, unit_of_work: UnitsOfWork) -> None:
        """Of the notices named, those still waiting, in publication order; what the unit
        added itself included."""
        later = entry(8, timedelta(minutes=1))
        async with unit_of_work() as uow:
            await uow.outbox.add([later, entry(9), entry(10)])
            await uow.outbox.published([record(10).notice_id])
            named = [record(n).notice_id for n in (8, 9, 10, 11)]
            assert await uow.outbox.unpublished_of(named) == [entry(9), later]
        async with unit_of_work() as uow:
            assert await uow.outbox.unpublished_of(named) == [entry(9), later]
            assert await uow.outbox.unpublished_of([]) == []

    async def test_published_leaves_the_outbox(self, unit_of_work: UnitsOfWork) -> None:
        """A published notice leaves with its sealed copy; a second time, or a notice never
        added, is no matter."""
        async with unit_of_work() as uow:
            await uow.outbox.add([entry(12), entry(13)])
        async with unit_of_work() as uow:
            await uow.outbox.published([record(12).notice_id])
            assert await uow.outbox.unpublished(LATER, limit=10) == [entry(13)]
        async with unit_of_work() as uow:
            await uow.outbox.published([record(n).notice_id for n in (12, 13, 99)])
        async with unit_of_work() as uow:
            assert await uow.outbox.unpublished(LATER, limit=10) == []

    async def test_nothing_of_a_failed_unit_is_kept(self, unit_of_work: UnitsOfWork) -> None:
        """Taken out in a unit of work that fails, the notice stays; added in one, it never
        waits."""
        async with unit_of_work() as uow:
            await uow.outbox.add([entry(14)])
        with pytest.raises(LookupError):  # noqa: PT012 - the failure must be inside the unit
            async with unit_of_work() as uow:
                await uow.outbox.published([record(14).notice_id])
                await uow.outbox.add([entry(15)])
                raise LookupError("the publication failed after taking it out")
        async with unit_of_work() as uow:
            assert await uow.outbox.unpublished(LATER, limit=10) == [entry(14)]
