"""Broker A pushes a transfer to broker B's gateway (issue 16, item 3, outbound): A's delivery
worker sends the transfer notice, signed by A and sealed to B's broker key, as a webhook with
an access token from B's own token endpoint (private_key_jwt as A's organisation at B); B keeps
it, and B's router timer accepts it as A's move. Two brokers side by side: A the demo
partnership on the test's database and topics, B on a database, keys and topic prefix of its
own, its gateway served by uvicorn on loopback. Real Kafka."""

import asyncio
import socket
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from ipaddress import IPv4Network
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from support import post_signed

from broker.adapters import db
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.bootstrap import Runtime, runtime
from broker.config import Settings, WebhookSettings
from broker.demo import family
from broker.entrypoints.gateway import create_gateway
from broker.keys import KeyStore, audit_key
from broker.rules import actors
from broker.services import peers
from producers import crypto
from schemas.directory import SigningKeySpec
from schemas.peers import PeerSpec

pytestmark = pytest.mark.integration

LOOPBACK = IPv4Network("127.0.0.0/8")
A_AT_B, B_AT_A = "demo-partnership", "peer-north"
NORTH = "E08000001"
Sessions = async_sessionmaker[AsyncSession]


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Broker A: quick webhook retries, B's gateway on loopback allowed (never in production)."""
    webhooks = WebhookSettings(timeout_seconds=5, backoff_base_seconds=0.05,
                               backoff_cap_seconds=0.2, poll_seconds=0.05,
                               max_attempts=100, breaker_cool_down_seconds=0.5,
                               allowed_networks=[LOOPBACK])  # fmt: skip
    return settings.model_copy(update={"webhooks": webhooks})


@pytest.fixture
def b_settings(tmp_path: Path, settings: Settings) -> Settings:
    """Broker B: its own keys, database and topic prefix, on the same Kafka."""
    KeyStore.create(tmp_path / "b-keys")
    return settings.model_copy(update={
        "database_url": f"sqlite+aiosqlite:///{tmp_path / 'b.db'}",
        "keys_dir": tmp_path / "b-keys", "topic_prefix": f"{settings.topic_prefix}b.",
        "router_group": f"{settings.topic_prefix}b.router",
        "delivery_group": f"{settings.topic_prefix}b.delivery",
    })  # fmt: skip


def spec(org: str, keys: KeyStore, area: str, url: str, there_as: str) -> PeerSpec:
    return PeerSpec(id=org, name=f"{org} partnership", areas=(area,), gateway_url=url,
                    broker_key=crypto.encode_public(keys.public.hpke),
                    signing_keys=(SigningKeySpec(
                        public_key=crypto.encode_public(keys.public.signing)),),
                    known_there_as=there_as)  # fmt: skip


async def register(settings: Settings, peer: PeerSpec) -> None:
    engine = db.make_engine(settings.database_url)
    await db.create_schema(engine)
    async with SqlUnitOfWork(db.sessions(engine, audit_key(settings.keys_dir))) as uow:
        await peers.register_peer(
            uow, peer, actors.administrator("test-admin"), datetime.now(UTC), [LOOPBACK]
        )
    await engine.dispose()


class PeerGateway:
    """B's gateway on a loopback port of its own, started when the test says: until then
    the port is bound but nobody listens (connections refused: B is down)."""

    def __init__(self, settings: Settings) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.server = uvicorn.Server(uvicorn.Config(create_gateway(settings), log_config=None,
                                                    access_log=False, ws="none"))  # fmt: skip
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self.task = asyncio.create_task(self.server.serve(sockets=[self.sock]))
        async with asyncio.timeout(30):
            while not self.server.started:
                await asyncio.sleep(0.02)

    async def stop(self) -> None:
        if self.task is not None:
            self.server.should_exit = True
            await self.task
        self.sock.close()


@pytest.fixture
async def b_gateway(
    settings: Settings, b_settings: Settings, directory: None
) -> AsyncIterator[PeerGateway]:
    """B's gateway, not yet started; each broker registered at the other."""
    a_keys, b_keys = KeyStore.load(settings.keys_dir), KeyStore.load(b_settings.keys_dir)
    await register(b_settings, spec(A_AT_B, a_keys, family.AREA,
                                    "https://gateway.demo.example", B_AT_A))  # fmt: skip
    gateway = PeerGateway(b_settings)
    await register(settings, spec(B_AT_A, b_keys, NORTH, gateway.url, A_AT_B))
    try:
        yield gateway
    finally:
        await gateway.stop()


