"""The router against the real Kafka broker and database: unreadable events go to the
dead-letter topic, unknown people to the front door, and a repeated event is routed once."""

import asyncio
import base64
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from support import clear_of_the_front_doors_opening_or_closing, front_door_closed

from broker.adapters import audit, db
from broker.adapters.dead_letter_topic import DeadLetter, read_all
from broker.bootstrap import Runtime
from broker.demo import family
from broker.keys import KeyStore
from producers.envelopes import seal_event, sign_event
from producers.sdk import EventPublisher
from schemas.events import EdAttendance, PersonRef
from schemas.transport import EventHeader

pytestmark = pytest.mark.integration

Keys = dict[str, Ed25519PrivateKey]


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
    """Events routed, and their notices in an inbox (not their follow-ups: see
    db.routing_progress)."""
    async with rt.sessions() as session:
        done = await db.routing_progress(session)
    return done.events, done.stored


async def until_routed(rt: Runtime, events: int, timeout: float = 30) -> int:
    """Waits until the events are routed and every notice they produced is in an inbox."""
    async with asyncio.timeout(timeout):
        while True:
            async with rt.sessions() as session:
                done = await db.routing_progress(session)
            if done.events >= events and done.produced == done.stored:
                return done.stored
            await asyncio.sleep(0.2)


