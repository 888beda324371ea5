"""docs/event-signature.md's worked example, run as written: its ``sh`` blocks with a title,
exactly as they stand, by ``sh`` in a folder of their own, against the real gateway served by
uvicorn on loopback, with the real router and delivery worker on the real Kafka broker.

Blocks 1 and 2 make the key and print its public half; the test registers that as the
operator would, then runs blocks 2 to 5 (2 again, for the key id) with ``BROKER`` and ``ORG``
set as the page's untitled block sets them.
"""

import asyncio
import json
import os
import re
from pathlib import Path

import pytest
from sqlalchemy import select
from support import run_script, served

from broker.adapters import db
from broker.bootstrap import Runtime
from broker.config import Settings
from broker.entrypoints.gateway import create_gateway
from broker.fixtures.partnership import AREA
from broker.services.directory_admin import put_organisation
from schemas.directory import OrganisationSpec, SigningKeySpec

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[2] / "docs" / "event-signature.md"
TITLED_BLOCK = re.compile(r'^```sh title="([^"]+)"\n(.*?)^```', re.MULTILINE | re.DOTALL)
ORG = "mh-openssl"
PUBLIC_KEY = re.compile(r"^[A-Za-z0-9+/]{43}=$", re.MULTILINE)


def documented_blocks() -> dict[str, str]:
    return dict(TITLED_BLOCK.findall(DOC.read_text()))


async def run_shell(script: str, folder: Path, **env: str) -> str:
    """``script`` run by ``sh -eu``, as the README's reader would, in this environment."""
    return await run_script(["sh", "-eu"], script, folder, os.environ | env)


async def register(rt: Runtime, public_key: str) -> None:
    """The operator's step: an organisation registered with the printed public key."""
    spec = OrganisationSpec(id=ORG, name="Openssl Example Mental Health Service",
                            kind="mental_health", area=AREA,
                            signing_keys=(SigningKeySpec(public_key=public_key),))  # fmt: skip
    async with rt.unit_of_work() as uow:
        await put_organisation(uow, spec, "operator")


async def routed_notices(rt: Runtime, event_id: str) -> list[str]:
    """The notices the router made from the event, once it has made any."""
    async with asyncio.timeout(60):
        while True:
            async with rt.sessions() as session:
                found = list(await session.scalars(
                    select(db.NoticeRecord.notice_id).where(db.NoticeRecord.event_id == event_id)
                ))  # fmt: skip
            if found:
                return found
            await asyncio.sleep(0.2)


class TestOpensslExample:
    def test_the_page_has_the_five_steps(self) -> None:
        """The worked example is five titled blocks, in order."""
        assert [title[:2] for title in documented_blocks()] == ["1.", "2.", "3.", "4.", "5."]

    async def test_documented_commands_publish_an_event_the_router_routes(
        self, settings: Settings, running_broker: Runtime, tmp_path: Path
    ) -> None:
        """The page's commands, as written, make a key, sign an event and a client assertion
        with openssl and post them with curl: the gateway answers 202 and the router, checking
        the signature again with the registered key, routes the event."""
        make_key, public_part, write_event, get_token, post = documented_blocks().values()
        printed = await run_shell(make_key + public_part, tmp_path)
        [public_key] = PUBLIC_KEY.findall(printed)
        await register(running_broker, public_key)
        async with served(create_gateway(settings), settings) as url:
            answer = await run_shell(public_part + write_event + get_token + post, tmp_path,
                                     BROKER=url, ORG=ORG)  # fmt: skip
        event_id = json.loads((tmp_path / "event.json").read_text())["event_id"]
        body, status = answer.strip().splitlines()[-2:]
        assert status == "HTTP status 202"
        assert json.loads(body) == {"event_id": event_id, "status": "accepted"}
        assert await routed_notices(running_broker, event_id)
