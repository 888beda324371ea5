"""Receipts crossing the border, at the originating broker (issue 16, items 3, 4 and 7): the
demo partnership is broker A; broker B (its own keys, no database here) is registered as a
peer. A move to B's area is a transfer to B's contact; B, signed in as its organisation at A,
acknowledges it and records the transfer-in conference through A's recipient API, each once
however often it is sent; a transfer B leaves unacknowledged escalates to A's own duty manager.
Real Kafka, real database, real apps over ASGI."""

import asyncio
import atexit
import functools
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import Routed
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from support import OrgTokens, audited_sessions, wait_for_notices

from broker.adapters import db
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.bootstrap import Runtime
from broker.config import Settings
from broker.demo import family
from broker.entrypoints.inbox_api import create_inbox_api
from broker.keys import KeyStore
from broker.rules import actors
from broker.services import peers
from broker.services.peer_receipts import REJECTION_REASON
from consumers.follow_up_timer import tick
from producers import crypto
from schemas.directory import SigningKeySpec
from schemas.peers import PeerSpec

pytestmark = pytest.mark.integration

B = "peer-north"  # broker B, as an organisation at A
B_CONTACT = f"{B}:duty_manager"
NORTH = "E08000001"
FRONT_DOOR_INBOX = "la-front-door:duty_manager"


