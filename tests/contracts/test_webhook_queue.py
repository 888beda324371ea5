"""The webhook queue's own contract, beside the retry queue's (test_retry_queue.py): each
recipient's earliest pending delivery due in turn, with its URL, and a dead one revived for a
replay."""

from datetime import UTC, datetime, timedelta

from broker.ports import WebhookQueued
from tests.contracts.conftest import UnitsOfWork

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
LATER = AT + timedelta(minutes=5)


def queued(n: int, recipient: str = "gp-1:lead", at: datetime = AT) -> WebhookQueued:
    return WebhookQueued(f"00000000-0000-4000-8000-{n:012d}", recipient, f"notices/0/{n}", at)


class TestWebhookQueue:
    async def test_each_recipients_earliest_delivery_is_due(
        self, unit_of_work: UnitsOfWork
    ) -> None:
        """One head per recipient, in the order queued, only once it is due, soonest first;
        a recipient with no webhook has no URL."""
        async with unit_of_work() as uow:
            tomorrow = LATER + timedelta(days=1)
            await uow.webhooks.enqueue([queued(1, at=LATER), queued(2), queued(3, "school-1"),
                                        queued(4, "la-1", at=tomorrow)])  # fmt: skip
        async with unit_of_work() as uow:
            heads = await uow.webhooks.due(LATER, limit=10)
            first = await uow.webhooks.due(LATER, limit=1)
        assert [(d.notice_id, d.recipient_id, d.attempts, d.url) for d in heads] == [
            (queued(3).notice_id, "school-1", 0, None),
            (queued(1).notice_id, "gp-1:lead", 0, None),
        ]
        assert heads[1].source == "notices/0/1"
        assert first == heads[:1]

    async def test_a_delivered_head_makes_way_for_the_next(self, unit_of_work: UnitsOfWork) -> None:
        """A recipient's next delivery is due once its earliest is delivered."""
        async with unit_of_work() as uow:
            await uow.webhooks.enqueue([queued(1), queued(2)])
        async with unit_of_work() as uow:
            [due] = await uow.webhooks.due(AT, limit=10)
        async with unit_of_work() as uow:
            claimed = await uow.webhooks.claim(due, LATER)
            assert claimed is not None
            assert await uow.webhooks.settle(claimed, {"state": "delivered", "finished_at": AT,
                                                       "last_status": 200})  # fmt: skip
        async with unit_of_work() as uow:
            [after] = await uow.webhooks.due(LATER, limit=10)
        assert after.notice_id == queued(2).notice_id

    async def test_only_a_dead_delivery_is_requeued(self, unit_of_work: UnitsOfWork) -> None:
        """A dead delivery is pending again from its first attempt; a pending one is not
        requeued, nor is an unknown notice."""
        async with unit_of_work() as uow:
            await uow.webhooks.enqueue([queued(1)])
        async with unit_of_work() as uow:
            [due] = await uow.webhooks.due(AT, limit=10)
            assert not await uow.webhooks.requeue(due.notice_id, LATER)
            dead = {"state": "dead", "attempts": 3, "finished_at": AT, "first_failed_at": AT,
                    "last_error": "Timeout"}  # fmt: skip
            await uow.webhooks.settle(due, dead)
        async with unit_of_work() as uow:
            assert await uow.webhooks.due(LATER, limit=10) == []
            assert await uow.webhooks.requeue(due.notice_id, LATER)
            assert not await uow.webhooks.requeue(queued(9).notice_id, LATER)
        async with unit_of_work() as uow:
            [again] = await uow.webhooks.due(LATER, limit=10)
        assert (again.notice_id, again.attempts, again.next_attempt_at) == (due.notice_id, 0, LATER)
