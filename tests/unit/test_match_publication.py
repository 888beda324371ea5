"""The router's timer publishing a matched event again, on the fakes: the producer's event
sealed anew under a header stamped with the time of the match, published once however many
timers run, and handed back when Kafka refuses it."""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from broker.adapters.data_keys import FileDataKeys
from broker.demo import family
from broker.errors import PublishFailed
from broker.keys import KeyStore
from broker.ports import Message, Publisher
from broker.services import matching
from broker.services.match_publication import MatchPublication
from producers.envelopes import open_event, seal_event, sign_event
from schemas.events import EdAttendance
from schemas.transport import EventHeader, SealedEvent
from tests.fakes import FakePublisher, FakeUnitOfWork, QueueEntry

OCCURRED = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
MATCHED = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
TOPIC = "events"


class RefusingPublisher:
    async def publish(self, messages: Sequence[Message]) -> None:
        raise PublishFailed("Kafka did not acknowledge")


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> KeyStore:
    return KeyStore.create(tmp_path_factory.mktemp("keys"))


def attendance() -> EdAttendance:
    return EdAttendance(
        event_type="ed_attendance", event_id=uuid.uuid4(), source_org="acute-demo",
        occurred_at=OCCURRED, subject=family.person(family.MOTHER), arrived_at=OCCURRED,
        presenting_category="ingestion_or_poisoning",
    )  # fmt: skip


def queued(keys: KeyStore, event: EdAttendance, status: str = "accepted") -> QueueEntry:
    header = EventHeader(event_id=event.event_id, source_org=event.source_org,
                         broker_key_id=keys.public.hpke_key_id)  # fmt: skip
    sealed = seal_event(sign_event(event, Ed25519PrivateKey.generate()), header, keys.public.hpke)
    matched = MATCHED if status == "accepted" else None
    return QueueEntry(str(event.event_id), sealed.model_dump_json(), status, None, matched)


def timer(
    uow: FakeUnitOfWork, keys: KeyStore, publisher: Publisher | None = None
) -> MatchPublication:
    return MatchPublication(lambda: uow, keys, publisher or FakePublisher(), TOPIC)


def in_queue(uow: FakeUnitOfWork, entry: QueueEntry) -> None:
    uow.matched_events.committed[entry.event_id] = entry


def status(uow: FakeUnitOfWork, event_id: str) -> str:
    entry = uow.matched_events.committed[event_id]
    assert isinstance(entry, QueueEntry)
    return entry.status


class TestPublish:
    async def test_the_event_is_sealed_again_received_at_its_match(self, keys: KeyStore) -> None:
        """The published event opens to the producer's signed event unchanged, under a header
        received at the time of the match."""
        uow, publisher, event = FakeUnitOfWork(), FakePublisher(), attendance()
        in_queue(uow, queued(keys, event))
        await timer(uow, keys, publisher).publish(str(event.event_id))
        [message] = publisher.published
        header, signed = open_event(SealedEvent.model_validate_json(message.value), keys.hpke)
        assert (message.topic, header.received_at, signed.event()) == (TOPIC, MATCHED, event)

    async def test_a_published_event_waits_for_the_router(self, keys: KeyStore) -> None:
        """Once Kafka has it, the entry is routing, no longer for the timer to publish."""
        uow, event = FakeUnitOfWork(), attendance()
        in_queue(uow, queued(keys, event))
        publication = timer(uow, keys)
        await publication.publish(str(event.event_id))
        assert (status(uow, str(event.event_id)), await publication.accepted()) == ("routing", [])

    async def test_an_event_is_published_once(self, keys: KeyStore) -> None:
        """A second timer publishing the same entry publishes nothing."""
        uow, publisher, event = FakeUnitOfWork(), FakePublisher(), attendance()
        in_queue(uow, queued(keys, event))
        first = await timer(uow, keys, publisher).publish(str(event.event_id))
        second = await timer(uow, keys, publisher).publish(str(event.event_id))
        assert (first, second, len(publisher.published)) == (str(event.event_id), None, 1)

    async def test_a_refused_publication_is_tried_next_round(self, keys: KeyStore) -> None:
        """Kafka refusing the event stops the round and leaves the entry accepted."""
        uow, event = FakeUnitOfWork(), attendance()
        in_queue(uow, queued(keys, event))
        with pytest.raises(PublishFailed):
            await timer(uow, keys, RefusingPublisher()).publish(str(event.event_id))
        assert status(uow, str(event.event_id)) == "accepted"


class TestKeepPeople:
    async def test_the_people_are_kept_for_the_front_door(
        self, keys: KeyStore, tmp_path: Path
    ) -> None:
        """An entry parked without its people gets them, wrapped under its own data key."""
        uow, event, data_keys = FakeUnitOfWork(), attendance(), FileDataKeys(tmp_path)
        in_queue(uow, queued(keys, event, status="waiting"))
        publication = timer(uow, keys)
        assert await publication.unkept() == [str(event.event_id)]
        await publication.keep_people(str(event.event_id), data_keys)
        entry = uow.matched_events.committed[str(event.event_id)]
        assert isinstance(entry, QueueEntry)
        people = matching.people_of(entry, data_keys)
        assert (people.source_org, people.people) == ("acute-demo", [event.subject])

    async def test_people_already_kept_are_left(self, keys: KeyStore, tmp_path: Path) -> None:
        """An entry whose people are kept is not listed, and keeping them again does nothing."""
        uow, event = FakeUnitOfWork(), attendance()
        entry = queued(keys, event, status="waiting")
        entry.people = "kept"
        in_queue(uow, entry)
        publication = timer(uow, keys)
        kept = await publication.keep_people(str(event.event_id), FileDataKeys(tmp_path))
        assert (await publication.unkept(), kept) == ([], None)
