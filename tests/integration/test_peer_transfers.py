"""Transfers between brokers through the real components (issue 16, items 3 and 7): broker A's
transfer, signed by A and sealed to B's broker key, pushed to B's gateway with A's access token
at B; B keeps it once, opens it in the router's timer and routes the move it reports to its
front door with the history. Two key sets; B's database and Kafka topics are the test's own."""

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from fastapi import FastAPI
from sqlalchemy import func, select
from support import as_org, audited_sessions, consumed_to_the_end, open_listed, wait_for_notices

from broker.adapters import audit, db
from broker.adapters.peer_receipts import SqlPeerReceipts
from broker.adapters.peer_tokens import HttpPeerTokens
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.bootstrap import Runtime
from broker.config import Settings
from broker.demo import family
from broker.entrypoints.gateway import create_gateway
from broker.keys import KeyStore
from broker.rules import actors
from broker.services import directory_admin, peers
from broker.services.peer_receipts import ReceiptSender
from consumers.follow_up_timer import tick
from producers import crypto
from producers.envelopes import seal_notice
from producers.webhook_signatures import signature_headers
from schemas.directory import HouseholdMemberSpec, HouseholdSpec, PersonSpec, SigningKeySpec
from schemas.notices import (
    HistoryPlan,
    NoticeBody,
    NoticeHeader,
    NoticeType,
    PersonView,
    ProfessionalView,
    SealedNotice,
    Severity,
    TransferHistory,
)
from schemas.peers import PeerSpec

pytestmark = pytest.mark.integration

A_HERE = "peer-cardiff"  # broker A, as an organisation in B's directory
B_THERE = "peer-demo"  # broker B, as an organisation in A's directory
CARDIFF = "W06000015"
FRONT_DOOR_INBOX = "la-front-door:duty_manager"


@pytest.fixture
def broker_a(tmp_path: Path) -> KeyStore:
    """Broker A's own keys (its signing key signs transfers, webhook requests and tokens)."""
    return KeyStore.create(tmp_path / "broker-a")


@pytest.fixture
async def a_registered(settings: Settings, directory: None, broker_a: KeyStore) -> None:
    """B's administrator has registered A: its area, its signing key, its broker key."""
    spec = PeerSpec(id=A_HERE, name="Cardiff partnership", areas=(CARDIFF,),
                    gateway_url="https://gateway.cardiff.example",
                    broker_key=crypto.encode_public(broker_a.public.hpke),
                    signing_keys=(SigningKeySpec(
                        public_key=crypto.encode_public(broker_a.public.signing)),),
                    known_there_as=B_THERE)  # fmt: skip
    async with audited_sessions(settings) as sessions, SqlUnitOfWork(sessions) as uow:
        await peers.register_peer(uow, spec, actors.administrator("test-admin"), datetime.now(UTC))


@pytest.fixture
async def b_gateway(settings: Settings, a_registered: None) -> AsyncIterator[FastAPI]:
    app = create_gateway(settings)
    async with app.router.lifespan_context(app):
        yield app


@pytest.fixture
async def from_a(b_gateway: FastAPI, broker_a: KeyStore) -> AsyncIterator[httpx.AsyncClient]:
    """B's gateway as broker A: signed in with A's own key, as A's organisation at B."""
    async with as_org(b_gateway, A_HERE, broker_a.signing) as client:
        yield client


def b_broker_key(settings: Settings) -> Any:
    return KeyStore.load(settings.keys_dir).public.hpke


