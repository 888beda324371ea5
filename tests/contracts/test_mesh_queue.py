"""The MESH queue's own contract, beside the retry queue's (test_retry_queue.py): only a
contact with a MESH mailbox is queued, once per notice; a send due is read with its mailbox,
tracked once sent, and a dead one revived for a replay."""

from datetime import UTC, datetime, timedelta

from broker.ports import MeshQueued, UnitOfWork
from tests.contracts.conftest import UnitsOfWork

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
LATER = AT + timedelta(minutes=5)
GP, SCHOOL, MAILBOX = "gp-1:safeguarding_lead", "school-1:key_adult", "X26GP0001"


def queued(n: int, recipient: str = GP, at: datetime = AT) -> MeshQueued:
    return MeshQueued(f"00000000-0000-4000-8000-{n:012d}", recipient, f"notices/0/{n}", at)


async def directory(unit_of_work: UnitsOfWork) -> None:
    async with unit_of_work() as uow:
        await seed_mailboxes(uow)


async def seed_mailboxes(uow: UnitOfWork) -> None:
    """A GP's lead with a MESH mailbox, a school's key adult without one."""
    rows = uow.directory_rows
    await rows.insert("organisations", [
        {"id": "gp-1", "name": "GP", "kind": "gp_practice", "area": "E09000001",
         "ods_code": "Y00001"},
        {"id": "school-1", "name": "School", "kind": "school", "area": "E09000001",
         "ods_code": None},
    ])  # fmt: skip
    await rows.insert("contacts", [
        {"id": GP, "org_id": "gp-1", "role": "safeguarding_lead", "hpke_public_key": "k",
         "key_id": "k", "mesh_mailbox": MAILBOX},
        {"id": SCHOOL, "org_id": "school-1", "role": "key_adult", "hpke_public_key": "k",
         "key_id": "k", "mesh_mailbox": None},
    ])  # fmt: skip


class TestMeshQueue:
    async def test_only_a_contact_with_a_mailbox_is_queued_once(
        self, unit_of_work: UnitsOfWork
    ) -> None:
        """A notice to a contact with a mailbox is queued once however often it comes; one
        to a contact without is not queued at all."""
        await directory(unit_of_work)
        async with unit_of_work() as uow:
            assert await uow.mesh.enqueue([queued(1), queued(1), queued(2, SCHOOL)]) == 1
        async with unit_of_work() as uow:
            assert await uow.mesh.enqueue([queued(1), queued(3)]) == 1
            assert await uow.mesh.enqueue([]) == 0

    async def test_a_due_send_is_read_with_its_mailbox(self, unit_of_work: UnitsOfWork) -> None:
        """Due once its time comes, soonest first, with the contact's mailbox."""
        await directory(unit_of_work)
        async with unit_of_work() as uow:
            await uow.mesh.enqueue([queued(1, at=LATER), queued(2)])
        async with unit_of_work() as uow:
            now = await uow.mesh.due(AT, limit=10)
            later = await uow.mesh.due(LATER, limit=10)
        assert [(d.notice_id, d.state, d.attempts, d.mailbox) for d in now] == [
            (queued(2).notice_id, "pending", 0, MAILBOX)
        ]
        assert [d.notice_id for d in later] == [queued(2).notice_id, queued(1).notice_id]

    async def test_a_sent_message_is_due_again_for_tracking(
        self, unit_of_work: UnitsOfWork
    ) -> None:
        """Settled as sent, a message is due again at its tracking time, with MESH's id."""
        await directory(unit_of_work)
        async with unit_of_work() as uow:
            await uow.mesh.enqueue([queued(1)])
        async with unit_of_work() as uow:
            [due] = await uow.mesh.due(AT, limit=10)
        sent = {"state": "sent", "message_id": "M1", "sent_at": AT, "next_attempt_at": LATER}
        async with unit_of_work() as uow:
            assert await uow.mesh.settle(due, sent)
        async with unit_of_work() as uow:
            [tracked] = await uow.mesh.due(LATER, limit=10)
        assert (tracked.state, tracked.message_id, tracked.sent_at) == ("sent", "M1", AT)

    async def test_only_a_dead_send_is_requeued(self, unit_of_work: UnitsOfWork) -> None:
        """A dead send is pending again from its first attempt, MESH's id forgotten; a
        pending one is not requeued, nor is an unknown notice."""
        await directory(unit_of_work)
        async with unit_of_work() as uow:
            await uow.mesh.enqueue([queued(1)])
        async with unit_of_work() as uow:
            [due] = await uow.mesh.due(AT, limit=10)
            assert not await uow.mesh.requeue(due.notice_id, LATER)
            await uow.mesh.settle(due, {"state": "dead", "attempts": 2, "message_id": "M1",
                                        "finished_at": AT, "last_error": "14"})  # fmt: skip
        async with unit_of_work() as uow:
            assert await uow.mesh.due(LATER, limit=10) == []
            assert await uow.mesh.requeue(due.notice_id, LATER)
            assert not await uow.mesh.requeue(queued(9).notice_id, LATER)
        async with unit_of_work() as uow:
            [again] = await uow.mesh.due(LATER, limit=10)
        assert (again.attempts, again.message_id, again.next_attempt_at) == (0, None, LATER)
