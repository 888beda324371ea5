"""What the MESH tests share: a sealed notice for a recipient, onto the notices topic as the
router sends it, the MESH sends as the database holds them, and a GP practice's system
reading its MESH mailbox with mesh-client."""

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import uuid4

from aiokafka import AIOKafkaProducer
from mesh_client import MeshClient
from sqlalchemy import select

from broker.adapters import db
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.bootstrap import Runtime
from broker.services.directory_admin import put_contact
from producers.envelopes import seal_notice
from schemas.directory import ContactSpec
from schemas.notices import NoticeBody, NoticeHeader, NoticeType, SealedNotice, Severity

from .conftest import GP_MAILBOX, PASSWORD, SHARED_KEY

GP = "gp-riverside:safeguarding_lead"


async def give_mailbox(rt: Runtime, contact_id: str, mailbox: str) -> None:
    """Through the directory's admin service (and its change log), as an administrator."""
    async with rt.sessions.begin() as session:
        contact = await session.get(db.Contact, contact_id)
        assert contact is not None
        spec = ContactSpec(
            id=contact.id,
            org_id=contact.org_id,
            role=contact.role,
            hpke_public_key=contact.hpke_public_key,
            mesh_mailbox=mailbox,
        )
        await put_contact(SqlUnitOfWork.joined(session), spec, "test")


def a_notice(rt: Runtime, recipient: str, key: Any) -> SealedNotice:
    now = datetime.now(UTC)
    header = NoticeHeader(
        notice_id=uuid4(),
        event_id=uuid4(),
        household="h",
        recipient_id=recipient,
        recipient_org=recipient.split(":")[0],
        notice_type=NoticeType.GP_INFORMATION,
        severity=Severity.MEDIUM,
        created_at=now,
        deadline=now + timedelta(hours=72),
        recipient_key_id="k",
        signing_key_id=rt.keys.public.signing_key_id,
    )
    body = NoticeBody(summary="s", event_type="ed_attendance", occurred_at=now, source_org="a-1")
    return seal_notice(header, body, key, rt.keys.signing)


def notice_id(notice: SealedNotice) -> str:
    return str(NoticeHeader.model_validate_json(notice.header).notice_id)


async def publish(rt: Runtime, notice: SealedNotice) -> None:
    """Onto the notices topic, keyed by recipient, as the router sends it."""
    producer = AIOKafkaProducer(bootstrap_servers=rt.settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        recipient = NoticeHeader.model_validate_json(notice.header).recipient_id
        await producer.send_and_wait(
            rt.topics.notices, notice.model_dump_json().encode(), key=recipient.encode()
        )
    finally:
        await producer.stop()


async def send_row(rt: Runtime, notice: str) -> db.MeshDelivery | None:
    async with rt.sessions() as session:
        found = await session.scalars(
            select(db.MeshDelivery).where(db.MeshDelivery.notice_id == notice)
        )
        return found.one_or_none()


async def until_state(
    rt: Runtime, notice: str, *states: str, timeout: float = 60
) -> db.MeshDelivery:
    """The notice's MESH send, once it is in one of ``states``."""
    async with asyncio.timeout(timeout):
        while True:
            row = await send_row(rt, notice)
            if row is not None and row.state in states:
                return row
            await asyncio.sleep(0.05)


async def until(check: Callable[[], Any], timeout: float = 60) -> Any:
    async with asyncio.timeout(timeout):
        while not (result := await check()):
            await asyncio.sleep(0.05)
        return result


def gp_client(url: str) -> MeshClient:
    """The GP practice's system, signed in to its own MESH mailbox."""
    return MeshClient(url, GP_MAILBOX, PASSWORD, shared_key=SHARED_KEY.encode(), max_retries=0)