def transfer(settings: Settings, a: KeyStore, notice_id: uuid.UUID | None = None,
             nhs_numbers: tuple[str, str] = (family.MOTHER, family.CHILD_B),
             **facts: Any) -> SealedNotice:  # fmt: skip
    """What A's router makes for its peer contact: a transfer notice, its body as a front door
    reads it, sealed to B's broker key and signed by A."""
    now = datetime.now(UTC)
    b_key = b_broker_key(settings)
    header = NoticeHeader(notice_id=notice_id or uuid.uuid4(), event_id=uuid.uuid4(),
                          household="h-cardiff", recipient_id=f"{B_THERE}:duty_manager",
                          recipient_org=B_THERE, notice_type=NoticeType.TRANSFER,
                          severity=Severity.HIGH, created_at=now, deadline=now + timedelta(days=1),
                          recipient_key_id=crypto.key_id(b_key),
                          signing_key_id=a.public.signing_key_id)  # fmt: skip
    child = PersonView(nhs_number=nhs_numbers[1], given_name="Child", family_name="B",
                       role="child")  # fmt: skip
    plan = HistoryPlan(kind="child_protection", category="neglect", started_on=date(2025, 6, 2),
                       open=True, child=child, recorded_by="event",
                       lead_professional=ProfessionalView(name="Sam Lee", role="social worker",
                                                          org_id="cardiff-fd"))  # fmt: skip
    body = NoticeBody(summary="A family with a safeguarding history is moving.",
                      event_type="family_moving_area", occurred_at=now,
                      about=(PersonView(nhs_number=nhs_numbers[0], role="parent_or_carer"), child),
                      facts={"from_authority": CARDIFF, "to_authority": family.AREA} | facts,
                      detail={"moved_on": now.date().isoformat()},
                      history=TransferHistory(plans=(plan,),
                                              previous_areas=("W06000011",)))  # fmt: skip
    return seal_notice(header, body, b_key, a.signing)


async def push(client: httpx.AsyncClient, sealed: SealedNotice, key: Ed25519PrivateKey,
               webhook_id: str | None = None) -> httpx.Response:  # fmt: skip
    """Posts as A's delivery worker does: the sealed notice, Standard Webhooks signed."""
    body = sealed.model_dump_json().encode()
    notice_id = webhook_id or str(NoticeHeader.model_validate_json(sealed.header).notice_id)
    headers = signature_headers(key, crypto.key_id(key.public_key()), notice_id,
                                int(time.time()), body)  # fmt: skip
    return await client.post("/v1/peers/transfers", content=body,
                             headers=headers | {"content-type": "application/json"})  # fmt: skip


async def kept(settings: Settings) -> tuple[int, int]:
    """Transfers kept, and their receipts audited."""
    engine = db.make_engine(settings.database_url)
    async with db.sessions(engine)() as session:
        rows = await session.scalar(select(func.count()).select_from(db.PeerTransfer))
        received = audit.AuditEntry.action == "peer_transfer_received"
        audited = await session.scalar(
            select(func.count()).select_from(audit.AuditEntry).where(received)
        )
    await engine.dispose()
    return rows or 0, audited or 0


class TestTakingTransfersIn:
    async def test_a_peers_transfer_is_kept_and_audited(
        self, from_a: httpx.AsyncClient, settings: Settings, broker_a: KeyStore
    ) -> None:
        """202 with the transfer's id; kept once, its receipt audited."""
        sealed = transfer(settings, broker_a)
        answer = await push(from_a, sealed, broker_a.signing)
        assert answer.status_code == 202, answer.text
        notice_id = str(NoticeHeader.model_validate_json(sealed.header).notice_id)
        assert answer.json() == {"transfer_id": notice_id, "status": "accepted"}
        assert await kept(settings) == (1, 1)

    async def test_the_same_transfer_pushed_again_is_kept_once(
        self, from_a: httpx.AsyncClient, settings: Settings, broker_a: KeyStore
    ) -> None:
        """A retry after a timeout: 200 "duplicate", still one transfer, one audit entry."""
        sealed = transfer(settings, broker_a)
        await push(from_a, sealed, broker_a.signing)
        again = await push(from_a, sealed, broker_a.signing)
        assert again.status_code == 200
        assert again.json()["status"] == "duplicate"
        assert await kept(settings) == (1, 1)

    async def test_another_transfer_under_a_used_id_is_a_conflict(
        self, from_a: httpx.AsyncClient, settings: Settings, broker_a: KeyStore
    ) -> None:
        """409: an id names one transfer for good."""
        first = transfer(settings, broker_a)
        notice_id = NoticeHeader.model_validate_json(first.header).notice_id
        await push(from_a, first, broker_a.signing)
        other = await push(from_a, transfer(settings, broker_a, notice_id), broker_a.signing)
        assert other.status_code == 409


