"""The delivery worker against the real Kafka broker and database."""

import asyncio
import json

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import select

from broker.adapters import db
from broker.adapters.envelopes import seal_notice
from broker.bootstrap import Runtime
from schemas.notices import NoticeBody, NoticeHeader, NoticeType, SealedNotice, Severity

pytestmark = pytest.mark.integration


def a_notice(rt: Runtime) -> SealedNotice:
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
    return seal_notice(header, body, X25519PrivateKey.generate().public_key(), rt.keys.signing)


async def send(rt: Runtime, *values: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=rt.settings.kafka_bootstrap_servers)
    await producer.start()
    for value in values:
        await producer.send_and_wait(rt.topics.notices, value, key=b"recipient")
    await producer.stop()


async def inbox_ids(rt: Runtime) -> list[str]:
    async with rt.sessions() as session:
        return list((await session.scalars(select(db.InboxNotice.notice_id))).all())


class TestDelivery:
    async def test_a_notice_delivered_twice_is_stored_once(self, running_broker: Runtime) -> None:
        """Redelivery of the same notice leaves one copy in the inbox."""
        notice = a_notice(running_broker).model_dump_json().encode()
        await send(running_broker, notice, notice)
        async with asyncio.timeout(30):
            while not await inbox_ids(running_broker):
                await asyncio.sleep(0.2)
        await asyncio.sleep(1)
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
