"""Notices to a GP practice through NHS MESH: the real Kafka broker, the real database, the
delivery process's own MESH worker, and NHS England's mesh-sandbox on loopback, read by the
practice's system as a GP system would (mesh-client)."""

from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from mesh_client import MeshClient
from sqlalchemy import select
from support import post_signed, suicidal_crisis

from broker.adapters import db
from broker.bootstrap import Runtime
from broker.config import Settings
from broker.entrypoints.dead_letters_cli import read_all
from broker.mesh_settings import SUBJECT, WORKFLOW_ID
from producers.receiver import NoticeReceiver
from schemas.events import ParentMentalHealthCrisis
from schemas.notices import SealedNotice

from .conftest import GP_MAILBOX, SandboxMesh
from .notices import (
    GP,
    a_notice,
    give_mailbox,
    gp_client,
    notice_id,
    publish,
    send_row,
    until,
    until_state,
)

pytestmark = [pytest.mark.mesh, pytest.mark.integration]
SCHOOL = "school-oakfield:key_adult"


@pytest.fixture
def settings(settings: Settings, sandbox: SandboxMesh) -> Settings:
    """The broker's MESH mailbox in the sandbox, with quick retries and tracking."""
    return settings.model_copy(update={"mesh": sandbox.settings()})


def retrieved(client: MeshClient, local_id: str) -> list[Any]:
    """The practice's MESH messages sent under ``local_id`` (the sandbox's inbox is shared
    by the session's tests), each retrieved."""
    messages = [client.retrieve_message(m) for m in client.list_messages()]
    return [m for m in messages if m.local_id == local_id]


async def record(rt: Runtime, notice: str) -> db.NoticeRecord:
    async with rt.sessions() as session:
        found = await session.get(db.NoticeRecord, notice)
        assert found is not None
        return found


class TestMeshDelivery:
    async def test_a_notice_for_a_gp_with_a_mailbox_arrives_there_sealed(
        self, running_broker: Runtime, sandbox: SandboxMesh, recipient_pairs: dict[str, Any]
    ) -> None:
        """The practice's mailbox receives the sealed notice, under the broker's workflow
        id, a subject with nothing personal in it and the notice id as its local id; it
        opens with the GP contact's own key."""
        rt = running_broker
        await give_mailbox(rt, GP, GP_MAILBOX)
        notice = a_notice(rt, GP, recipient_pairs[GP].private.public_key())
        await publish(rt, notice)
        await until_state(rt, notice_id(notice), "sent")

        with gp_client(sandbox.url) as client:
            [message] = retrieved(client, notice_id(notice))
            body = message.read()
        assert (message.workflow_id, message.subject) == (WORKFLOW_ID, SUBJECT)
        receiver = NoticeReceiver(recipient_pairs[GP].private, rt.keys.public)
        header, _ = receiver.open(SealedNotice.model_validate_json(body))
        assert str(header.notice_id) == notice_id(notice)

    async def test_the_gp_acknowledging_the_message_is_the_transport_acknowledgement(
        self,
        gateway: httpx.AsyncClient,
        producer_keys: dict[str, Ed25519PrivateKey],
        running_broker: Runtime,
        sandbox: SandboxMesh,
    ) -> None:
        """From an event at the gateway: when the practice's system acknowledges the MESH
        message, the send is acknowledged and the notice recorded as delivered through MESH;
        nobody has acknowledged the notice itself (only a person does, in the inbox)."""
        rt = running_broker
        await give_mailbox(rt, GP, GP_MAILBOX)
        assert (await post_signed(gateway, crisis(), producer_keys)).status_code == 202
        sent = await until(lambda: _sent_to(rt, GP))
        with gp_client(sandbox.url) as client:
            [message] = retrieved(client, sent.notice_id)
            message.acknowledge()

        row = await until_state(rt, sent.notice_id, "acknowledged")
        assert row.transport_acknowledged_at is not None
        kept = await record(rt, sent.notice_id)
        assert (kept.delivered_via, kept.acknowledged_at) == ("mesh", None)

    async def test_a_non_delivery_report_dead_letters_the_send(
        self, running_broker: Runtime, sandbox: SandboxMesh, recipient_pairs: dict[str, Any]
    ) -> None:
        """MESH reporting the message undeliverable gives the send up with a dead letter
        (its channel, reason and notice named); the notice stays in the inbox, where its
        deadline escalates it if nobody acknowledges it."""
        rt = running_broker
        await give_mailbox(rt, GP, GP_MAILBOX)
        notice = a_notice(rt, GP, recipient_pairs[GP].private.public_key())
        await publish(rt, notice)
        sent = await until_state(rt, notice_id(notice), "sent")
        event = {
            "status": "undeliverable",
            "code": "14",
            "event": "TRANSFER",
            "description": "not downloaded",
        }
        admin = f"{sandbox.url}/messageexchange/admin/message/{sent.message_id}/event"
        async with httpx.AsyncClient() as http:  # the sandbox's own way to report a failure
            answer = await http.post(admin, json=event)
        assert answer.status_code == 200

        row = await until_state(rt, notice_id(notice), "dead")
        assert row.last_error == "mesh_undeliverable"
        [letter] = await until(lambda: read_all(rt.settings))
        assert (letter.reason["reason"], letter.reason["channel"], letter.reason["notice_id"]) == (
            "mesh_undeliverable",
            "mesh",
            notice_id(notice),
        )
        assert SealedNotice.model_validate_json(letter.value) == notice
        assert await _in_inbox(rt, notice_id(notice))

    async def test_a_contact_without_a_mailbox_is_not_sent_through_mesh(
        self, running_broker: Runtime, recipient_pairs: dict[str, Any]
    ) -> None:
        """Only contacts with a MESH mailbox get a MESH send; the inbox has the notice."""
        rt = running_broker
        notice = a_notice(rt, SCHOOL, recipient_pairs[SCHOOL].private.public_key())
        await publish(rt, notice)
        await until(lambda: _in_inbox(rt, notice_id(notice)))
        assert await send_row(rt, notice_id(notice)) is None


async def _in_inbox(rt: Runtime, notice: str) -> bool:
    async with rt.sessions() as session:
        return await session.get(db.InboxNotice, notice) is not None


async def _sent_to(rt: Runtime, recipient: str) -> db.MeshDelivery | None:
    async with rt.sessions() as session:
        found = await session.scalars(
            select(db.MeshDelivery).where(
                db.MeshDelivery.recipient_id == recipient, db.MeshDelivery.state == "sent"
            )
        )
        return found.first()


def crisis() -> ParentMentalHealthCrisis:
    return suicidal_crisis()