@pytest.fixture
async def b_gateway_url(b_gateway: PeerGateway) -> str:
    await b_gateway.start()
    return b_gateway.url


def moving_north() -> dict[str, Any]:
    now = datetime.now(UTC)
    return {"event_type": "family_moving_area", "event_id": str(uuid.uuid4()),
            "source_org": "la-front-door", "occurred_at": now.isoformat(),
            "members": [{"nhs_number": family.MOTHER}, {"nhs_number": family.CHILD_B}],
            "from_authority": family.AREA, "to_authority": NORTH,
            "moved_on": now.date().isoformat()}  # fmt: skip


async def eventually(settings: Settings, model: type[db.Base], *where: Any) -> Any:
    engine = db.make_engine(settings.database_url)
    try:
        async with asyncio.timeout(60):
            while True:
                async with db.sessions(engine)() as session:
                    found = await session.scalar(select(model).where(*where))
                if found is not None:
                    return found
                await asyncio.sleep(0.1)
    finally:
        await engine.dispose()


class TestPushingATransferToAPeer:
    async def test_as_transfer_reaches_bs_gateway_and_is_accepted_there_as_as_move(
        self, settings: Settings, b_settings: Settings, b_gateway_url: str,
        gateway: httpx.AsyncClient, producer_keys: dict[str, Ed25519PrivateKey],
        running_broker: Runtime,
    ) -> None:  # fmt: skip
        """A's webhook to B is answered 2xx (A records it delivered, never acknowledged); B
        keeps the transfer under its id and, in its router's timer, accepts it as the move of
        A's organisation there, under the same id."""
        event = moving_north()
        assert (await post_signed(gateway, event, producer_keys)).status_code == 202
        notice = await eventually(settings, db.NoticeRecord,
                                  db.NoticeRecord.event_id == event["event_id"],
                                  db.NoticeRecord.recipient_org == B_AT_A)  # fmt: skip
        kept = await eventually(b_settings, db.PeerTransfer,
                                db.PeerTransfer.transfer_id == notice.notice_id)  # fmt: skip
        assert kept.peer_org == A_AT_B
        delivered = await eventually(settings, db.NoticeRecord,
                                     db.NoticeRecord.notice_id == notice.notice_id,
                                     db.NoticeRecord.delivered_at.is_not(None))  # fmt: skip
        assert delivered.acknowledged_at is None
        async with runtime(b_settings, configure_logs=False) as b:
            intake = b.services.timer.peers
            assert intake is not None
            assert await intake.apply_pending(datetime.now(UTC)) == [notice.notice_id]
            assert await intake.apply_pending(datetime.now(UTC)) == []
        accepted = await eventually(b_settings, db.AcceptedEvent,
                                    db.AcceptedEvent.event_id == notice.notice_id)  # fmt: skip
        assert accepted is not None


async def attempts_of(settings: Settings, notice_id: str) -> int:
    engine = db.make_engine(settings.database_url)
    async with db.sessions(engine)() as session:
        queued = await session.scalar(select(db.WebhookDelivery.attempts).where(
            db.WebhookDelivery.notice_id == notice_id))  # fmt: skip
    await engine.dispose()
    return queued or 0


class TestPeerDownForAWhile:
    async def test_a_transfer_pushed_while_b_is_down_arrives_once_when_b_is_back(
        self, settings: Settings, b_settings: Settings, b_gateway: PeerGateway,
        gateway: httpx.AsyncClient, producer_keys: dict[str, Ed25519PrivateKey],
        running_broker: Runtime,
    ) -> None:  # fmt: skip
        """A keeps trying while B refuses connections; once B is back the transfer is kept
        there once: 0 lost, 0 doubled."""
        event = moving_north()
        assert (await post_signed(gateway, event, producer_keys)).status_code == 202
        notice = await eventually(settings, db.NoticeRecord,
                                  db.NoticeRecord.event_id == event["event_id"],
                                  db.NoticeRecord.recipient_org == B_AT_A)  # fmt: skip
        async with asyncio.timeout(60):
            while await attempts_of(settings, notice.notice_id) < 3:
                await asyncio.sleep(0.05)
        await b_gateway.start()
        await eventually(settings, db.NoticeRecord, db.NoticeRecord.notice_id == notice.notice_id,
                         db.NoticeRecord.delivered_at.is_not(None))  # fmt: skip
        engine = db.make_engine(b_settings.database_url)
        async with db.sessions(engine)() as session:
            kept = (await session.scalars(select(db.PeerTransfer))).all()
        await engine.dispose()
        assert [k.transfer_id for k in kept] == [notice.notice_id]
