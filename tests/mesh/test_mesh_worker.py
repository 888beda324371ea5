"""The MESH worker on the fakes (services/mesh_dispatch.py): what is queued, what is sent
(the sealed notice under the notice id), what a failure, an acknowledgement and a
non-delivery report each leave behind; a dead letter's replay queues the send again."""

from datetime import UTC, datetime, timedelta
from pathlib import Path
from uuid import uuid4

import pytest

from broker.adapters.kafka import Topics
from broker.keys import KeyStore
from broker.mesh_settings import SUBJECT, WORKFLOW_ID, MeshSettings
from broker.ports import MeshMessage, MeshSent, MeshTracking
from broker.services import inbox, mesh_dispatch
from producers import crypto
from schemas.notices import NoticeHeader, NoticeType, SealedNotice, Severity
from tests.fakes import FakeDataKeys, FakePublisher, FakeUnitOfWork

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
GP = "gp-1:safeguarding_lead"
SCHOOL = "school-1:key_adult"
MAILBOX = "X26GP0001"
TOPICS = Topics.with_prefix("t.")
ACCEPTED = MeshTracking("accepted")  # in the recipient's inbox, not downloaded yet
SETTINGS = MeshSettings(url="https://mesh.example", mailbox="X26SGB001", track_every_seconds=60)


class Transport:
    """MESH as the worker sees it: the answers given in turn, what was sent kept."""

    def __init__(self, *sends: MeshSent, tracking: MeshTracking = ACCEPTED):
        self.sends, self.tracking = list(sends), tracking
        self.sent: list[tuple[MeshMessage, bool]] = []

    async def send(self, message: MeshMessage, retry: bool) -> MeshSent:
        self.sent.append((message, retry))
        return self.sends.pop(0)

    async def track(self, message_id: str) -> MeshTracking:
        return self.tracking


class Clock:
    def __init__(self) -> None:
        self.now = NOW

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    return KeyStore.create(Path(tmp_path_factory.mktemp("keys")))


async def queued(uow: FakeUnitOfWork, recipient: str = GP) -> tuple[str, SealedNotice]:
    """A notice to ``recipient`` in the inbox, queued for MESH if it has a mailbox."""
    header = NoticeHeader(
        notice_id=uuid4(),
        event_id=uuid4(),
        household="h-1",
        recipient_id=recipient,
        recipient_org=recipient.split(":")[0],
        notice_type=NoticeType.GP_INFORMATION,
        severity=Severity.HIGH,
        created_at=NOW,
        deadline=NOW + timedelta(hours=72),
        recipient_key_id="k",
        signing_key_id="s",
    )
    sealed = SealedNotice(
        header=header.model_dump_json(), ciphertext=crypto.b64encode(b"c"), signature="sig"
    )
    uow.mesh.mailboxes[GP] = MAILBOX
    async with uow:
        await inbox.store(uow, [sealed], NOW, FakeDataKeys())
        await mesh_dispatch.enqueue(uow, [(header, "notices/0/1")], NOW)
    return str(header.notice_id), sealed


def worker(
    uow: FakeUnitOfWork,
    keys: KeyStore,
    transport: Transport,
    clock: Clock,
    publisher: FakePublisher | None = None,
) -> mesh_dispatch.MeshWorker:
    return mesh_dispatch.MeshWorker(
        lambda: uow,
        keys,
        FakeDataKeys(),
        publisher or FakePublisher(),
        TOPICS,
        SETTINGS,
        transport,
        clock=clock,
        jitter=lambda: 0.5,
    )


class TestEnqueue:
    async def test_only_a_contact_with_a_mailbox_is_queued(self) -> None:
        """A recipient without a MESH mailbox has its notice in the inbox alone."""
        uow = FakeUnitOfWork()
        await queued(uow, SCHOOL)
        assert await uow.mesh.due(NOW, 10) == []