class TestRefusedPushes:
    async def test_an_organisation_that_is_no_peer_may_not_push(
        self, b_gateway: FastAPI, settings: Settings, broker_a: KeyStore,
        producer_keys: dict[str, Ed25519PrivateKey],
    ) -> None:  # fmt: skip
        """A mental health trust's own token and key: 403, nothing kept."""
        key = producer_keys["mh-demo"]
        async with as_org(b_gateway, "mh-demo", key) as trust:
            answer = await push(trust, transfer(settings, broker_a), key)
        assert answer.status_code == 403
        assert await kept(settings) == (0, 0)

    async def test_a_push_signed_with_another_key_is_refused(
        self, from_a: httpx.AsyncClient, settings: Settings, broker_a: KeyStore
    ) -> None:
        """The webhook signature must be the peer's: 401, nothing kept."""
        answer = await push(from_a, transfer(settings, broker_a), Ed25519PrivateKey.generate())
        assert answer.status_code == 401
        assert await kept(settings) == (0, 0)

    async def test_a_transfer_whose_id_is_not_the_webhook_id_is_refused(
        self, from_a: httpx.AsyncClient, settings: Settings, broker_a: KeyStore
    ) -> None:
        """422: the webhook id is the transfer's idempotency key."""
        sealed = transfer(settings, broker_a)
        answer = await push(from_a, sealed, broker_a.signing, webhook_id=str(uuid.uuid4()))
        assert answer.status_code == 422
        assert await kept(settings) == (0, 0)


class TestAppliedAtB:
    async def test_the_move_reaches_bs_front_door_with_the_history(
        self, from_a: httpx.AsyncClient, settings: Settings, broker_a: KeyStore,
        running_broker: Runtime, inbox: httpx.AsyncClient,
        recipient_pairs: dict[str, family.RecipientKey],
    ) -> None:  # fmt: skip
        """The transfer, applied by B's router timer, is the peer's move under the transfer's
        id: B's front door gets a transfer notice whose history holds A's plan and areas."""
        sealed = transfer(settings, broker_a)
        transfer_id = NoticeHeader.model_validate_json(sealed.header).notice_id
        assert (await push(from_a, sealed, broker_a.signing)).status_code == 202
        intake = running_broker.services.timer.peers
        assert intake is not None
        await intake.apply_pending(datetime.now(UTC))
        listed = await wait_for_notices(inbox, FRONT_DOOR_INBOX, 1)
        [item] = [n for n in listed if n["header"]["event_id"] == str(transfer_id)]
        keys = {FRONT_DOOR_INBOX: recipient_pairs[FRONT_DOOR_INBOX].private}
        header, body = await open_listed(inbox, FRONT_DOOR_INBOX, item, keys,
                                         running_broker.keys.public)  # fmt: skip
        assert header.notice_type is NoticeType.TRANSFER
        assert body.source_org == A_HERE
        assert body.history is not None
        assert [(p.kind, p.category) for p in body.history.plans] == [
            ("child_protection", "neglect")]  # fmt: skip
        assert {"W06000011", CARDIFF} <= set(body.history.previous_areas)

    async def test_a_transfer_applied_twice_is_routed_once(
        self, from_a: httpx.AsyncClient, settings: Settings, broker_a: KeyStore,
        running_broker: Runtime, inbox: httpx.AsyncClient,
    ) -> None:  # fmt: skip
        """Pushed twice and applied twice (a timer restarted mid-way): one notice."""
        sealed = transfer(settings, broker_a)
        transfer_id = str(NoticeHeader.model_validate_json(sealed.header).notice_id)
        await push(from_a, sealed, broker_a.signing)
        await push(from_a, sealed, broker_a.signing)
        intake = running_broker.services.timer.peers
        assert intake is not None
        pending = await intake.records.pending(10)
        await intake.apply_pending(datetime.now(UTC))
        for again in pending:  # as a timer that stopped before marking it applied would
            await intake.apply(again, datetime.now(UTC))
        await wait_for_notices(inbox, FRONT_DOOR_INBOX, 1)
        await handled_downstream(running_broker)  # a second notice, were there one, is listed
        listed = (await inbox.get(f"/v1/recipients/{FRONT_DOOR_INBOX}/notices")).json()
        assert [n["header"]["event_id"] for n in listed].count(transfer_id) == 1


