"""The router against the real Kafka broker and database: unreadable events go to the
dead-letter topic, unknown people to the front door, and a repeated event is routed once."""

import asyncio
import json
import uuid
from datetime import UTC, datetime

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy import func, select

from broker.adapters import db
from broker.bootstrap import Runtime
from broker.demo import family
from producers.sdk import EventPublisher
from schemas.events import EdAttendance, PersonRef

pytestmark = pytest.mark.integration


def attendance(subject: PersonRef) -> EdAttendance:
    now = datetime.now(UTC)
    return EdAttendance(
        event_type="ed_attendance", event_id=uuid.uuid4(), source_org="acute-demo",
        occurred_at=now, subject=subject, arrived_at=now,
        presenting_category="ingestion_or_poisoning",
    )  # fmt: skip


async def read_topic(rt: Runtime, topic: str, count: int, timeout: float = 30) -> list[bytes]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=rt.settings.kafka_bootstrap_servers,
                                auto_offset_reset="earliest", enable_auto_commit=False)  # fmt: skip
    await consumer.start()
    values: list[bytes] = []
    try:
        async with asyncio.timeout(timeout):
            while len(values) < count:
                batches = await consumer.getmany(timeout_ms=500)
                values += [r.value for part in batches.values() for r in part]
    finally:
        await consumer.stop()
    return values


async def routed(rt: Runtime) -> tuple[int, int]:
    async with rt.sessions() as session:
        events = await session.scalar(select(func.count(db.RoutedEvent.event_id)))
        notices = await session.scalar(select(func.count(db.InboxNotice.notice_id)))
    return events or 0, notices or 0


async def until_routed(rt: Runtime, events: int, timeout: float = 30) -> int:
    async with asyncio.timeout(timeout):
        while (await routed(rt))[0] < events:
            await asyncio.sleep(0.2)
    return (await routed(rt))[1]


class TestRouter:
    async def test_unreadable_event_goes_to_dead_letters(self, running_broker: Runtime) -> None:
        """A record that is not a sealed event is dead-lettered with its reason, not lost."""
        producer = AIOKafkaProducer(
            bootstrap_servers=running_broker.settings.kafka_bootstrap_servers
        )
        await producer.start()
        await producer.send_and_wait(running_broker.topics.events, b"{not json", key=b"k")
        await producer.stop()
        [letter] = await read_topic(running_broker, running_broker.topics.dead_letters, 1)
        assert json.loads(letter)["reason"] == "ValidationError"

    async def test_event_sealed_to_another_broker_key_goes_to_dead_letters(
        self, running_broker: Runtime
    ) -> None:
        """An event the broker cannot open is dead-lettered as an envelope failure."""
        from broker.keys import KeyStore

        stranger = KeyStore.create(running_broker.settings.keys_dir.parent / "stranger")
        async with EventPublisher(running_broker.settings.kafka_bootstrap_servers, stranger.public,
                                  stranger.pseudonym_secret,
                                  running_broker.settings.topic_prefix) as sdk:  # fmt: skip
            await sdk.publish(attendance(family.person(family.TWIN_1)))
        [letter] = await read_topic(running_broker, running_broker.topics.dead_letters, 1)
        assert json.loads(letter)["reason"] == "DecryptionFailed"

    async def test_unknown_person_goes_to_the_front_door(self, running_broker: Runtime) -> None:
        """An event about someone the directory does not know is held at the front door."""
        async with self._sdk(running_broker) as sdk:
            await sdk.publish(attendance(PersonRef(nhs_number="9990000360", given_name="Ada")))
        assert await until_routed(running_broker, 1) == 1
        async with running_broker.sessions() as session:
            [notice] = (await session.scalars(select(db.InboxNotice))).all()
        assert notice.recipient_id == "la-front-door:duty_manager"
        assert "unmatched_person" in notice.header

    async def test_repeated_event_is_routed_once(self, running_broker: Runtime) -> None:
        """The same event published twice yields one set of notices."""
        event = attendance(family.person(family.TWIN_1))
        async with self._sdk(running_broker) as sdk:
            await sdk.publish(event)
            await sdk.publish(event)
        first = await until_routed(running_broker, 1)
        await asyncio.sleep(2)  # time for the second copy to be consumed
        assert first == 3  # GP, health visiting and front door: ingestion under five
        assert await routed(running_broker) == (1, 3)

    @staticmethod
    def _sdk(rt: Runtime) -> EventPublisher:
        return EventPublisher(rt.settings.kafka_bootstrap_servers, rt.keys.public,
                              rt.keys.pseudonym_secret, rt.settings.topic_prefix)  # fmt: skip
