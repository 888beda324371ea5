"""Registering a peer broker through the admin API, on SQLite and on PostgreSQL: the peer is an
organisation with its signing keys and one contact holding its broker key, its areas become
routes in the directory's front-door map, every change is logged and audited, and its keys
rotate through approval as any organisation's do (issue 16, item 2)."""

import shutil
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from support import as_org

from broker.adapters import audit, db
from broker.adapters.directory import SqlDirectory
from broker.config import Settings
from broker.entrypoints.admin_api import create_admin_api
from producers import crypto
from schemas.events import PersonRef

pytestmark = pytest.mark.integration
Sessions = async_sessionmaker[AsyncSession]

ADMIN, ADMIN_KEY = "partnership-admin", Ed25519PrivateKey.generate()
SECOND, SECOND_KEY = "partnership-admin-2", Ed25519PrivateKey.generate()
OWN_FRONT_DOOR_AREA = "E09000099"  # the administrators' own organisation's area
PEER_AREAS = ["E08000001", "E08000002"]


def peer(org_id: str = "peer-north", **changes: Any) -> dict[str, Any]:
    signing = crypto.encode_public(Ed25519PrivateKey.generate().public_key())
    return {"id": org_id, "name": "North partnership", "areas": PEER_AREAS,
            "gateway_url": "http://127.0.0.1:8443",
            "broker_key": crypto.encode_public(X25519PrivateKey.generate().public_key()),
            "signing_keys": [{"public_key": signing}],
            "known_there_as": "south-partnership"} | changes  # fmt: skip


@pytest.fixture
def settings(tmp_path: Path, database_url: str, broker_keys_template: Path) -> Settings:
    shutil.copytree(broker_keys_template, tmp_path / "keys")  # as made by KeyStore.create
    return Settings(database_url=database_url, keys_dir=tmp_path / "keys", log_json=True,
                    administrators=[ADMIN, SECOND],
                    webhooks={"allowed_networks": ["127.0.0.0/8"]})  # fmt: skip