async def handled_downstream(rt: Runtime) -> None:
    """Waits until the router has handled every event now on its topic, then delivery every
    notice now on its own (the router publishes a notice before it commits the event's
    offset): whatever the events so far lead to is in the inboxes, with no fixed wait."""
    settings = rt.settings
    async with asyncio.timeout(60):
        while not (
            await consumed_to_the_end(settings, settings.router_group, rt.topics.events)
            and await consumed_to_the_end(settings, settings.delivery_group, rt.topics.notices)
        ):
            await asyncio.sleep(0.05)


class TestTokensAtAPeer:
    async def test_a_signs_in_at_bs_gateway_as_its_organisation_there(
        self, b_gateway: FastAPI, settings: Settings, broker_a: KeyStore, tmp_path: Path
    ) -> None:
        """A's delivery worker gets a bearer for its peer contact from B's token endpoint
        (private_key_jwt as A's organisation at B), and none for any other recipient."""
        a_db = f"sqlite+aiosqlite:///{tmp_path / 'a.db'}"
        engine = db.make_engine(a_db)
        await db.create_schema(engine)
        async with db.sessions(engine).begin() as session:
            session.add(db.Organisation(id=B_THERE, name="Demo", kind="peer_broker",
                                        area=family.AREA))  # fmt: skip
            await session.flush()
            session.add(db.Contact(id=f"{B_THERE}:duty_manager", org_id=B_THERE,
                                   role="duty_manager", hpke_public_key="x",
                                   key_id="x"))  # fmt: skip
            session.add(db.Peer(org_id=B_THERE, gateway_url="http://test", known_there_as=A_HERE))
        tokens = HttpPeerTokens(db.sessions(engine), broker_a.signing, 5,
                                transport=httpx.ASGITransport(app=b_gateway))  # fmt: skip
        try:
            bearer = await tokens.bearer(f"{B_THERE}:duty_manager")
            assert bearer is not None
            assert bearer.startswith("Bearer ")
            assert await tokens.bearer("la-front-door:duty_manager") is None
        finally:
            await tokens.close()
            await engine.dispose()


async def session_count(settings: Settings, *where: Any) -> int:
    engine = db.make_engine(settings.database_url)
    async with db.sessions(engine)() as session:
        found = await session.scalar(select(func.count()).select_from(db.NoticeRecord)
                                     .where(*where))  # fmt: skip
    await engine.dispose()
    return found or 0


async def owed_receipts(settings: Settings) -> list[tuple[str, str, str, str, bool]]:
    engine = db.make_engine(settings.database_url)
    async with db.sessions(engine)() as session:
        rows = (await session.scalars(select(db.PeerReceipt))).all()
    await engine.dispose()
    return sorted((r.transfer_id, r.receipt, r.peer_org, r.recipient_id, r.sent_at is None)
                  for r in rows)  # fmt: skip


async def receipt_attempts(settings: Settings) -> dict[str, bool]:
    """Whether each owed receipt was tried at least once, and none given up."""
    engine = db.make_engine(settings.database_url)
    async with db.sessions(engine)() as session:
        rows = (await session.scalars(select(db.PeerReceipt))).all()
    await engine.dispose()
    return {r.receipt: r.attempts >= 1 and r.dead_at is None for r in rows}


