"""A MESH send retried: after MESH was unreachable, and after an accepted send whose answer
was lost. Either way the practice's mailbox holds the notice once (its id is the local id)."""

import asyncio
from pathlib import Path
from typing import Any

import pytest

from broker.adapters.mesh import MeshClientTransport
from broker.bootstrap import Runtime
from broker.config import Settings
from broker.mesh_settings import SUBJECT, WORKFLOW_ID
from broker.ports import MeshMessage
from deploy.ports import free_port

from .conftest import GP_MAILBOX, SandboxMesh, start_sandbox, stop_sandbox
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


@pytest.fixture
def late() -> SandboxMesh:
    """A sandbox's address, where nothing answers until the test starts one there."""
    return SandboxMesh(f"http://127.0.0.1:{free_port()}")


@pytest.fixture
def settings(settings: Settings, late: SandboxMesh) -> Settings:
    return settings.model_copy(update={"mesh": late.settings()})


def local_ids(url: str, local_id: str) -> list[str]:
    with gp_client(url) as client:
        messages = [client.retrieve_message(m) for m in client.list_messages()]
        return [m.local_id for m in messages if m.local_id == local_id]


class TestMeshRetries:
    async def test_a_send_retried_after_mesh_was_unreachable_arrives_once(
        self, running_broker: Runtime, late: SandboxMesh, mesh_data: Path,
        recipient_pairs: dict[str, Any],
    ) -> None:  # fmt: skip
        """While MESH does not answer, the send is retried with its error recorded; once
        MESH is back it is sent, and the practice's mailbox holds it once."""
        rt = running_broker
        await give_mailbox(rt, GP, GP_MAILBOX)
        notice = a_notice(rt, GP, recipient_pairs[GP].private.public_key())
        await publish(rt, notice)

        async def failing_twice() -> bool:
            row = await send_row(rt, notice_id(notice))
            return row is not None and row.attempts >= 2 and row.state == "pending"

        await until(failing_twice)
        assert (await send_row(rt, notice_id(notice))).last_error == "ConnectionError"
        port = int(late.url.rsplit(":", 1)[1])
        process = await asyncio.to_thread(start_sandbox, mesh_data, port, mesh_data / "late.log")
        try:
            await until_state(rt, notice_id(notice), "sent")
            found = await asyncio.to_thread(local_ids, late.url, notice_id(notice))
        finally:
            await asyncio.to_thread(stop_sandbox, process)
        assert found == [notice_id(notice)]


class TestMeshIdempotency:
    async def test_a_retry_of_an_accepted_send_finds_it_and_sends_nothing(
        self, sandbox: SandboxMesh
    ) -> None:
        """A retry after an accepted send whose answer was lost answers MESH's id of that
        send, found by the notice id (the local id); the mailbox holds the message once."""
        transport = MeshClientTransport(sandbox.settings())
        message = MeshMessage(GP_MAILBOX, b"{}", "notice-sent-once", WORKFLOW_ID, SUBJECT)
        first = await transport.send(message, retry=False)
        again = await transport.send(message, retry=True)

        assert first.message_id is not None
        assert again.message_id == first.message_id
        found = await asyncio.to_thread(local_ids, sandbox.url, "notice-sent-once")
        assert found == ["notice-sent-once"]
