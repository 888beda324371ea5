"""Contacts' alert channels in the directory, on SQLite and PostgreSQL: set whole through the
admin API (validated, logged by field name, never by value), read back, imported from CSV,
and the failing-alerts report; no address in any log line or error."""

import asyncio
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from fastapi import FastAPI
from structlog.testing import capture_logs
from support import OrgTokens, audited_sessions
from typer.testing import CliRunner

from broker.adapters import db
from broker.adapters.alert_channels_csv import read_alert_channels
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.config import Settings
from broker.entrypoints import cli
from broker.entrypoints.admin_api import create_admin_api
from broker.errors import CsvImportError
from broker.services import alert_channels
from producers import crypto

pytestmark = pytest.mark.integration

ADMIN, ADMIN_KEY = "partnership-admin", Ed25519PrivateKey.generate()
KEY_ADULT = "school-1:key_adult"
URL = f"/v1/admin/contacts/{KEY_ADULT}/alert-channels"
EMAIL, MOBILE = "dsl@oakfield.example.org", "07700 900123"


@pytest.fixture
def admin_settings(tmp_path: Path, database_url: str, broker_keys_template: Path) -> Settings:
    shutil.copytree(broker_keys_template, tmp_path / "keys")  # as made by KeyStore.create
    return Settings(
        database_url=database_url, keys_dir=tmp_path / "keys", log_json=True, administrators=[ADMIN]
    )


async def seed(settings: Settings) -> None:
    """The administrator and a school with its key adult, put in place outside the API."""
    engine = db.make_engine(settings.database_url)
    await db.create_schema(engine)
    async with db.sessions(engine).begin() as session:
        session.add(
            db.Organisation(id=ADMIN, name="Partnership admin", kind="front_door", area="E09000099")
        )
        session.add(
            db.Organisation(
                id="school-1",
                name="Oakfield Primary School",
                kind="school",
                area="E09000099",
                session_start="08:45",
            )
        )
        await session.flush()
        public = ADMIN_KEY.public_key()
        session.add(
            db.OrgSigningKey(
                org_id=ADMIN, key_id=crypto.key_id(public), public_key=crypto.encode_public(public)
            )
        )
        key = crypto.encode_public(X25519PrivateKey.generate().public_key())
        session.add(
            db.Contact(
                id=KEY_ADULT, org_id="school-1", role="key_adult", hpke_public_key=key, key_id="k1"
            )
        )
    await engine.dispose()


