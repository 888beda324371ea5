"""The outbox on the fakes: a notice leaves the outbox only once Kafka has taken it, in
the relay's order (oldest first, then by id), keyed by its recipient's pseudonym; what
Kafka did not take stays for the relay."""

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from uuid import UUID

import pytest
from structlog.testing import capture_logs

from broker.ports import Message, OutboxEntry
from broker.services.outbox import RELAY_BATCH, Outbox
from producers.pseudonyms import pseudonym
from schemas.notices import NoticeHeader, NoticeType, Severity
from tests.fakes import FakePublisher, FakeUnitOfWork

AT = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
TOPIC = "notices"
SECRET = b"s" * 32
REPORT = Message("audit", b"k", b"an audit copy")


def notice_id(n: int) -> str:
    return str(UUID(int=n))


def record(n: int, created: timedelta = timedelta(0)) -> OutboxEntry:
    """Notice ``n`` recorded ``created`` after AT, waiting in the outbox in its sealed form."""
    return OutboxEntry(notice_id(n), f"gp-{n}:lead", AT + created, f"sealed {n}")


def message(n: int) -> Message:
    """Notice ``n`` on the notices topic, as the outbox publishes it."""
    return Message(TOPIC, pseudonym(SECRET, "recipient", f"gp-{n}:lead"), f"sealed {n}".encode())


def header(n: int, created: timedelta = timedelta(0)) -> NoticeHeader:
    return NoticeHeader(
        notice_id=UUID(int=n), event_id=UUID(int=0), household="h-1", recipient_id=f"gp-{n}:lead",
        recipient_org=f"gp-{n}", notice_type=NoticeType.GP_INFORMATION, severity=Severity.LOW,
        created_at=AT + created, deadline=AT + timedelta(days=3), recipient_key_id="k",
        signing_key_id="s",
    )  # fmt: skip


class KafkaDown:
    """A publisher whose every round trip fails, as when Kafka is away."""

    async def publish(self, messages: Sequence[Message]) -> None:
        raise ConnectionError("Kafka is away")


async def recorded(*entries: OutboxEntry) -> FakeUnitOfWork:
    uow = FakeUnitOfWork()
    async with uow:
        await uow.outbox.add(entries)
    return uow


def outbox(uow: FakeUnitOfWork, publisher: FakePublisher | KafkaDown) -> Outbox:
    return Outbox(lambda: uow, publisher, TOPIC, SECRET)


async def waiting(uow: FakeUnitOfWork, n: int) -> bool:
    """Whether notice ``n`` is still in the outbox."""
    return bool(await uow.outbox.unpublished_of([notice_id(n)]))


class TestPublish:
    async def test_publishes_the_unpublished_of_those_named(self) -> None:
        """Of the notices named, those still unpublished go out, oldest first, with the
        other records in the same round trip; each then leaves the outbox."""
        uow = await recorded(record(2, timedelta(minutes=1)), record(1), record(3))
        publisher = FakePublisher()
        async with uow:
            await uow.outbox.published([notice_id(3)])
        sent = await outbox(uow, publisher).publish(
            [notice_id(n) for n in (2, 3, 1, 9)], also=[REPORT]
        )
        assert (sent, publisher.published) == (2, [message(1), message(2), REPORT])
        assert not await waiting(uow, 2)

    async def test_with_no_notices_the_other_records_still_go(self) -> None:
        """Nothing to publish from the outbox: the other records go on their own."""
        publisher = FakePublisher()
        assert await outbox(FakeUnitOfWork(), publisher).publish([], also=[REPORT]) == 0
        assert publisher.published == [REPORT]

    async def test_kafka_away_leaves_the_notices_unpublished(self) -> None:
        """A round trip that fails takes nothing out: the relay sends them later."""
        uow = await recorded(record(1))
        with pytest.raises(ConnectionError):
            await outbox(uow, KafkaDown()).publish([notice_id(1)])
        assert await waiting(uow, 1)


class TestPublishSealed:
    async def test_publishes_as_sealed_then_takes_them_out(self) -> None:
        """The notices go out as sealed in memory, in the relay's order, with the other
        records; they then leave the outbox, and their sealed copies with them."""
        uow = await recorded(record(1), record(2))
        publisher = FakePublisher()
        sealed = [(header(2), message(2)), (header(1, timedelta(seconds=1)), message(1))]
        assert await outbox(uow, publisher).publish_sealed(sealed, also=[REPORT]) == 2
        assert publisher.published == [message(2), message(1), REPORT]
        assert [await waiting(uow, n) for n in (1, 2)] == [False, False]

    async def test_kafka_away_leaves_the_records_to_the_relay(self) -> None:
        """Kafka refusing the round trip: the notices stay in the outbox."""
        uow = await recorded(record(1))
        with pytest.raises(ConnectionError):
            await outbox(uow, KafkaDown()).publish_sealed([(header(1), message(1))])
        assert await waiting(uow, 1)


class TestSendSealedThenMark:
    async def test_sending_leaves_the_notices_waiting_until_marked(self) -> None:
        """``send_sealed`` publishes and answers the ids; the notices stay the relay's until
        ``take_out`` takes them out."""
        uow = await recorded(record(1), record(2))
        publisher = FakePublisher()
        sealed = [(header(2), message(2)), (header(1, timedelta(seconds=1)), message(1))]
        box = outbox(uow, publisher)
        ids = await box.send_sealed(sealed, also=[REPORT])
        assert publisher.published == [message(2), message(1), REPORT]
        assert await waiting(uow, 1)
        await box.take_out(ids)
        assert [await waiting(uow, n) for n in (1, 2)] == [False, False]


class TestRelay:
    async def test_relays_what_waited_longer_than_the_wait(self) -> None:
        """Notices recorded more than ``older_than`` ago go out; one just recorded is left
        to the instance about to publish it."""
        uow = await recorded(record(1), record(2, timedelta(seconds=58)))
        publisher = FakePublisher()
        sent = await outbox(uow, publisher).relay(AT + timedelta(minutes=1))
        assert (sent, publisher.published) == (1, [message(1)])
        assert await waiting(uow, 2)

    async def test_relays_more_than_a_batch(self) -> None:
        """The relay reads a batch at a time until nothing is left."""
        uow = await recorded(*(record(n) for n in range(RELAY_BATCH + 1)))
        publisher = FakePublisher()
        assert await outbox(uow, publisher).relay(AT + timedelta(minutes=1)) == RELAY_BATCH + 1
        assert len(publisher.published) == RELAY_BATCH + 1
        assert await uow.outbox.unpublished(AT, RELAY_BATCH) == []

    async def test_nothing_waiting_publishes_nothing(self) -> None:
        """An empty outbox costs no round trip to Kafka and logs nothing."""
        publisher = FakePublisher()
        with capture_logs() as logs:
            assert await outbox(FakeUnitOfWork(), publisher).relay(AT) == 0
        assert (publisher.published, logs) == ([], [])

    async def test_kafka_away_stops_the_relay_with_nothing_marked(self) -> None:
        """Kafka still away: the relay fails, and the notices wait for the next round."""
        uow = await recorded(record(1, -timedelta(minutes=5)))
        with pytest.raises(ConnectionError):
            await outbox(uow, KafkaDown()).relay(AT)
        assert await waiting(uow, 1)