class TestSend:
    async def test_the_sealed_notice_is_sent_under_its_id(self, keys: KeyStore) -> None:
        """The bytes a webhook receives, to the contact's mailbox, the notice id as the local
        id, the broker's workflow and a fixed subject; accepted, it is sent and tracked."""
        uow, transport = FakeUnitOfWork(), Transport(MeshSent("M1"))
        notice_id, sealed = await queued(uow)
        assert await worker(uow, keys, transport, Clock()).work_due() == 1

        [(message, retry)] = transport.sent
        assert message == MeshMessage(
            MAILBOX, sealed.model_dump_json().encode(), notice_id, WORKFLOW_ID, SUBJECT
        )
        assert not retry
        row = uow.mesh.row(notice_id)
        assert (row["state"], row["message_id"], row["sent_at"]) == ("sent", "M1", NOW)

    async def test_mesh_away_is_retried_as_a_retry(self, keys: KeyStore) -> None:
        """MESH not answering leaves the send pending with its error; the next attempt is
        flagged a retry, so the transport looks for an earlier accepted send first."""
        uow, clock = FakeUnitOfWork(), Clock()
        transport = Transport(MeshSent(None, "ConnectionError"), MeshSent("M1"))
        notice_id, _ = await queued(uow)
        mesh = worker(uow, keys, transport, clock)
        await mesh.work_due()
        assert (uow.mesh.row(notice_id)["state"], uow.mesh.row(notice_id)["last_error"]) == (
            "pending",
            "ConnectionError",
        )
        clock.now = NOW + timedelta(minutes=15)
        await mesh.work_due()
        assert [retry for _, retry in transport.sent] == [False, True]
        assert uow.mesh.row(notice_id)["state"] == "sent"

    async def test_a_refused_send_is_dead_lettered(self, keys: KeyStore) -> None:
        """MESH refusing the message (an unknown mailbox) is not retried: dead-lettered."""
        uow, publisher = FakeUnitOfWork(), FakePublisher()
        transport = Transport(MeshSent(None, "mesh_refused", transient=False))
        notice_id, _ = await queued(uow)
        await worker(uow, keys, transport, Clock(), publisher).work_due()
        assert uow.mesh.row(notice_id)["state"] == "dead"
        assert [m.topic for m in publisher.published] == [TOPICS.dead_letters]


class TestTracking:
    async def test_acknowledged_by_the_mailbox_is_the_transport_acknowledgement(
        self, keys: KeyStore
    ) -> None:
        """MESH tracking the message acknowledged settles the send as acknowledged."""
        uow, clock = FakeUnitOfWork(), Clock()
        transport = Transport(MeshSent("M1"), tracking=MeshTracking("acknowledged"))
        notice_id, _ = await queued(uow)
        mesh = worker(uow, keys, transport, clock)
        await mesh.work_due()
        clock.now = NOW + timedelta(minutes=2)
        await mesh.work_due()
        row = uow.mesh.row(notice_id)
        assert (row["state"], row["transport_acknowledged_at"]) == ("acknowledged", clock.now)

    async def test_a_non_delivery_report_dead_letters_and_a_replay_requeues(
        self, keys: KeyStore
    ) -> None:
        """MESH reporting it undeliverable dead-letters the send with the sealed notice;
        replaying the letter puts the send back from its first attempt."""
        uow, clock, publisher = FakeUnitOfWork(), Clock(), FakePublisher()
        transport = Transport(MeshSent("M1"), tracking=MeshTracking("undeliverable", "14"))
        notice_id, sealed = await queued(uow)
        mesh = worker(uow, keys, transport, clock, publisher)
        await mesh.work_due()
        clock.now = NOW + timedelta(minutes=2)
        await mesh.work_due()
        assert uow.mesh.row(notice_id)["last_error"] == "14"
        [letter] = publisher.published
        assert SealedNotice.model_validate_json(letter.value) == sealed
        async with uow:
            assert await mesh_dispatch.requeue(uow, notice_id, clock.now)
        assert (uow.mesh.row(notice_id)["state"], uow.mesh.row(notice_id)["attempts"]) == (
            "pending",
            0,
        )
