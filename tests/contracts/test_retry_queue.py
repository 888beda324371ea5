"""The retry queue port (``RetryQueue``), one contract for every queue on it (webhooks, alerts,
NHS MESH), each against its SQL adapter on SQLite and PostgreSQL and its in-memory fake: an
item queued once, due at its time, claimed by one worker only, settled only as it was read
(delivered, retried at a time, given up), and nothing left by a failed unit of work. What is
a queue's own (a webhook's per-recipient order, MESH's mailboxes, an alert's text) is in its
own contract file."""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from broker.delivery.retry import given_up, retrying
from broker.ports import AlertQueued, MeshQueued, RetryQueue, UnitOfWork, WebhookQueued
from tests.contracts.conftest import UnitsOfWork
from tests.contracts.test_alert_store import DEADLINE, seed_contact
from tests.contracts.test_mesh_queue import GP, seed_mailboxes

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
LATER = AT + timedelta(minutes=5)
LEASED = AT + timedelta(seconds=25)


def notice(n: int) -> str:
    return f"00000000-0000-4000-8000-{n:012d}"


async def nothing(uow: UnitOfWork) -> None:
    """A queue that reads nothing else to answer what is due."""


@dataclass(frozen=True)
class Subject:
    """One queue on the port: how to reach it, queue its n-th item, and what it calls done."""

    name: str
    queue: Callable[[UnitOfWork], RetryQueue[Any, Any]]
    item: Callable[[int, datetime], object]
    done: str  # its state for an item delivered
    seed: Callable[[UnitOfWork], Awaitable[None]] = nothing

    def __str__(self) -> str:
        return self.name


WEBHOOKS = Subject(
    "webhooks",
    lambda uow: uow.webhooks,
    # A recipient each: a webhook recipient's later deliveries wait for its earliest.
    lambda n, at: WebhookQueued(notice(n), f"gp-{n}:lead", f"notices/0/{n}", at),
    "delivered",
)
ALERTS = Subject(
    "alerts",
    lambda uow: uow.alerts,
    # Channel 1 need not exist: an alert to a removed channel is still due (and given up).
    lambda n, at: AlertQueued(notice(n), "new_notice", 1, "school-1:key_adult", DEADLINE, at, AT),
    "sent",
    seed_contact,
)
MESH = Subject(
    "mesh",
    lambda uow: uow.mesh,
    lambda n, at: MeshQueued(notice(n), GP, f"notices/0/{n}", at),
    "acknowledged",  # "sent" is MESH's acceptance: the message is still tracked
    seed_mailboxes,
)
SUBJECTS = [WEBHOOKS, ALERTS, MESH]


@pytest.fixture(params=SUBJECTS, ids=str)
def subject(request: pytest.FixtureRequest) -> Subject:
    chosen: Subject = request.param
    return chosen


async def queue_of(units: UnitsOfWork, subject: Subject, *items: tuple[int, datetime]) -> None:
    async with units() as uow:
        await subject.seed(uow)
        await subject.queue(uow).enqueue([subject.item(n, at) for n, at in items])


async def due(units: UnitsOfWork, subject: Subject, now: datetime, limit: int = 10) -> list[Any]:
    async with units() as uow:
        return await subject.queue(uow).due(now, limit)


