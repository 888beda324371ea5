"""The two-person rule across the admin API and the command line (issue 18, part 1), on
SQLite and PostgreSQL: an operator at the command line and an administrator organisation
are actors of different kinds, so an operator who names themselves after an administrator
is not that administrator, and a name that could pass for another kind is refused. Changes
recorded before actors had kinds (a bare name) are judged by name alone, as they were."""

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from typer.testing import CliRunner, Result

from broker.adapters import db
from broker.config import Settings
from broker.entrypoints.cli import app as sgb_app
from tests.integration import test_admin_api as admin_api_tests
from tests.integration.test_admin_api import ADMIN, organisation, put, signing_key

# The admin API's fixtures (its own database per backend, two administrators), shared.
admin_settings, app, api = admin_api_tests.admin_settings, admin_api_tests.app, admin_api_tests.api
second, database = admin_api_tests.second, admin_api_tests.database

pytestmark = pytest.mark.integration
Sessions = async_sessionmaker[AsyncSession]


async def sgb(settings: Settings, *args: str) -> Result:
    """The ``sgb`` command on the admin API's database, in a thread (it runs its own loop)."""
    env = {"SGB_DATABASE_URL": settings.database_url, "SGB_KEYS_DIR": str(settings.keys_dir)}
    return await asyncio.to_thread(CliRunner().invoke, sgb_app, list(args), env=env)


async def held_by_admin(api: httpx.AsyncClient) -> str:
    """School A on record, then its signing keys changed by the first administrator."""
    await put(api, "organisations/school-a", organisation("school-a"))
    held = await put(api, "organisations/school-a",
                     organisation("school-a", signing_keys=[signing_key()]))  # fmt: skip
    assert held.status_code == 202, held.text
    change_id: str = held.json()["change_id"]
    return change_id


async def recorded_before_kinds(sessions: Sessions, requested_by: str) -> str:
    """A pending change as recorded before actors had kinds: under a bare name."""
    spec: dict[str, Any] = organisation("school-a", signing_keys=[signing_key()])
    async with sessions.begin() as session:
        session.add(db.PendingKeyChange(
            id="00000000-0000-4000-8000-000000000001", entity="organisation",
            entity_id="school-a", org_id="school-a", spec=json.dumps(spec),
            key_ids="k", requested_by=requested_by, requested_at=datetime.now(UTC)))  # fmt: skip
    return "00000000-0000-4000-8000-000000000001"


class TestOperatorNamedAsAnAdministrator:
    async def test_cannot_withdraw_the_administrator_s_change(
        self, admin_settings: Settings, api: httpx.AsyncClient
    ) -> None:
        """Operator partnership-admin is not administrator partnership-admin: refused, exit
        1, one line; the change still awaits approval."""
        change_id = await held_by_admin(api)
        ran = await sgb(admin_settings, "key-changes", "withdraw", change_id, "--operator", ADMIN)
        assert ran.exit_code == 1, ran.output
        assert "only the administrator who asked" in ran.output
        assert [c["change_id"] for c in (await api.get("/v1/admin/key-changes")).json()] == [
            change_id]  # fmt: skip

    @pytest.mark.parametrize("name", [f"admin:{ADMIN}", f"operator:{ADMIN}"])
    async def test_a_name_spelled_as_an_actor_is_refused(
        self, admin_settings: Settings, api: httpx.AsyncClient, name: str
    ) -> None:
        """A name holding the kind separator is refused before anything is done: exit 2,
        one line on standard error."""
        change_id = await held_by_admin(api)
        ran = await sgb(admin_settings, "key-changes", "approve", change_id, "--operator", name)
        assert ran.exit_code == 2
        assert ran.output.count("\n") == 1
        assert "cannot contain ':'" in ran.output
        assert len((await api.get("/v1/admin/key-changes")).json()) == 1

    async def test_an_operator_s_change_is_approved_by_an_administrator(
        self, admin_settings: Settings, api: httpx.AsyncClient
    ) -> None:
        """Held by an operator at the command line, listed with its kind, approved by an
        administrator of the same name: two people, two kinds."""
        await put(api, "organisations/school-a", organisation("school-a"))
        key = signing_key()["public_key"]
        held = await sgb(admin_settings, "org", "key", "add", "school-a", key, "--operator", ADMIN)
        assert held.exit_code == 0, held.output
        [listed] = (await api.get("/v1/admin/key-changes")).json()
        assert listed["requested_by"] == f"operator:{ADMIN}"
        done = await api.post(f"/v1/admin/key-changes/{listed['change_id']}/approval")
        assert done.json() == {"id": "school-a", "action": "updated"}


class TestChangesRecordedBeforeKinds:
    async def test_its_requester_cannot_approve_it(
        self, api: httpx.AsyncClient, second: httpx.AsyncClient, database: Sessions
    ) -> None:
        """Recorded under the bare name partnership-admin: that administrator is refused
        (403), the second administrator approves it."""
        change_id = await recorded_before_kinds(database, ADMIN)
        await put(api, "organisations/school-a", organisation("school-a"))
        own = await api.post(f"/v1/admin/key-changes/{change_id}/approval")
        assert own.status_code == 403
        other = await second.post(f"/v1/admin/key-changes/{change_id}/approval")
        assert other.json() == {"id": "school-a", "action": "updated"}

    async def test_an_operator_of_that_name_cannot_approve_it(
        self, admin_settings: Settings, database: Sessions
    ) -> None:
        """A bare name could have been either kind: the operator of that name is refused
        too, never more loosely than before."""
        change_id = await recorded_before_kinds(database, ADMIN)
        ran = await sgb(admin_settings, "key-changes", "approve", change_id, "--operator", ADMIN)
        assert ran.exit_code == 1
        assert "another administrator" in ran.output