class TestAFamilyUnknownAtB:
    async def test_it_waits_in_bs_front_doors_matching_queue(
        self, from_a: httpx.AsyncClient, settings: Settings, broker_a: KeyStore,
        running_broker: Runtime, inbox: httpx.AsyncClient,
    ) -> None:  # fmt: skip
        """People B's directory does not know: the move waits for B's front door to match
        them, not for the peer (which matches nobody here)."""
        sealed = transfer(settings, broker_a, nhs_numbers=("9990000239", "9990000247"))
        transfer_id = str(NoticeHeader.model_validate_json(sealed.header).notice_id)
        assert (await push(from_a, sealed, broker_a.signing)).status_code == 202
        intake = running_broker.services.timer.peers
        assert intake is not None
        await intake.apply_pending(datetime.now(UTC))
        queue = "/v1/front-doors/la-front-door/matching-queue"
        async with asyncio.timeout(60):
            while transfer_id not in [q["event_id"] for q in (await inbox.get(queue)).json()]:
                await asyncio.sleep(0.05)

    async def test_bs_front_door_gets_the_transfer_at_once(
        self, from_a: httpx.AsyncClient, settings: Settings, broker_a: KeyStore,
        running_broker: Runtime, inbox: httpx.AsyncClient,
        recipient_pairs: dict[str, family.RecipientKey],
    ) -> None:  # fmt: skip
        """A family moving in is usually new to the area: the receiving front door gets the
        transfer with the carried history now, the people as the transfer names them, not
        only once someone has matched them; nothing goes back to the peer but receipts."""
        sealed = transfer(settings, broker_a, nhs_numbers=("9990000255", "9990000263"))
        transfer_id = str(NoticeHeader.model_validate_json(sealed.header).notice_id)
        assert (await push(from_a, sealed, broker_a.signing)).status_code == 202
        intake = running_broker.services.timer.peers
        assert intake is not None
        await intake.apply_pending(datetime.now(UTC))
        async with asyncio.timeout(60):
            while not (items := [n for n in await wait_for_notices(inbox, FRONT_DOOR_INBOX, 1)
                                 if n["header"]["event_id"] == transfer_id]):  # fmt: skip
                await asyncio.sleep(0.05)
        [item] = items
        keys = {FRONT_DOOR_INBOX: recipient_pairs[FRONT_DOOR_INBOX].private}
        header, body = await open_listed(inbox, FRONT_DOOR_INBOX, item, keys,
                                         running_broker.keys.public)  # fmt: skip
        assert header.notice_type is NoticeType.TRANSFER
        assert sorted(p.nhs_number or "" for p in body.about) == ["9990000255", "9990000263"]
        assert body.history is not None
        assert [(p.kind, p.category) for p in body.history.plans] == [
            ("child_protection", "neglect")]  # fmt: skip
        assert body.facts["unmatched_people"] == 2
        to_a = await session_count(settings, db.NoticeRecord.event_id == transfer_id,
                                   db.NoticeRecord.recipient_org == A_HERE)  # fmt: skip
        assert to_a == 0


async def people_known_by_name(settings: Settings, household: str, today: date) -> None:
    """A parent and a child of the area B knows, by no NHS number yet (new to its GPs, say):
    the people the front door will match the transfer's to."""
    people = (PersonSpec(id=f"{household}-parent", given_name="Alex", family_name="Moved",
                         date_of_birth=today - timedelta(days=365 * 33)),
              PersonSpec(id=f"{household}-child", given_name="Child", family_name="B",
                         date_of_birth=today - timedelta(days=365 * 8 + 40)))  # fmt: skip
    home = HouseholdSpec(id=household, area=family.AREA, members=(
        HouseholdMemberSpec(person_id=people[0].id, role="parent_or_carer"),
        HouseholdMemberSpec(person_id=people[1].id, role="child")))  # fmt: skip
    async with audited_sessions(settings) as sessions, SqlUnitOfWork(sessions) as uow:
        for person in people:
            await directory_admin.put_person(uow, person, "test-admin")
        await directory_admin.put_household(uow, home, "test-admin")


def transfers_listed(listed: list[dict[str, Any]], transfer_id: str) -> list[dict[str, Any]]:
    return [n for n in listed if n["header"]["event_id"] == transfer_id
            and n["header"]["notice_type"] == NoticeType.TRANSFER.value]  # fmt: skip


async def told_of(inbox: httpx.AsyncClient, recipient: str, event_id: str) -> None:
    async with asyncio.timeout(60):
        while event_id not in [n["header"]["event_id"]
                               for n in await wait_for_notices(inbox, recipient, 1)]:  # fmt: skip
            await asyncio.sleep(0.05)