@pytest.fixture
async def app(admin_settings: Settings) -> AsyncIterator[FastAPI]:
    await seed(admin_settings)
    app = create_admin_api(admin_settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    auth = OrgTokens({ADMIN: ADMIN_KEY}, lambda _request: ADMIN)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://t", auth=auth) as client:
        yield client


class TestAlertChannelsApi:
    async def test_set_whole_and_read_back(self, api: httpx.AsyncClient) -> None:
        """A PUT sets the contact's channels (the mobile in E.164); the same again is
        unchanged; the change log names the field, never an address."""
        body = {"emails": [EMAIL], "mobile": MOBILE}
        with capture_logs() as logs:
            first = await api.put(URL, json=body)
            again = await api.put(URL, json=body)
        assert (first.status_code, first.json()) == (200, {"id": KEY_ADULT, "action": "updated"})
        assert again.json()["action"] == "unchanged"
        assert (await api.get(URL)).json() == {"emails": [EMAIL], "mobile": "+447700900123"}
        changes = (await api.get("/v1/admin/changes")).json()
        assert [(c["entity_id"], c["fields"]) for c in changes] == [(KEY_ADULT, ["alert_channels"])]
        assert EMAIL not in repr(logs)
        assert "900123" not in repr(logs)

    async def test_none_is_no_alerts(self, api: httpx.AsyncClient) -> None:
        """An empty body removes every channel."""
        await api.put(URL, json={"emails": [EMAIL]})
        assert (await api.put(URL, json={})).json()["action"] == "updated"
        assert (await api.get(URL)).json() == {"emails": [], "mobile": None}

    @pytest.mark.parametrize(
        ("body", "field"),
        [
            ({"emails": ["not-an-address"]}, "emails"),
            ({"mobile": "020 7946 0000"}, "mobile"),
            ({"emails": [EMAIL, EMAIL]}, "emails"),
        ],
    )
    async def test_bad_input_is_a_422_naming_the_field_not_the_value(
        self, api: httpx.AsyncClient, body: dict[str, object], field: str
    ) -> None:
        """An address that is not one, a number that is not a UK mobile, a repeat: refused,
        the error naming the field and never quoting what was sent."""
        answer = await api.put(URL, json=body)
        assert answer.status_code == 422
        assert field in answer.text
        assert "not-an-address" not in answer.text
        assert "7946" not in answer.text

    async def test_an_unknown_contact_is_a_conflict(self, api: httpx.AsyncClient) -> None:
        """Channels for a contact the directory lacks are refused, not kept."""
        answer = await api.put("/v1/admin/contacts/nobody/alert-channels", json={})
        assert answer.status_code == 409

    async def test_the_failing_report_starts_empty(self, api: httpx.AsyncClient) -> None:
        """The report answers for the administrator (nothing has failed yet)."""
        answer = await api.get("/v1/admin/alerts/failing")
        assert (answer.status_code, answer.json()) == (200, [])


class TestAlertChannelsCsv:
    async def test_a_file_sets_each_contact_named(
        self, app: FastAPI, admin_settings: Settings, tmp_path: Path
    ) -> None:
        """One row per channel; the contact gets exactly those, logged as one change."""
        path = tmp_path / "alert_channels.csv"
        path.write_text(
            f"contact_id,email,mobile\n{KEY_ADULT},{EMAIL},\n"
            f"{KEY_ADULT},deputy@oakfield.example.org,{MOBILE}\n"
        )
        specs = read_alert_channels(path)
        async with audited_sessions(admin_settings) as sessions:
            async with SqlUnitOfWork(sessions) as uow:
                counts = await alert_channels.set_many(uow, specs, "csv", datetime.now(UTC))
            async with SqlUnitOfWork(sessions) as uow:
                spec = await alert_channels.channels_of(uow, KEY_ADULT)
        assert counts == {"updated": 1}
        assert spec.emails == (EMAIL, "deputy@oakfield.example.org")
        assert spec.mobile == "+447700900123"

    @pytest.mark.parametrize(
        ("rows", "where"),
        [
            ("contact_id,email\nx,not-an-address\n", "row 2, field emails.0"),
            ("contact_id,email,mobile\nx,,07700900123\nx,,07700900124\n", "row 2, field mobile"),
            ("contact_id,phone\nx,1\n", "row 1, field phone"),
        ],
    )
    def test_a_fault_names_its_row_and_field_never_the_value(
        self, tmp_path: Path, rows: str, where: str
    ) -> None:
        """A bad address, two mobiles, an unknown column: where, never what."""
        path = tmp_path / "alert_channels.csv"
        path.write_text(rows)
        with pytest.raises(CsvImportError) as raised:
            read_alert_channels(path)
        assert where in str(raised.value)
        assert "not-an-address" not in str(raised.value)
        assert "0770" not in str(raised.value)


class TestContactCli:
    def test_set_show_and_clear(
        self, admin_settings: Settings, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """``sgb contact alerts`` sets the channels, shows them back, clears them; a bad
        number changes nothing and is named by its field alone."""
        asyncio.run(seed(admin_settings))
        monkeypatch.setenv("SGB_DATABASE_URL", admin_settings.database_url)
        monkeypatch.setenv("SGB_KEYS_DIR", str(admin_settings.keys_dir))
        runner = CliRunner()
        sgb = ["contact", "alerts", KEY_ADULT]
        done = runner.invoke(cli.app, [*sgb, "--email", EMAIL, "--mobile", MOBILE,
                                       "--operator", "ops"])  # fmt: skip
        assert (done.exit_code, done.output.strip()) == (0, "alert channels: 1 updated")
        shown = runner.invoke(cli.app, sgb)
        assert shown.output.strip() == (f'{{"emails":["{EMAIL}"],"mobile":"+447700900123"}}')
        bad = runner.invoke(cli.app, [*sgb, "--mobile", "020 7946 0000", "--operator", "ops"])
        assert bad.exit_code == 1
        assert "invalid mobile" in bad.output
        assert "7946" not in bad.output
        cleared = runner.invoke(cli.app, [*sgb, "--clear", "--operator", "ops"])
        assert cleared.exit_code == 0
        assert runner.invoke(cli.app, sgb).output.strip() == '{"emails":[],"mobile":null}'
        failing = runner.invoke(cli.app, ["contact", "alerts-failing"])
        assert failing.output.strip() == "no failing alerts"