class TestRouter:
    async def test_unreadable_event_goes_to_dead_letters(self, running_broker: Runtime) -> None:
        """A record that is not a sealed event is dead-lettered with its reason, not lost."""
        producer = AIOKafkaProducer(
            bootstrap_servers=running_broker.settings.kafka_bootstrap_servers
        )
        await producer.start()
        await producer.send_and_wait(running_broker.topics.events, b"{not json", key=b"k")
        await producer.stop()
        [letter] = await dead_letters(running_broker, 1)
        assert (letter.reason_name, letter.value) == ("ValidationError", b"{not json")
        assert letter.source is not None
        assert letter.source.topic == running_broker.topics.events

    async def test_event_sealed_to_another_broker_key_goes_to_dead_letters(
        self, running_broker: Runtime, producer_keys: Keys
    ) -> None:
        """An event the broker cannot open is dead-lettered as an envelope failure."""
        stranger = KeyStore.create(running_broker.settings.keys_dir.parent / "stranger")
        async with EventPublisher(running_broker.settings.kafka_bootstrap_servers, stranger.public,
                                  producer_keys["acute-demo"],
                                  running_broker.settings.topic_prefix) as sdk:  # fmt: skip
            await sdk.publish(attendance(family.person(family.TWIN_1)))
        assert await dead_letter_reasons(running_broker, 1) == ["DecryptionFailed"]

    async def test_event_signed_by_an_unregistered_key_goes_to_dead_letters(
        self, running_broker: Runtime
    ) -> None:
        """A forged event, signed with a key the acute trust never registered, is refused."""
        forger = Ed25519PrivateKey.generate()
        async with self._sdk(running_broker, forger) as sdk:
            await sdk.publish(attendance(family.person(family.TWIN_1)))
        assert await dead_letter_reasons(running_broker, 1) == ["UnknownSigningKey"]
        assert await routed(running_broker) == (0, 0)
        assert await rejections(running_broker) == ["UnknownSigningKey"]

    async def test_event_from_the_wrong_kind_of_organisation_goes_to_dead_letters(
        self, running_broker: Runtime, producer_keys: Keys
    ) -> None:
        """An ED attendance from a mental health service, correctly signed, is refused."""
        event = attendance(family.person(family.TWIN_1)).model_copy(
            update={"source_org": "mh-demo"}
        )
        async with self._sdk(running_broker, producer_keys["mh-demo"]) as sdk:
            await sdk.publish(event)
        assert await dead_letter_reasons(running_broker, 1) == ["EventNotPermitted"]
        assert await rejections(running_broker) == ["EventNotPermitted"]

    async def test_tampered_signed_event_goes_to_dead_letters(
        self, running_broker: Runtime, producer_keys: Keys
    ) -> None:
        """An event changed after its producer signed it fails the signature check."""
        event = attendance(family.person(family.TWIN_1))
        signed = sign_event(event, producer_keys["acute-demo"])
        tampered = signed.model_copy(
            update={"event_json": signed.event_json.replace("ingestion_or_poisoning", "other")}
        )
        header = EventHeader(event_id=event.event_id, event_type=event.event_type,
                             source_org=event.source_org, received_at=datetime.now(UTC),
                             broker_key_id=running_broker.keys.public.hpke_key_id)  # fmt: skip
        sealed = seal_event(tampered, header, running_broker.keys.public.hpke)
        await raw_send(running_broker, sealed.model_dump_json().encode())
        assert await dead_letter_reasons(running_broker, 1) == ["SignatureInvalid"]

    async def test_tampered_ciphertext_goes_to_dead_letters(
        self, running_broker: Runtime, producer_keys: Keys
    ) -> None:
        """A sealed event whose ciphertext was altered on the way fails to open; the
        rejection is dead-lettered and audited."""
        event = attendance(family.person(family.TWIN_1))
        header = EventHeader(event_id=event.event_id, event_type=event.event_type,
                             source_org=event.source_org, received_at=datetime.now(UTC),
                             broker_key_id=running_broker.keys.public.hpke_key_id)  # fmt: skip
        sealed = seal_event(sign_event(event, producer_keys["acute-demo"]), header,
                            running_broker.keys.public.hpke)  # fmt: skip
        raw = bytearray(base64.b64decode(sealed.ciphertext))
        raw[-1] ^= 0x01
        tampered = sealed.model_copy(update={"ciphertext": base64.b64encode(raw).decode()})
        await raw_send(running_broker, tampered.model_dump_json().encode())
        assert await dead_letter_reasons(running_broker, 1) == ["DecryptionFailed"]
        assert await rejections(running_broker) == ["DecryptionFailed"]

    async def test_unknown_person_goes_to_the_front_door(
        self, running_broker: Runtime, producer_keys: Keys
    ) -> None:
        """An event about someone the directory does not know is held at the front door."""
        async with self._sdk(running_broker, producer_keys["acute-demo"]) as sdk:
            await sdk.publish(attendance(PersonRef(nhs_number="9990000360", given_name="Ada")))
        assert await until_routed(running_broker, 1) == 1
        async with running_broker.sessions() as session:
            [notice] = (await session.scalars(select(db.InboxNotice))).all()
            record = await session.get(db.NoticeRecord, notice.notice_id)
        assert notice.recipient_id == "la-front-door:duty_manager"
        assert record is not None
        assert "unmatched_person" in record.rule_id  # the broker's record: no header names it

    async def test_received_time_is_kafkas_not_the_one_the_producer_wrote(
        self, running_broker: Runtime, producer_keys: Keys
    ) -> None:
        """An event whose header claims it was received three days ago is held as received
        when Kafka appended it: the producer's time counts for nothing."""
        event = attendance(PersonRef(nhs_number="9990000360", given_name="Ada"))
        header = EventHeader(event_id=event.event_id, source_org=event.source_org,
                             received_at=event.occurred_at - timedelta(days=3),
                             broker_key_id=running_broker.keys.public.hpke_key_id)  # fmt: skip
        sealed = seal_event(sign_event(event, producer_keys["acute-demo"]), header,
                            running_broker.keys.public.hpke)  # fmt: skip
        sent_at = datetime.now(UTC)
        await raw_send(running_broker, sealed.model_dump_json().encode())
        assert await until_routed(running_broker, 1) == 1
        async with running_broker.sessions() as session:
            queued = await session.get(db.MatchingQueueEntry, str(event.event_id))
        assert queued is not None
        assert abs(queued.received_at - sent_at) < timedelta(seconds=5)

    async def test_replayed_event_is_routed_once_and_refused(
        self, running_broker: Runtime, producer_keys: Keys
    ) -> None:
        """The same event published again as a new record is routed once; the replay is
        dead-lettered as such."""
        await clear_of_the_front_doors_opening_or_closing()  # front_door_closed, below
        event = attendance(family.person(family.TWIN_1))
        async with self._sdk(running_broker, producer_keys["acute-demo"]) as sdk:
            await sdk.publish(event)
            await sdk.publish(event)
        first = await until_routed(running_broker, 1)
        # GP, health visiting and front door: ingestion under five (and, while the front door
        # is closed, its emergency duty team).
        expected = 3 + front_door_closed()
        assert first == expected
        assert await dead_letter_reasons(running_broker, 1) == ["ReplayedEvent"]
        assert await rejections(running_broker) == ["ReplayedEvent"]
        assert await routed(running_broker) == (1, expected)

    @staticmethod
    def _sdk(rt: Runtime, signing_key: Ed25519PrivateKey) -> EventPublisher:
        return EventPublisher(rt.settings.kafka_bootstrap_servers, rt.keys.public, signing_key,
                              rt.settings.topic_prefix)  # fmt: skip


async def raw_send(rt: Runtime, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=rt.settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(rt.topics.events, value, key=b"k")
    finally:
        await producer.stop()


async def rejections(rt: Runtime) -> list[str]:
    """The reasons the audit log gives for rejected events (written after the dead letter)."""
    async with asyncio.timeout(10):
        while True:
            async with rt.sessions() as session:
                rows = (await session.scalars(
                    select(audit.AuditEntry).where(audit.AuditEntry.action == "event_rejected")
                )).all()  # fmt: skip
            if rows:
                return [json.loads(r.details)["reason"] for r in rows]
            await asyncio.sleep(0.2)


async def dead_letters(rt: Runtime, count: int, timeout: float = 30) -> list[DeadLetter]:
    """The dead-letter topic, once it holds at least ``count`` letters."""
    async with asyncio.timeout(timeout):
        while len(letters := await read_all(rt.settings.kafka_bootstrap_servers,
                                            rt.topics.dead_letters)) < count:  # fmt: skip
            await asyncio.sleep(0.2)
    return letters


async def dead_letter_reasons(rt: Runtime, count: int) -> list[str]:
    return [letter.reason_name for letter in await dead_letters(rt, count)]