class TestRetryQueue:
    async def test_an_item_is_queued_once(
        self, unit_of_work: UnitsOfWork, subject: Subject
    ) -> None:
        """Queued again, in the same batch or later, an item stays one."""
        async with unit_of_work() as uow:
            await subject.seed(uow)
            queue = subject.queue(uow)
            assert await queue.enqueue([subject.item(n, AT) for n in (1, 1, 2)]) == 2
        async with unit_of_work() as uow:
            assert await subject.queue(uow).enqueue([subject.item(n, AT) for n in (2, 3)]) == 1

    async def test_due_once_its_time_comes_soonest_first(
        self, unit_of_work: UnitsOfWork, subject: Subject
    ) -> None:
        """Not before its time; soonest first, as many as asked for, not yet tried."""
        await queue_of(unit_of_work, subject, (1, LATER), (2, AT))
        assert [d.notice_id for d in await due(unit_of_work, subject, AT)] == [notice(2)]
        later = await due(unit_of_work, subject, LATER)
        assert [(d.notice_id, d.state, d.attempts) for d in later] == [
            (notice(2), "pending", 0), (notice(1), "pending", 0)]  # fmt: skip
        assert await due(unit_of_work, subject, LATER, limit=1) == later[:1]

    async def test_a_claim_is_one_workers_until_its_lease_runs_out(
        self, unit_of_work: UnitsOfWork, subject: Subject
    ) -> None:
        """The first claim counts the attempt and leases the item; a second worker holding
        the same reading gets nothing; once the lease runs out it is due again."""
        await queue_of(unit_of_work, subject, (1, AT))
        [item] = await due(unit_of_work, subject, AT)
        async with unit_of_work() as uow:
            claimed = await subject.queue(uow).claim(item, LEASED)
            assert await subject.queue(uow).claim(item, LEASED) is None
        assert (claimed.attempts, claimed.next_attempt_at) == (1, LEASED)
        assert await due(unit_of_work, subject, LEASED - timedelta(seconds=1)) == []
        [again] = await due(unit_of_work, subject, LEASED)
        assert again == claimed

    async def test_settled_only_as_it_was_read(
        self, unit_of_work: UnitsOfWork, subject: Subject
    ) -> None:
        """A reading from before the claim moves nothing; the claim's own reading is retried
        once, due again at its time, keeping when it first failed."""
        await queue_of(unit_of_work, subject, (1, AT))
        [item] = await due(unit_of_work, subject, AT)
        async with unit_of_work() as uow:
            claimed = await subject.queue(uow).claim(item, LEASED)
            retry = retrying(claimed, LATER, "Timeout", AT)
            assert not await subject.queue(uow).settle(item, retry)
            assert await subject.queue(uow).settle(claimed, retry)
            assert not await subject.queue(uow).settle(claimed, retry)
        [again] = await due(unit_of_work, subject, LATER)
        assert (again.attempts, again.next_attempt_at, again.first_failed_at) == (1, LATER, AT)

    @pytest.mark.parametrize("end", ["done", "dead"])
    async def test_an_item_delivered_or_given_up_is_no_longer_due(
        self, unit_of_work: UnitsOfWork, subject: Subject, end: str
    ) -> None:
        """Delivered (in the queue's own word) or given up, it is never due again."""
        await queue_of(unit_of_work, subject, (1, AT))
        [item] = await due(unit_of_work, subject, AT)
        ended = (
            {"state": subject.done, "finished_at": AT}
            if end == "done"
            else given_up(item, "dead", "attempts_exhausted", AT)
        )
        async with unit_of_work() as uow:
            claimed = await subject.queue(uow).claim(item, LEASED)
            assert await subject.queue(uow).settle(claimed, ended)
        assert await due(unit_of_work, subject, AT + timedelta(days=30)) == []

    async def test_a_failed_unit_of_work_leaves_nothing(
        self, unit_of_work: UnitsOfWork, subject: Subject
    ) -> None:
        """An exception inside the unit of work rolls back what it queued."""
        with pytest.raises(LookupError):  # noqa: PT012 - the failure must be inside the unit
            async with unit_of_work() as uow:
                await subject.seed(uow)
                await subject.queue(uow).enqueue([subject.item(1, AT)])
                raise LookupError("the service failed after queueing")
        assert await due(unit_of_work, subject, LATER) == []

    async def test_next_due_is_the_earliest_open_item(
        self, unit_of_work: UnitsOfWork, subject: Subject
    ) -> None:
        """An idle worker waits until the earliest item still to be tried: none queued,
        none; then the soonest; a leased item at its lease's end; a delivered one never."""
        async with unit_of_work() as uow:
            assert await subject.queue(uow).next_due() is None
        await queue_of(unit_of_work, subject, (1, LATER), (2, AT))
        async with unit_of_work() as uow:
            assert await subject.queue(uow).next_due() == AT
        [item] = await due(unit_of_work, subject, AT)
        async with unit_of_work() as uow:
            claimed = await subject.queue(uow).claim(item, LEASED)
        async with unit_of_work() as uow:
            assert await subject.queue(uow).next_due() == LEASED
            await subject.queue(uow).settle(claimed, {"state": subject.done, "finished_at": AT})
        async with unit_of_work() as uow:
            assert await subject.queue(uow).next_due() == LATER
