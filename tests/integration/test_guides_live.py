"""The guides' ``curl`` blocks (docs/onboarding-an-agency.md, docs/integrating-as-a-recipient.md)
run as written, by bash, against the real admin API, gateway and inbox API served by uvicorn
on loopback, on the real Kafka broker and database: a guide that drifts from the API fails
here. The openssl blocks before them make the keys, as in tests/integration/test_guides.py;
the variables a reader sets by hand (``$ADMIN``, ``$TOKEN``, ``$NOTICE_ID``...) the test sets.
"""

import json
import os
import shutil
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from support import (
    post_signed,
    run_script,
    served,
    suicidal_crisis,
    token_request,
    wait_for_notices,
)

from broker.adapters import db
from broker.bootstrap import Runtime
from broker.config import Settings
from broker.entrypoints.admin_api import create_admin_api
from broker.entrypoints.gateway import create_gateway
from broker.entrypoints.inbox_api import create_inbox_api
from tests.integration.test_guides import block

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(shutil.which("openssl") is None or shutil.which("curl") is None,
                       reason="openssl and curl run the guides"),
]  # fmt: skip

ADMINISTRATORS = ("la-front-door", "mh-demo")  # two organisations of the demo partnership
MOTHERS_GP = "gp-riverside:safeguarding_lead"
FATHERS_GP = "gp-hillview:safeguarding_lead"


async def bash(script: str, folder: Path, **env: str) -> str:
    """``script`` run by ``bash -euo pipefail`` with only PATH and ``env`` set."""
    return await run_script(
        ["bash", "-euo", "pipefail"],
        script,
        folder,
        {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
    )


async def token_for(url: str, org: str, key: Ed25519PrivateKey) -> str:
    """An access token from the served API's token endpoint, as step 3 of the guide gets one."""
    async with httpx.AsyncClient() as client:
        answer = await client.send(token_request(httpx.URL(f"{url}/v1/oauth/token"), org, key))
    assert answer.status_code == 200, answer.text
    token: str = answer.json()["access_token"]
    return token


async def signing_keys_of(settings: Settings, org_id: str) -> list[str]:
    engine = db.make_engine(settings.database_url)
    async with db.sessions(engine)() as session:
        keys = list(
            await session.scalars(
                select(db.OrgSigningKey.public_key).where(db.OrgSigningKey.org_id == org_id)
            )
        )
    await engine.dispose()
    return keys  # fmt: skip


class TestAgencyGuideLive:
    async def test_registered_approved_granted_and_published_as_written(
        self, settings: Settings, directory: None,
        producer_keys: dict[str, Ed25519PrivateKey], tmp_path: Path,
    ) -> None:  # fmt: skip
        """The agency's key made with openssl; the admin API block registers gp-elm with it
        and a second administrator approves (the key is then on record); the token block gets
        a token from the gateway's endpoint and the publish block posts the signed event: 202
        accepted."""
        config = settings.model_copy(update={"administrators": list(ADMINISTRATORS)})
        # Run once, as the agency runs it (again would make another key); KEY_ID carried on.
        key_id = (await bash(block("agency-keys"), tmp_path)).strip().splitlines()[-1]
        async with served(create_admin_api(config), config) as admin:
            first, second = [await token_for(admin, org, producer_keys[org])
                             for org in ADMINISTRATORS]  # fmt: skip
            await bash(block("admin-api"), tmp_path, ADMIN=admin,
                       TOKEN=first, OTHER_ADMINS_TOKEN=second)  # fmt: skip
        assert len(await signing_keys_of(config, "gp-elm")) == 1
        async with served(create_gateway(config), config) as gateway:
            script = block("token") + block("get-token") + block("sign-event") + block("publish")
            answer = await bash(script, tmp_path, GATEWAY=gateway, KEY_ID=key_id,
                                TOKEN_URL=f"{gateway}/v1/oauth/token")  # fmt: skip
        event_id = json.loads((tmp_path / "event.json").read_text())["event_id"]
        assert json.loads(answer.strip().splitlines()[-1]) == {
            "event_id": event_id, "status": "accepted"}  # fmt: skip


class TestRecipientGuideLive:
    async def test_read_acknowledged_and_rejected_as_written(
        self, settings: Settings, gateway: httpx.AsyncClient, inbox: httpx.AsyncClient,
        producer_keys: dict[str, Ed25519PrivateKey], running_broker: Runtime, tmp_path: Path,
    ) -> None:  # fmt: skip
        """A crisis routed to the mother's and the father's GPs; on the served inbox API the
        reading block lists and fetches the mother's GP's notice, the acknowledging block
        marks it viewed and acknowledged, and the rejecting block rejects the father's GP's."""
        assert (await post_signed(gateway, suicidal_crisis(), producer_keys)).status_code == 202
        [mine] = await wait_for_notices(inbox, MOTHERS_GP, 1)
        [theirs] = await wait_for_notices(inbox, FATHERS_GP, 1)
        async with served(create_inbox_api(settings), settings) as url:
            for recipient, notice, blocks in (
                (MOTHERS_GP, mine, ("inbox-read", "acknowledge")),
                (FATHERS_GP, theirs, ("reject",)),
            ):
                org = recipient.split(":")[0]
                token = await token_for(url, org, producer_keys[org])
                await bash("".join(block(b) for b in blocks), tmp_path, INBOX=url, TOKEN=token,
                           RECIPIENT=recipient, NOTICE_ID=notice["notice_id"])  # fmt: skip
        [acknowledged] = (await inbox.get(f"/v1/recipients/{MOTHERS_GP}/notices")).json()
        assert acknowledged["viewed_at"] is not None
        assert acknowledged["acknowledged_at"] is not None
        [rejected] = (await inbox.get(f"/v1/recipients/{FATHERS_GP}/notices")).json()
        assert rejected["rejected_at"] is not None
