"""The delivery worker against the real Kafka broker and database."""

import asyncio
import json

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import select
from support import consumed_to_the_end

from broker.adapters import audit, db
from broker.adapters.kafka import Received
from broker.bootstrap import Runtime, runtime
from broker.config import Settings
from broker.keys import audit_key
from broker.ports import Message
from consumers.delivery import handle_notices
from producers.envelopes import seal_notice
from schemas.notices import NoticeBody, NoticeHeader, NoticeType, SealedNotice, Severity

pytestmark = pytest.mark.integration


def a_notice(rt: Runtime, signing: Ed25519PrivateKey | None = None) -> SealedNotice:
    from datetime import UTC, datetime, timedelta
    from uuid import uuid4

    now = datetime.now(UTC)
    header = NoticeHeader(
        notice_id=uuid4(), event_id=uuid4(), household="h", recipient_id="gp-x:safeguarding_lead",
        recipient_org="gp-x", notice_type=NoticeType.GP_INFORMATION, severity=Severity.LOW,
        created_at=now, deadline=now + timedelta(hours=72),
        recipient_key_id="k", signing_key_id=rt.keys.public.signing_key_id,
    )  # fmt: skip
    body = NoticeBody(summary="s", event_type="ed_attendance", occurred_at=now, source_org="a-1")
    recipient = X25519PrivateKey.generate().public_key()
    return seal_notice(header, body, recipient, signing or rt.keys.signing)


async def send(rt: Runtime, *values: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=rt.settings.kafka_bootstrap_servers)
    await producer.start()
    for value in values:
        await producer.send_and_wait(rt.topics.notices, value, key=b"recipient")
    await producer.stop()


async def handled(rt: Runtime) -> bool:
    """Whether the delivery worker has handled (and committed) every notice sent so far."""
    return await consumed_to_the_end(rt.settings, rt.settings.delivery_group, rt.topics.notices)


async def inbox_ids(rt: Runtime) -> list[str]:
    async with rt.sessions() as session:
        return list((await session.scalars(select(db.InboxNotice.notice_id))).all())


class TestDelivery:
    async def test_a_notice_delivered_twice_is_stored_once(self, running_broker: Runtime) -> None:
        """Redelivery of the same notice leaves one copy in the inbox."""
        notice = a_notice(running_broker).model_dump_json().encode()
        await send(running_broker, notice, notice)
        async with asyncio.timeout(30):
            while not await inbox_ids(running_broker) or not await handled(running_broker):
                await asyncio.sleep(0.05)
        assert len(await inbox_ids(running_broker)) == 1

    async def test_an_unreadable_notice_goes_to_dead_letters(self, running_broker: Runtime) -> None:
        """A record that is not a sealed notice is dead-lettered and the worker carries on."""
        good = a_notice(running_broker).model_dump_json().encode()
        await send(running_broker, b"garbage", good)
        consumer = AIOKafkaConsumer(
            running_broker.topics.dead_letters,
            bootstrap_servers=running_broker.settings.kafka_bootstrap_servers,
            auto_offset_reset="earliest",
        )
        await consumer.start()
        try:
            letter = await asyncio.wait_for(consumer.getone(), 30)
        finally:
            await consumer.stop()
        headers = dict(letter.headers)
        assert json.loads(headers["sgb-reason"])["reason"] == "unreadable_notice"
        assert letter.value == b"garbage"  # the original, for replay
        assert headers["sgb-source-topic"].decode() == running_broker.topics.notices
        async with asyncio.timeout(30):
            while not await inbox_ids(running_broker):
                await asyncio.sleep(0.2)


def notice_id(notice: SealedNotice) -> str:
    return str(NoticeHeader.model_validate_json(notice.header).notice_id)


async def audited(rt: Runtime, action: str) -> list[str]:
    """The subjects of the audit entries of ``action``, in the chain's order."""
    async with rt.sessions() as session:
        query = select(audit.AuditEntry.subject_ref).where(audit.AuditEntry.action == action)
        return list((await session.scalars(query.order_by(audit.AuditEntry.seq))).all())


def mixed_batch(rt: Runtime) -> tuple[list[SealedNotice], list[bytes]]:
    """Three good notices, the first of them twice, and one signed by another key."""
    good = [a_notice(rt) for _ in range(3)]
    unsigned = a_notice(rt, signing=Ed25519PrivateKey.generate())
    values = [n.model_dump_json().encode() for n in (good[0], unsigned, good[1], good[0], good[2])]
    return good, values


class TestDeliveryInBatches:
    async def test_a_mixed_batch_through_kafka_stores_each_good_notice_once(
        self, running_broker: Runtime
    ) -> None:
        """A batch holding a duplicate, an unsigned notice and good notices, sent through
        Kafka: each good notice is stored and audited once, the unsigned one refused, and the
        audit chain still verifies."""
        rt = running_broker
        good, values = mixed_batch(rt)
        await rt.publisher.publish([Message(rt.topics.notices, "recipient", v) for v in values])
        async with asyncio.timeout(60):
            while len(await audited(rt, "notice_refused")) < 1 or len(await inbox_ids(rt)) < 3:
                await asyncio.sleep(0.2)
        async with asyncio.timeout(30):  # every record handled: a doubled row would show now
            while not await handled(rt):
                await asyncio.sleep(0.05)
        assert sorted(await inbox_ids(rt)) == sorted(notice_id(n) for n in good)
        assert sorted(await audited(rt, "notice_delivered")) == sorted(notice_id(n) for n in good)
        assert len(await audited(rt, "notice_refused")) == 1
        async with rt.sessions() as session:
            assert (await audit.verify(session, audit_key(rt.settings.keys_dir))).ok

    async def test_a_redelivered_batch_stores_nothing_twice(
        self, settings: Settings, directory: None
    ) -> None:
        """The same batch handled twice (a crash before the offsets were committed): the
        inbox and the audit log hold each good notice once, the unsigned one is refused each
        time it arrives (where it lay is audited, never stored), and the chain verifies."""
        async with runtime(settings, configure_logs=False) as rt:
            good, values = mixed_batch(rt)
            batch = [Received(rt.topics.notices, 0, offset, "recipient", value)
                     for offset, value in enumerate(values)]  # fmt: skip
            await handle_notices(batch, rt)
            await handle_notices(batch, rt)
            assert sorted(await inbox_ids(rt)) == sorted(notice_id(n) for n in good)
            delivered = await audited(rt, "notice_delivered")
            assert delivered == [notice_id(n) for n in good]  # in the batch's order, once
            assert await audited(rt, "notice_refused") == [f"{rt.topics.notices}/0/1"] * 2
            async with rt.sessions() as session:
                assert (await audit.verify(session, audit_key(settings.keys_dir))).ok