@functools.cache
def broker_b_keys() -> KeyStore:
    """Broker B's keys, made once: the move routed once a session (``SENT_TO_B``) was sent
    to B registered with them, and every test speaks as that B."""
    folder = Path(tempfile.mkdtemp(prefix="sgb-broker-b-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return KeyStore.create(folder / "keys")


@pytest.fixture
def broker_b() -> KeyStore:
    return broker_b_keys()


async def register_b(settings: Settings) -> None:
    """B registered at A as its administrator registers a peer; again changes nothing."""
    keys = broker_b_keys()
    spec = PeerSpec(id=B, name="North partnership", areas=(NORTH,),
                    gateway_url="https://gateway.north.example",
                    broker_key=crypto.encode_public(keys.public.hpke),
                    signing_keys=(SigningKeySpec(
                        public_key=crypto.encode_public(keys.public.signing)),),
                    known_there_as="demo-partnership")  # fmt: skip
    async with audited_sessions(settings) as sessions, SqlUnitOfWork(sessions) as uow:
        await peers.register_peer(uow, spec, actors.administrator("test-admin"), datetime.now(UTC))


@pytest.fixture
async def b_registered(settings: Settings, directory: None) -> None:
    await register_b(settings)


@pytest.fixture
async def as_b(settings: Settings, b_registered: None, broker_b: KeyStore
               ) -> AsyncIterator[httpx.AsyncClient]:  # fmt: skip
    """A's recipient API as broker B: private_key_jwt as B's organisation at A."""
    app = create_inbox_api(settings)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        auth = OrgTokens({B: broker_b.signing}, lambda _request: B)
        async with httpx.AsyncClient(transport=transport, base_url="http://test",
                                     auth=auth) as client:  # fmt: skip
            yield client


def moving_north() -> dict[str, Any]:
    now = datetime.now(UTC)
    return {"event_type": "family_moving_area", "event_id": str(uuid.uuid4()),
            "source_org": "la-front-door", "occurred_at": now.isoformat(),
            "members": [{"nhs_number": family.MOTHER}, {"nhs_number": family.CHILD_B}],
            "from_authority": family.AREA, "to_authority": NORTH,
            "moved_on": now.date().isoformat()}  # fmt: skip


async def transfer_to_b(settings: Settings, event_id: str) -> db.NoticeRecord:
    """A's notice to B's contact for this move, once the router has made it."""
    engine = db.make_engine(settings.database_url)
    try:
        async with asyncio.timeout(60):
            while True:
                async with db.sessions(engine)() as session:
                    found = await session.scalar(select(db.NoticeRecord).where(
                        db.NoticeRecord.event_id == event_id,
                        db.NoticeRecord.recipient_id == B_CONTACT))  # fmt: skip
                if found is not None:
                    return found
                await asyncio.sleep(0.05)
    finally:
        await engine.dispose()


async def record_of(settings: Settings, notice_id: str) -> db.NoticeRecord:
    engine = db.make_engine(settings.database_url)
    async with db.sessions(engine)() as session:
        record = await session.get(db.NoticeRecord, notice_id)
    await engine.dispose()
    assert record is not None
    return record


async def every_notice_on_its_way(sessions: async_sessionmaker[AsyncSession]) -> bool:
    """Every notice of the move published, and in its inbox or queued for its webhook (B's)."""
    async with sessions() as session:
        notices = set((await session.scalars(select(db.NoticeRecord.notice_id))).all())
        waiting = (await session.scalars(select(db.OutboxNotice.notice_id))).first()
        inboxes = set((await session.scalars(select(db.InboxNotice.notice_id))).all())
        hooks = set((await session.scalars(select(db.WebhookDelivery.notice_id))).all())
    return bool(notices) and waiting is None and notices <= inboxes | hooks


# Published at the gateway (B registered first) and routed once a session; each test a copy.
SENT_TO_B = Routed("move-to-peer", lambda: [moving_north()], every_notice_on_its_way,
                   prepare=register_b)  # fmt: skip


@pytest.fixture
def already_routed() -> Routed:
    return SENT_TO_B


@pytest.fixture
async def sent_to_b(
    settings: Settings, b_registered: None, already_routed: Routed
) -> db.NoticeRecord:
    """The front door reports the family moving to B's area; A's router has routed it
    (``already_routed``)."""
    engine = db.make_engine(settings.database_url)
    async with db.sessions(engine)() as session:
        [event_id] = (await session.scalars(select(db.NoticeRecord.event_id).where(
            db.NoticeRecord.recipient_id == B_CONTACT))).all()  # fmt: skip
    await engine.dispose()
    return await transfer_to_b(settings, event_id)


class TestTransferToAPeer:
    async def test_a_move_to_bs_area_is_a_transfer_to_bs_contact(
        self, sent_to_b: db.NoticeRecord
    ) -> None:
        """The receiving authority is B's: the transfer is B's, as a front door's would be."""
        assert sent_to_b.notice_type == "transfer"
        assert sent_to_b.recipient_org == B


class TestReceiptsFromThePeer:
    async def test_bs_acknowledgement_is_recorded_once(
        self, as_b: httpx.AsyncClient, sent_to_b: db.NoticeRecord, settings: Settings
    ) -> None:
        """B's acknowledgement stops A's clock; sent again (a retry), it is the same one."""
        url = f"/v1/recipients/{B_CONTACT}/notices/{sent_to_b.notice_id}/receipts"
        first = await as_b.post(url, json={"receipt": "acknowledged"})
        again = await as_b.post(url, json={"receipt": "acknowledged"})
        assert first.status_code == 200, first.text
        assert first.json()["first"] is True
        assert again.json()["first"] is False
        assert again.json()["at"] == first.json()["at"]
        assert (await record_of(settings, sent_to_b.notice_id)).acknowledged_at is not None

    async def test_bs_transfer_in_conference_is_recorded_once(
        self, as_b: httpx.AsyncClient, sent_to_b: db.NoticeRecord, settings: Settings
    ) -> None:
        """The conference B's front door held: the transfer's next step met at A (which
        acknowledges it too); the same again is the same record."""
        url = f"/v1/recipients/{B_CONTACT}/notices/{sent_to_b.notice_id}/conference"
        first = await as_b.post(url, json={"conference_on": "2026-12-10"})
        again = await as_b.post(url, json={"conference_on": "2026-12-10"})
        assert first.status_code == 200, first.text
        assert (first.json()["first"], again.json()["first"]) == (True, False)
        assert (await record_of(settings, sent_to_b.notice_id)).acknowledged_at is not None

    async def test_a_receipt_on_another_inbox_is_refused(
        self, as_b: httpx.AsyncClient, sent_to_b: db.NoticeRecord
    ) -> None:
        """B may speak only for its own contact at A: 403 for the front door's inbox."""
        url = f"/v1/recipients/{FRONT_DOOR_INBOX}/notices/{sent_to_b.notice_id}/receipts"
        answer = await as_b.post(url, json={"receipt": "acknowledged"})
        assert answer.status_code == 403


class TestRejectionByThePeer:
    async def test_bs_rejection_sends_the_transfer_to_as_own_front_door(
        self, as_b: httpx.AsyncClient, sent_to_b: db.NoticeRecord, running_broker: Runtime,
        inbox: httpx.AsyncClient,
    ) -> None:  # fmt: skip
        """Not theirs, B says: the transfer goes on to the originating front door here."""
        url = f"/v1/recipients/{B_CONTACT}/notices/{sent_to_b.notice_id}/receipts"
        answer = await as_b.post(url, json={"receipt": "rejected", "reason": REJECTION_REASON})
        assert answer.status_code == 200, answer.text
        rerouted = answer.json()["rerouted_as"]
        assert rerouted is not None
        await tick(running_broker, datetime.now(UTC))
        listed = await wait_for_notices(inbox, FRONT_DOOR_INBOX, 1, including=rerouted)
        [moved_on] = [n for n in listed if n["notice_id"] == rerouted]
        assert moved_on["header"]["follow_up"] == "reroute"


class TestEscalationAtTheOrigin:
    async def test_a_transfer_b_leaves_unacknowledged_escalates_to_as_duty_manager(
        self, sent_to_b: db.NoticeRecord, running_broker: Runtime, inbox: httpx.AsyncClient
    ) -> None:
        """Past its deadline, A's own front door duty manager hears of it, not B again."""
        await tick(running_broker, sent_to_b.deadline + timedelta(seconds=1))
        listed = await wait_for_notices(inbox, FRONT_DOOR_INBOX, 1)
        follows = [n for n in listed if n["header"].get("follows") == sent_to_b.notice_id]
        assert [n["header"]["follow_up"] for n in follows] == ["escalation"]