@pytest.fixture
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    engine = db.make_engine(settings.database_url)
    await db.create_schema(engine)
    async with db.sessions(engine).begin() as session:
        for org_id, key in ((ADMIN, ADMIN_KEY), (SECOND, SECOND_KEY)):
            session.add(db.Organisation(id=org_id, name="Partnership admin", kind="front_door",
                                        area=OWN_FRONT_DOOR_AREA))  # fmt: skip
            await session.flush()
            public = key.public_key()
            session.add(db.OrgSigningKey(org_id=org_id, key_id=crypto.key_id(public),
                                         public_key=crypto.encode_public(public)))  # fmt: skip
    await engine.dispose()
    app = create_admin_api(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def api(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with as_org(app, ADMIN, ADMIN_KEY) as first:
        yield first


@pytest.fixture
async def sessions(settings: Settings, api: httpx.AsyncClient) -> AsyncIterator[Sessions]:
    engine = db.make_engine(settings.database_url)
    yield db.sessions(engine)
    await engine.dispose()


async def every(sessions: Sessions, model: type[db.Base]) -> list[Any]:
    async with sessions() as session:
        return list((await session.scalars(select(model))).all())


class TestRegisteringAPeer:
    async def test_the_peer_is_an_organisation_with_its_keys_and_one_contact(
        self, api: httpx.AsyncClient, sessions: Sessions
    ) -> None:
        """The organisation (kind peer_broker), its signing key, and its contact: the broker
        key as recipient key, the peer's transfers endpoint as webhook."""
        body = peer()
        answer = await api.put("/v1/admin/peers/peer-north", json=body)
        assert answer.status_code == 200, answer.text
        assert answer.json() == {"id": "peer-north", "action": "created",
                                 "pending_key_changes": []}  # fmt: skip
        async with sessions() as session:
            org = await session.get(db.Organisation, "peer-north")
            contact = await session.get(db.Contact, "peer-north:duty_manager")
            keys = (await session.scalars(select(db.OrgSigningKey).where(
                db.OrgSigningKey.org_id == "peer-north"))).all()  # fmt: skip
            gateway = await session.get(db.Peer, "peer-north")
        assert org is not None
        assert org.kind == "peer_broker"
        assert [k.public_key for k in keys] == [body["signing_keys"][0]["public_key"]]
        assert contact is not None
        assert contact.role == "duty_manager"
        assert contact.hpke_public_key == body["broker_key"]
        assert contact.webhook_url == "http://127.0.0.1:8443/v1/peers/transfers"
        assert gateway is not None
        assert gateway.known_there_as == "south-partnership"
        areas = await every(sessions, db.PeerArea)
        assert sorted(a.area for a in areas) == PEER_AREAS

    async def test_registration_is_logged_and_audited_by_field(
        self, api: httpx.AsyncClient, sessions: Sessions
    ) -> None:
        """The change log names the organisation, its contact and the peer's fields, and the
        audit log has an entry for each, under the administrator who registered it."""
        await api.put("/v1/admin/peers/peer-north", json=peer())
        changes = await every(sessions, db.DirectoryChange)
        mine = [(c.entity, c.entity_id) for c in changes if c.actor == ADMIN]
        assert ("organisation", "peer-north") in mine
        assert ("contact", "peer-north:duty_manager") in mine
        fields = {f for c in changes if c.entity == "organisation" for f in c.fields.split(",")}
        assert {"peer_gateway_url", "peer_known_there_as", "peer_areas"} <= fields
        audited = await every(sessions, audit.AuditEntry)
        assert sum(1 for a in audited if a.actor == ADMIN and "peer-north" in a.subject_ref) >= 3

    async def test_its_areas_are_routes_to_the_peer(
        self, api: httpx.AsyncClient, sessions: Sessions
    ) -> None:
        """A move to an area the peer serves finds the peer where a front door would be; the
        partnership's own front door keeps its area."""
        await api.put(
            "/v1/admin/peers/peer-north", json=peer(areas=[*PEER_AREAS, OWN_FRONT_DOOR_AREA])
        )
        async with sessions() as session:
            nobody = PersonRef(nhs_number="9990000018")
            family = (await SqlDirectory(session).family_for([nobody], ADMIN)).family
        assert family.front_door(PEER_AREAS[0]) == "peer-north"
        assert family.front_door(PEER_AREAS[1]) == "peer-north"
        assert family.front_door(OWN_FRONT_DOOR_AREA) in {ADMIN, SECOND}

    async def test_registering_it_again_unchanged_changes_nothing(
        self, api: httpx.AsyncClient
    ) -> None:
        """The same registration again: unchanged, nothing held."""
        body = peer()
        await api.put("/v1/admin/peers/peer-north", json=body)
        again = await api.put("/v1/admin/peers/peer-north", json=body)
        assert again.status_code == 200
        assert again.json()["action"] == "unchanged"

    async def test_a_new_signing_key_is_held_for_another_administrators_approval(
        self, app: FastAPI, api: httpx.AsyncClient, sessions: Sessions
    ) -> None:
        """A peer's keys rotate as any organisation's: held (202), applied once the second
        administrator approves; meanwhile the old key stands, and the areas change at once."""
        first = peer()
        await api.put("/v1/admin/peers/peer-north", json=first)
        rotated = peer(areas=PEER_AREAS[:1], broker_key=first["broker_key"])
        held = await api.put("/v1/admin/peers/peer-north", json=rotated)
        assert held.status_code == 202, held.text
        [change] = held.json()["pending_key_changes"]
        assert sorted(a.area for a in await every(sessions, db.PeerArea)) == PEER_AREAS[:1]
        old = first["signing_keys"][0]["public_key"]
        assert [k.public_key for k in await every(sessions, db.OrgSigningKey)
                if k.org_id == "peer-north"] == [old]  # fmt: skip
        async with as_org(app, SECOND, SECOND_KEY) as second:
            approved = await second.post(f"/v1/admin/key-changes/{change}/approval")
        assert approved.status_code == 200, approved.text
        new = rotated["signing_keys"][0]["public_key"]
        assert [k.public_key for k in await every(sessions, db.OrgSigningKey)
                if k.org_id == "peer-north"] == [new]  # fmt: skip


class TestRefusedRegistrations:
    async def test_an_area_another_peer_serves_is_a_conflict(self, api: httpx.AsyncClient) -> None:
        """One authority, one peer: the second claim is a 409 naming the area and the peer."""
        await api.put("/v1/admin/peers/peer-north", json=peer())
        other = await api.put("/v1/admin/peers/peer-east", json=peer("peer-east"))
        assert other.status_code == 409
        assert "peer-north" in other.json()["detail"]

    async def test_an_organisation_of_another_kind_is_not_made_a_peer(
        self, api: httpx.AsyncClient
    ) -> None:
        """Registering a peer under a front door's id is a 409, and changes nothing."""
        answer = await api.put(f"/v1/admin/peers/{SECOND}", json=peer(SECOND))
        assert answer.status_code == 409

    async def test_a_gateway_url_with_a_path_is_refused_naming_the_field(
        self, api: httpx.AsyncClient
    ) -> None:
        """422 naming gateway_url, without echoing it."""
        answer = await api.put(
            "/v1/admin/peers/peer-north", json=peer(gateway_url="https://north.example/secret-path")
        )
        assert answer.status_code == 422
        assert "gateway_url" in answer.text
        assert "secret-path" not in answer.text

    @pytest.mark.parametrize(("given", "kept"), [
        ({"api_url": "http://127.0.0.1:8444"}, "http://127.0.0.1:8444"),
        ({}, "http://127.0.0.1:8443"),  # none given: the recipient API is at the gateway
    ])  # fmt: skip
    async def test_its_recipient_api_is_kept_apart_from_its_gateway(
        self, api: httpx.AsyncClient, sessions: Sessions, given: dict[str, str], kept: str
    ) -> None:
        """Receipts go to the peer's recipient API, which may listen on a port of its own:
        its URL is kept as given, or as the gateway's when none is given."""
        answer = await api.put("/v1/admin/peers/peer-north", json=peer(**given))
        assert answer.status_code == 200, answer.text
        async with sessions() as session:
            row = await session.get(db.Peer, "peer-north")
        assert row is not None
        assert (row.gateway_url, row.api_url) == ("http://127.0.0.1:8443", kept)

    async def test_an_api_url_with_a_path_is_refused_naming_the_field(
        self, api: httpx.AsyncClient
    ) -> None:
        """422 naming api_url, without echoing it."""
        answer = await api.put(
            "/v1/admin/peers/peer-north", json=peer(api_url="https://north.example/secret-path")
        )
        assert answer.status_code == 422
        assert "api_url" in answer.text
        assert "secret-path" not in answer.text

    @pytest.mark.parametrize(("field", "address", "url"), [
        ("gateway_url", "169.254.169.254", "https://169.254.169.254"),  # a cloud's metadata
        ("api_url", "10.20.30.40", "https://10.20.30.40:8444"),  # the broker's own network
        ("api_url", "192.168.1.9", "https://[::ffff:192.168.1.9]"),  # IPv4 in IPv6 clothing
    ])  # fmt: skip
    async def test_a_url_at_an_address_the_broker_may_not_reach_is_refused(
        self, api: httpx.AsyncClient, sessions: Sessions, field: str, address: str, url: str
    ) -> None:
        """The webhook address check (loopback allowed here, as in tests): 422 naming the
        field, without echoing the address; nothing registered."""
        answer = await api.put("/v1/admin/peers/peer-north", json=peer(**{field: url}))
        assert answer.status_code == 422, answer.text
        assert answer.json()["errors"][0]["field"] == f"body.{field}"
        assert address not in answer.text
        assert await every(sessions, db.Peer) == []

    async def test_the_path_and_body_must_name_the_same_peer(self, api: httpx.AsyncClient) -> None:
        """422 for a body naming another peer than the path."""
        answer = await api.put("/v1/admin/peers/peer-east", json=peer())
        assert answer.status_code == 422