class TestAFamilyUnknownAtBOnceMatched:
    async def test_the_match_completes_the_transfer_without_telling_the_front_door_again(
        self, from_a: httpx.AsyncClient, settings: Settings, broker_a: KeyStore,
        running_broker: Runtime, inbox: httpx.AsyncClient,
    ) -> None:  # fmt: skip
        """B's front door had the transfer when it came, its people unknown; once it matches
        them, the new school and GP B knows are told of the move, and the front door has
        still the one transfer notice."""
        await people_known_by_name(settings, "h-moved-in", datetime.now(UTC).date())
        sealed = transfer(settings, broker_a, nhs_numbers=("9990007004", "9990007012"),
                          new_school="school-brookside", new_gp="gp-hillview")  # fmt: skip
        transfer_id = str(NoticeHeader.model_validate_json(sealed.header).notice_id)
        assert (await push(from_a, sealed, broker_a.signing)).status_code == 202
        intake = running_broker.services.timer.peers
        assert intake is not None
        await intake.apply_pending(datetime.now(UTC))
        async with asyncio.timeout(60):
            while not transfers_listed(await wait_for_notices(inbox, FRONT_DOOR_INBOX, 1),
                                       transfer_id):  # fmt: skip
                await asyncio.sleep(0.05)
        queue = "/v1/front-doors/la-front-door/matching-queue"
        async with asyncio.timeout(60):
            while transfer_id not in [q["event_id"] for q in (await inbox.get(queue)).json()]:
                await asyncio.sleep(0.05)
        links = [{"position": 0, "person_id": "h-moved-in-parent"},
                 {"position": 1, "person_id": "h-moved-in-child"}]  # fmt: skip
        answer = await inbox.post(f"{queue}/{transfer_id}/match", json={"links": links})
        assert answer.status_code == 200, answer.text
        await tick(running_broker, datetime.now(UTC))  # the timer publishes it again
        for told in ("school-brookside:key_adult", "gp-hillview:safeguarding_lead"):
            await told_of(inbox, told, transfer_id)
        # Those two were decided in one transaction with anything else the match produced:
        # a second transfer notice to the front door would be recorded by now.
        record = db.NoticeRecord
        async with running_broker.sessions() as session:
            recorded = await session.scalar(select(func.count()).select_from(record).where(
                record.event_id == transfer_id, record.recipient_id == FRONT_DOOR_INBOX,
                record.notice_type == NoticeType.TRANSFER.value))  # fmt: skip
        listed = (await inbox.get(f"/v1/recipients/{FRONT_DOOR_INBOX}/notices")).json()
        assert (recorded, len(transfers_listed(listed, transfer_id))) == (1, 1)


class TestReceiptsOwedBack:
    async def test_bs_front_door_receipts_are_owed_to_the_peer_once(
        self, from_a: httpx.AsyncClient, settings: Settings, broker_a: KeyStore,
        running_broker: Runtime, inbox: httpx.AsyncClient,
    ) -> None:  # fmt: skip
        """B's front door acknowledges the transfer (twice) and records its transfer-in
        conference: one acknowledgement and one conference are owed to A, addressed to B's
        contact there; A being unreachable leaves them queued, not lost."""
        sealed = transfer(settings, broker_a)
        transfer_id = str(NoticeHeader.model_validate_json(sealed.header).notice_id)
        await push(from_a, sealed, broker_a.signing)
        intake = running_broker.services.timer.peers
        assert intake is not None
        await intake.apply_pending(datetime.now(UTC))
        listed = await wait_for_notices(inbox, FRONT_DOOR_INBOX, 1)
        [item] = [n for n in listed if n["header"]["event_id"] == transfer_id]
        notice = f"/v1/recipients/{FRONT_DOOR_INBOX}/notices/{item['notice_id']}"
        for _ in range(2):
            answer = await inbox.post(f"{notice}/receipts", json={"receipt": "acknowledged"})
            assert answer.status_code == 200, answer.text
        steps = f"/v1/front-doors/la-front-door/notices/{item['notice_id']}/steps"
        step = f"{steps}/transfer_in_conference"
        assert (await inbox.post(step)).status_code == 200
        contact = f"{B_THERE}:duty_manager"
        assert await owed_receipts(settings) == [
            (transfer_id, "acknowledged", A_HERE, contact, True),
            (transfer_id, "transfer_in_conference", A_HERE, contact, True),
        ]
        tokens = HttpPeerTokens(running_broker.sessions, running_broker.keys.signing, 2)
        try:  # A's gateway does not resolve: tried, kept for later
            sender = ReceiptSender(SqlPeerReceipts(running_broker.sessions), tokens,
                                   running_broker.settings.webhooks.backoff())  # fmt: skip
            # The delivery worker running beside the test sends receipts too: between them,
            # each receipt is tried, and neither is sent nor given up.
            await sender.send_due()
        finally:
            await tokens.close()
        assert [owed[-1] for owed in await owed_receipts(settings)] == [True, True]
        assert await receipt_attempts(settings) == {"acknowledged": True,
                                                    "transfer_in_conference": True}  # fmt: skip
