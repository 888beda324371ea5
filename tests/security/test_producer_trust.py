"""What a producing agency controls, and what it must not: attacks through the SDK and Kafka.

Item 6: the event header is the producer's and unsigned; the time an event was received is
the broker's. Item 12: an agency holds no secret of the partnership's; the Kafka key of its
events reverses to nobody, and the clear header says nothing of what happened.
"""

import asyncio
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select, update

from broker.adapters import audit, db
from broker.adapters.envelopes import seal_event, sign_event
from broker.adapters.kafka import LOG_APPEND_TIME
from broker.bootstrap import Runtime
from broker.config import Settings
from broker.demo import family
from broker.pseudonyms import person_key, producer_secret, pseudonym
from producers.sdk import EventPublisher
from schemas.events import EdAttendance, Event, ParentMentalHealthCrisis, PersonRef
from schemas.notices import NoticeHeader
from schemas.transport import EventHeader, SealedEvent

pytestmark = pytest.mark.integration

Keys = dict[str, Ed25519PrivateKey]
FAMILY_NHS = (family.MOTHER, family.FATHER, family.CHILD_B, family.TWIN_1, family.TWIN_2)


@pytest.fixture
async def acute_key_revoked(settings: Settings, directory: None) -> datetime:
    """The acute trust's signing key, suspected stolen, stopped being valid an hour ago."""
    revoked_at = datetime.now(UTC) - timedelta(hours=1)
    engine = db.make_engine(settings.database_url)
    async with db.sessions(engine).begin() as session:
        await session.execute(update(db.OrgSigningKey)
                              .where(db.OrgSigningKey.org_id == "acute-demo")
                              .values(valid_until=revoked_at))  # fmt: skip
        session.add(db.DirectoryChange(at=revoked_at, actor="test", entity="organisation",
                                       entity_id="acute-demo", action="key_revoked",
                                       fields="signing_keys"))  # fmt: skip
    await engine.dispose()
    return revoked_at


class TestProducerSetTime:
    async def test_06_backdated_header_does_not_revive_a_revoked_signing_key(
        self, acute_key_revoked: datetime, running_broker: Runtime, producer_keys: Keys
    ) -> None:
        """Attack: holding the acute trust's revoked key, write an event whose header says
        it was received two hours ago (while the key was still valid), the Kafka record's
        own timestamp backdated too, and put it on the events topic. The router takes the
        time from Kafka's log-append time, so the key is not valid then: the event is
        refused and audited, and nothing is routed, noticed or recorded."""
        rt, then = running_broker, datetime.now(UTC) - timedelta(hours=2)
        event = EdAttendance(
            event_type="ed_attendance", event_id=uuid.uuid4(), source_org="acute-demo",
            occurred_at=then, subject=family.person(family.TWIN_1), arrived_at=then,
            presenting_category="ingestion_or_poisoning",
        )  # fmt: skip
        header = EventHeader(event_id=event.event_id, event_type=event.event_type,
                             source_org=event.source_org, received_at=then,
                             broker_key_id=rt.keys.public.hpke_key_id)  # fmt: skip
        sealed = seal_event(sign_event(event, producer_keys["acute-demo"]), header,
                            rt.keys.public.hpke)  # fmt: skip
        sent_after = datetime.now(UTC)
        await _send(rt, sealed, timestamp=then)

        assert await _rejection(rt, str(event.event_id)) == "UnknownSigningKey"
        assert await _traces_of(rt, str(event.event_id)) == (0, 0, 0)
        [record] = await _records(rt, rt.topics.events, 1)
        assert record.timestamp_type == LOG_APPEND_TIME
        assert record.timestamp >= int(sent_after.timestamp() * 1000) - 1000


