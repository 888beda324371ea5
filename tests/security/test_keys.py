"""Attacks on the broker's keys and the keys it holds for others (issue 12, items 8, 15, 16,
17, 24 and 25), each made through the interface an attacker or a careless operator has: the
admin API, the CSV import, the key files and the ``sgb`` processes, the notices topic, and the
receiver helpers. Each asserts the refusal, the audit record of it, and that nothing changed."""

import base64
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from support import OrgTokens

from broker.adapters import audit, crypto, db
from broker.config import Settings
from broker.entrypoints.admin_api import create_admin_api, import_folder
from broker.keys import KeyStore
from broker.services.directory_admin import UnsealableKey

pytestmark = pytest.mark.integration

AREA = "E06000001"
ADMIN = "partnership-admin"
ADMIN_KEY = Ed25519PrivateKey.generate()
Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
def admin_settings(tmp_path: Path, database_url: str) -> Settings:
    """Its own database and broker keys; the admin API needs no Kafka."""
    KeyStore.create(tmp_path / "keys")
    return Settings(database_url=database_url, keys_dir=tmp_path / "keys", log_json=True,
                    administrators=[ADMIN])  # fmt: skip


@pytest.fixture
async def sessions(admin_settings: Settings) -> AsyncIterator[Sessions]:
    """The database as its operator sees it, with the partnership's administrator in place
    the way an install puts it there (outside the API)."""
    engine = db.make_engine(admin_settings.database_url)
    await db.create_schema(engine)
    async with db.sessions(engine).begin() as session:
        session.add(db.Organisation(id=ADMIN, name="Partnership admin", kind="front_door",
                                    area="E09000099"))  # fmt: skip
        await session.flush()
        public = ADMIN_KEY.public_key()
        session.add(db.OrgSigningKey(org_id=ADMIN, key_id=crypto.key_id(public),
                                     public_key=crypto.encode_public(public)))  # fmt: skip
    yield db.sessions(engine)
    await engine.dispose()


@pytest.fixture
async def admin_api(
    admin_settings: Settings, sessions: Sessions
) -> AsyncIterator[httpx.AsyncClient]:
    """The admin API started with its lifespan, spoken to over ASGI as the administrator."""
    app = create_admin_api(admin_settings)
    auth = OrgTokens({ADMIN: ADMIN_KEY}, lambda _request: ADMIN)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test",
                                     auth=auth) as client:  # fmt: skip
            yield client


async def all_rows(sessions: Sessions, model: type[db.Base]) -> list[Any]:
    async with sessions() as session:
        return list((await session.scalars(select(model))).all())


async def audit_entries(sessions: Sessions, action: str) -> list[audit.AuditEntry]:
    async with sessions() as session:
        query = select(audit.AuditEntry).where(audit.AuditEntry.action == action)
        return list((await session.scalars(query.order_by(audit.AuditEntry.seq))).all())


def organisation(org_id: str, **changes: Any) -> dict[str, Any]:
    return {"id": org_id, "name": f"{org_id} name", "kind": "school", "area": AREA} | changes


LOW_ORDER_KEY = base64.b64encode(bytes(32)).decode()  # X25519's all-zero point


class TestLowOrderRecipientKey:
    async def test_08_low_order_recipient_key_is_refused_at_registration(
        self, admin_api: httpx.AsyncClient, sessions: Sessions, tmp_path: Path,
        admin_settings: Settings,
    ) -> None:  # fmt: skip
        """Attack: register a contact whose X25519 key is a low-order point (all zeros),
        through the admin API and through a CSV import, so that every notice for it fails
        to seal. Both refuse it (422; the import imports nothing), each refusal is audited
        naming the contact and the field, never the key, and no contact is stored."""
        await admin_api.put("/v1/admin/organisations/school-a", json=organisation("school-a"))
        body = {"id": "school-a-dsl", "org_id": "school-a", "role": "key_adult",
                "hpke_public_key": LOW_ORDER_KEY}  # fmt: skip
        answer = await admin_api.put("/v1/admin/contacts/school-a-dsl", json=body)
        assert answer.status_code == 422
        assert answer.json()["detail"][0]["type"] == "unsealable_key"
        assert LOW_ORDER_KEY not in answer.text
        folder = tmp_path / "csv"
        folder.mkdir()
        (folder / "contacts.csv").write_text(
            f"id,org_id,role,hpke_public_key\nschool-a-dsl,school-a,key_adult,{LOW_ORDER_KEY}\n"
        )
        with pytest.raises(UnsealableKey):
            await import_folder(folder, admin_settings)
        refusals = await audit_entries(sessions, "directory_change_refused")
        assert [(r.actor, r.subject_ref) for r in refusals] == [
            ("admin-api", "contact:school-a-dsl"), ("csv-import", "contact:school-a-dsl"),
        ]  # fmt: skip
        assert all(json.loads(r.details)["reason"] == "unsealable_key" for r in refusals)
        assert all(LOW_ORDER_KEY not in r.details for r in refusals)
        assert await all_rows(sessions, db.Contact) == []


class TestCsvReimport:
    async def test_15_csv_reimport_leaves_signing_keys_alone(
        self, admin_api: httpx.AsyncClient, sessions: Sessions, tmp_path: Path,
        admin_settings: Settings,
    ) -> None:  # fmt: skip
        """Attack (or accident): re-import organisations.csv, which has no column for signing
        keys, over organisations that registered theirs, so that every event they sign is
        refused from then on. The import changes what the file states and keeps the keys;
        the change log records the change without a signing_keys field."""
        key = crypto.encode_public(Ed25519PrivateKey.generate().public_key())
        body = organisation("school-a", signing_keys=[{"public_key": key}])
        assert (await admin_api.put("/v1/admin/organisations/school-a", json=body)).is_success
        before = {(k.org_id, k.key_id) for k in await all_rows(sessions, db.OrgSigningKey)}
        folder = tmp_path / "csv"
        folder.mkdir()
        (folder / "organisations.csv").write_text(
            "id,name,kind,area\nschool-a,School A renamed,school,E06000001\n"
        )
        summary = await import_folder(folder, admin_settings)
        assert summary["organisations"]["updated"] == 1
        after = {(k.org_id, k.key_id) for k in await all_rows(sessions, db.OrgSigningKey)}
        assert after == before
        assert ("school-a", crypto.key_id(crypto.signing_public_from_text(key))) in after
        changes = await audit_entries(sessions, "directory_changed")
        import_change = [c for c in changes if c.actor == "csv-import"]
        assert [json.loads(c.details)["fields"] for c in import_change] == ["name"]
