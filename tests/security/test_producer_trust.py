"""What a producing agency controls, and what it must not: attacks through the SDK and Kafka.

Item 6: the event header is the producer's and unsigned; the time an event was received is
the broker's. Item 12: an agency holds no secret of the partnership's; the Kafka key of its
events reverses to nobody, and the clear header says nothing of what happened; nor does a
notice's header, on Kafka or in an inbox listing, nor the audit topic: the rule that decided
a notice is in its sealed body, where its reader may see it, and in the broker's database.
"""

import asyncio
import json
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select, update
from support import open_listed, wait_for_notices

from broker.adapters import audit, db
from broker.adapters.kafka import LOG_APPEND_TIME
from broker.bootstrap import Runtime
from broker.config import Settings
from broker.demo import family
from broker.rules.minimisation import SCHOOL_SAFE_FACTS
from broker.rules.school_notice import SUMMARIES as SCHOOL_SUMMARIES
from producers.envelopes import seal_event, sign_event
from producers.pseudonyms import person_key, producer_secret, pseudonym
from producers.sdk import EventPublisher
from schemas.events import EdAttendance, Event, ParentMentalHealthCrisis, PersonRef
from schemas.notices import NoticeHeader, NoticeType, SchoolMatter
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


SCHOOL = "school-oakfield:key_adult"
FRONT_DOOR = "la-front-door:duty_manager"
MOTHERS_GP = "gp-riverside:safeguarding_lead"
# What would tell a reader of Kafka or of a school's listing that a parent is in a mental
# health crisis with suicidal thoughts, beside every rule id the broker recorded.
REVEALING = ("parent_mental_health_crisis", "mental_health", "crisis", "suicidal")


class TestRuleOutOfClear:
    async def test_12_no_rule_or_event_kind_in_clear_on_kafka_or_in_the_inbox_listing(
        self,
        inbox: httpx.AsyncClient,
        running_broker: Runtime,
        producer_keys: Keys,
        recipient_keys: dict[str, object],
    ) -> None:
        """Attack: the mother's mental health crisis with suicidal ideation is routed through
        the real router and Kafka; a reader of the notices and audit topics (any holder of
        Kafka read access) and a school reading its own inbox listing look for the rule or
        the kind of event (a rule such as "crisis.child" says what happened). Neither appears
        in clear anywhere: not in a notice header, a Kafka key or record header, an audit
        topic record, nor the school's listing. What each reader may know is unchanged: the
        school's opened body still says what it may (something happened at home, to which
        child, who to call) and names no rule; the front door and the GP read
        their rule in the body; the broker's audit log in the database records every notice
        with its rule, and the front door's chronology resolves the school's notice id (its
        reference to quote) to the rule."""
        rt = running_broker
        event = ParentMentalHealthCrisis(
            event_type="parent_mental_health_crisis", event_id=uuid.uuid4(),
            source_org="mh-demo", occurred_at=datetime.now(UTC),
            subject=family.person(family.MOTHER), suicidal_ideation=True,
        )  # fmt: skip
        sdk = EventPublisher(rt.settings.kafka_bootstrap_servers, rt.keys.public,
                             producer_keys["mh-demo"], rt.settings.topic_prefix)  # fmt: skip
        async with sdk:
            await sdk.publish_many([event])
        produced = await _produced(rt, [str(event.event_id)])
        [school_item] = await wait_for_notices(inbox, SCHOOL, 1)
        rules = await _recorded_rules(rt, str(event.event_id))
        assert set(rules.values()) >= {"crisis.child", "crisis.gp", "crisis.front_door"}
        forbidden = (*rules.values(), *REVEALING)

        notices = await _records(rt, rt.topics.notices, len(rules))
        audit_copies = await _records(rt, rt.topics.audit, len(rules))
        for record in (*notices, *audit_copies):
            _assert_silent(record.value or b"", forbidden)
            _assert_silent(record.key or b"", forbidden)
            for _name, value in record.headers:
                _assert_silent(value, forbidden)
        for record in notices:
            header = json.loads(json.loads(record.value or b"{}")["header"])
            assert "rule_id" not in header
        copies = [json.loads(r.value or b"{}") for r in audit_copies]
        produced_copies = [c for c in copies if c.get("action") == "notice_produced"]
        assert {c["notice_id"] for c in produced_copies} == set(rules)
        listing = await inbox.get(f"/v1/recipients/{SCHOOL}/notices")
        assert listing.status_code == 200
        _assert_silent(listing.content, forbidden)
        assert "rule_id" not in listing.json()[0]["header"]

        header, body = await open_listed(inbox, SCHOOL, school_item, recipient_keys,
                                         rt.keys.public)  # fmt: skip
        assert header.notice_type is NoticeType.SCHOOL_SUPPORT
        assert body.rule_id is None
        # The fixed wording for what a school may know happened (broker/rules/school_notice.py).
        wording = SCHOOL_SUMMARIES[SchoolMatter.INCIDENT_AT_HOME]
        assert (body.summary, body.event_type) == (wording, "family_circumstances")
        assert [person.role for person in body.about] == ["child"]  # which child, by name
        assert set(body.facts) <= SCHOOL_SAFE_FACTS
        assert body.who_to_call
        _assert_silent(body.model_dump_json().encode(), forbidden)
        for reader, rule in ((FRONT_DOOR, "crisis.front_door"), (MOTHERS_GP, "crisis.gp")):
            item = next(n for n in await wait_for_notices(inbox, reader, 1)
                        if n["header"]["event_id"] == str(event.event_id))  # fmt: skip
            assert (await open_listed(inbox, reader, item, recipient_keys,
                                      rt.keys.public))[1].rule_id == rule  # fmt: skip

        async with rt.sessions() as session:
            entries = (await session.scalars(select(audit.AuditEntry).where(
                audit.AuditEntry.action == "notice_produced",
                audit.AuditEntry.subject_ref.in_(list(rules)),
            ))).all()  # fmt: skip
        assert {e.subject_ref: json.loads(e.details)["rule_id"] for e in entries} == rules
        chronology = (await inbox.get("/v1/households/h-carter/chronology")).json()
        school_id = str(header.notice_id)
        sent = [line for line in chronology if line["kind"] == "notice"]
        assert [line["rule_id"] for line in sent if line["notice_id"] == school_id] == [
            "crisis.child"
        ]
        assert {str(h.notice_id) for h in produced} <= set(rules)


def _assert_silent(raw: bytes, forbidden: Sequence[str]) -> None:
    text = raw.decode(errors="replace").lower()
    assert not [word for word in forbidden if word.lower() in text]


async def _recorded_rules(rt: Runtime, event_id: str) -> dict[str, str]:
    """The broker's own record of each notice of the event and its rule (inside the trust
    boundary: the database, not Kafka)."""
    async with rt.sessions() as session:
        rows = await session.execute(select(db.NoticeRecord.notice_id, db.NoticeRecord.rule_id)
                                     .where(db.NoticeRecord.event_id == event_id))  # fmt: skip
        return dict(rows.all())


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