class TestPartnershipSecret:
    async def test_12_agency_cannot_reverse_kafka_keys_nor_read_what_happened(
        self, running_broker: Runtime, producer_keys: Keys
    ) -> None:
        """Attack: the acute trust, an SDK agency, reads the events topic and tries every
        NHS number of the family under every secret an agency holds (its own record-key
        secret; no partnership secret is given to it) to learn whose records the mental
        health service published, and reads their clear headers for what happened. No key
        reverses, the headers name no event type; the broker, which alone holds the
        pseudonym secret, still routes both events, audited, to the family's household."""
        rt = running_broker
        crises = [_crisis(family.MOTHER), _crisis(family.MOTHER)]
        sdk = EventPublisher(rt.settings.kafka_bootstrap_servers, rt.keys.public,
                             producer_keys["mh-demo"], rt.settings.topic_prefix)  # fmt: skip
        async with sdk:
            await sdk.publish_many(crises)

        records = await _records(rt, rt.topics.events, 2)
        keys = {record.key for record in records}
        assert len(keys) == 1  # one agency's events about one person: one partition, in order
        [key] = keys
        agency_secrets = [producer_secret(producer_keys["acute-demo"])]
        guesses = {person_key(secret, PersonRef(nhs_number=nhs), org).encode()
                   for secret in agency_secrets for nhs in FAMILY_NHS
                   for org, *_ in family.ORGANISATIONS}  # fmt: skip
        assert key not in guesses
        broker_pseudonym = person_key(rt.keys.pseudonym_secret, crises[0].subject, "mh-demo")
        assert key != broker_pseudonym.encode()
        for record in records:
            header = json.loads(SealedEvent.model_validate_json(record.value).header)
            assert set(header) == {"schema_version", "event_id", "source_org", "broker_key_id"}

        produced = await _produced(rt, [str(c.event_id) for c in crises])
        household = pseudonym(rt.keys.pseudonym_secret, "household", "h-carter")
        assert produced
        assert {h.household for h in produced} == {household}


def _crisis(nhs: str) -> Event:
    return ParentMentalHealthCrisis(
        event_type="parent_mental_health_crisis", event_id=uuid.uuid4(), source_org="mh-demo",
        occurred_at=datetime.now(UTC), subject=family.person(nhs),
    )  # fmt: skip


async def _send(rt: Runtime, sealed: SealedEvent, timestamp: datetime) -> None:
    """Straight onto the events topic, as any holder of a producer's Kafka credentials can."""
    producer = AIOKafkaProducer(bootstrap_servers=rt.settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        value, at_ms = sealed.model_dump_json().encode(), int(timestamp.timestamp() * 1000)
        await producer.send_and_wait(rt.topics.events, value, key=b"k", timestamp_ms=at_ms)
    finally:
        await producer.stop()


async def _records(
    rt: Runtime, topic: str, count: int, timeout: float = 30
) -> list[ConsumerRecord[bytes, bytes]]:
    """The topic's records as any reader of it sees them, once it holds ``count``."""
    consumer = AIOKafkaConsumer(bootstrap_servers=rt.settings.kafka_bootstrap_servers,
                                enable_auto_commit=False, group_id=None)  # fmt: skip
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(rt.settings.topics.partitions)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        records: list[ConsumerRecord[bytes, bytes]] = []
        async with asyncio.timeout(timeout):
            while len(records) < count:
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    records += batch
        return records
    finally:
        await consumer.stop()


async def _rejection(rt: Runtime, event_id: str, timeout: float = 30) -> str:
    """The reason the audit log gives for refusing this event."""
    async with asyncio.timeout(timeout):
        while True:
            async with rt.sessions() as session:
                row = await session.scalar(select(audit.AuditEntry).where(
                    audit.AuditEntry.action == "event_rejected",
                    audit.AuditEntry.subject_ref == event_id,
                ))  # fmt: skip
            if row is not None:
                return str(json.loads(row.details)["reason"])
            await asyncio.sleep(0.2)


async def _traces_of(rt: Runtime, event_id: str) -> tuple[int, int, int]:
    """Routing records, notices and chronology lines the event left."""
    columns = (db.RoutedEvent.event_id, db.NoticeRecord.event_id, db.ChronologyEntry.event_id)
    async with rt.sessions() as session:
        counts = [await session.scalar(select(func.count()).where(column == event_id))
                  for column in columns]  # fmt: skip
    return counts[0] or 0, counts[1] or 0, counts[2] or 0


async def _produced(
    rt: Runtime, event_ids: Sequence[str], timeout: float = 30
) -> list[NoticeHeader]:
    """The headers of the notices the router produced for these events, once it has routed
    them all and the audit log records each notice as produced."""
    async with asyncio.timeout(timeout):
        while True:
            async with rt.sessions() as session:
                routed = await session.scalar(
                    select(func.count()).where(db.RoutedEvent.event_id.in_(event_ids))
                )
                notices = (await session.scalars(select(db.InboxNotice))).all()
                headers = [NoticeHeader.model_validate_json(n.header) for n in notices]
                mine = [h for h in headers if str(h.event_id) in event_ids]
                audited = await session.scalar(select(func.count()).where(
                    audit.AuditEntry.action == "notice_produced",
                    audit.AuditEntry.subject_ref.in_([str(h.notice_id) for h in mine]),
                ))  # fmt: skip
            if routed == len(event_ids) and mine and audited == len(mine):
                return mine
            await asyncio.sleep(0.2)
