"""Delivery reads how each recipient is reached (MESH mailbox, alert channels) from a copy
of the directory each process keeps until the directory's change log moves on: a change
made between two batches is the second batch's, whichever process made it."""

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import select

from broker.adapters import db
from broker.adapters.kafka import Received
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.bootstrap import Runtime, runtime
from broker.config import Settings
from broker.services import alert_channels
from broker.services import directory_admin as admin
from consumers.delivery import handle_notices
from producers.envelopes import seal_notice
from schemas.alerts import AlertChannelsSpec
from schemas.directory import ContactSpec
from schemas.notices import NoticeBody, NoticeHeader, NoticeType, Severity
from tests.integration.test_delivery import notice_id

pytestmark = pytest.mark.integration

LEAD = "gp-riverside:safeguarding_lead"


async def set_reach(rt: Runtime, mailbox: str | None, emails: tuple[str, ...]) -> None:
    """The lead's MESH mailbox and alert emails set as an administrator sets them (each
    change in the directory's change log), committed."""
    async with SqlUnitOfWork(rt.sessions) as uow:
        row = await uow.session.get(db.Contact, LEAD)
        assert row is not None
        spec = ContactSpec(id=row.id, org_id=row.org_id, role=row.role,
                           hpke_public_key=row.hpke_public_key, daily_digest=row.daily_digest,
                           webhook_url=row.webhook_url, mesh_mailbox=mailbox)  # fmt: skip
        await admin.put_contact(uow, spec, "test")
        await alert_channels.set_channels(uow, LEAD, AlertChannelsSpec(emails=emails), "test",
                                          datetime.now(UTC))  # fmt: skip


async def deliver_one(rt: Runtime, offset: int, held_until: datetime | None = None) -> str:
    """A batch of one notice to the lead, handled as the consume loop hands it over;
    ``held_until`` holds it (and its first alert) until then."""
    now = datetime.now(UTC)
    header = NoticeHeader(
        notice_id=uuid4(), event_id=uuid4(), household="h", recipient_id=LEAD,
        recipient_org="gp-riverside", notice_type=NoticeType.GP_INFORMATION,
        severity=Severity.MEDIUM, created_at=now, deadline=now + timedelta(hours=72),
        recipient_key_id="k", signing_key_id=rt.keys.public.signing_key_id,
        held_until=held_until,
    )  # fmt: skip
    body = NoticeBody(summary="s", event_type="ed_attendance", occurred_at=now, source_org="a-1")
    key = X25519PrivateKey.generate().public_key()
    notice = seal_notice(header, body, key, rt.keys.signing)
    value = notice.model_dump_json().encode()
    await handle_notices([Received(rt.topics.notices, 0, offset, "recipient", value)], rt)
    return notice_id(notice)


async def queued(rt: Runtime) -> dict[str, set[str]]:
    """The notices queued for MESH and for alerts."""
    async with rt.sessions() as session:
        mesh = await session.scalars(select(db.MeshDelivery.notice_id))
        alerts = await session.scalars(select(db.AlertDelivery.notice_id))
        return {"mesh": set(mesh), "alerts": set(alerts)}


class TestDeliveryFollowsTheDirectory:
    async def test_a_mailbox_and_channels_changed_between_batches_are_the_next_batchs(
        self, settings: Settings, directory: None
    ) -> None:
        """The lead has no mailbox nor channel for the first batch; given both before the
        second, the second's notice is queued for MESH and alerts; both taken away before
        the third, the third's is queued for neither."""
        async with runtime(settings, configure_logs=False) as rt:
            await set_reach(rt, None, ())
            await deliver_one(rt, 0)
            await set_reach(rt, "X26GP0001", ("lead@riverside.example",))
            second = await deliver_one(rt, 1)
            await set_reach(rt, None, ())
            await deliver_one(rt, 2)
            assert await queued(rt) == {"mesh": {second}, "alerts": {second}}
