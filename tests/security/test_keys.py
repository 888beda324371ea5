"""Attacks on the broker's keys and the keys it holds for others (issue 12, items 8, 15, 16,
17, 24 and 25), each made through the interface an attacker or a careless operator has: the
admin API, the CSV import, the key files and the ``sgb`` processes, the notices topic, and the
receiver helpers. Each asserts the refusal, the audit record of it, and that nothing changed."""

import asyncio
import base64
import json
import os
import stat
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from support import OrgTokens, event_source, post_signed, wait_for_notices

from broker.adapters import audit, db
from broker.adapters.data_keys import FileDataKeys
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.bootstrap import Runtime
from broker.config import Settings
from broker.demo import family
from broker.entrypoints.admin_api import create_admin_api, import_folder
from broker.entrypoints.gateway import create_gateway
from broker.errors import DataKeyUnusable, KeyNotHeld, SignatureInvalid
from broker.keys import (
    HPKE_FILE,
    PROCESS_KEYS,
    PUBLIC_FILE,
    SIGNING_FILE,
    KeyStore,
    audit_key,
)
from broker.ports import Message
from broker.services.directory_admin import UnsealableKey, put_organisation
from consumers.follow_up_timer import tick
from producers import crypto
from producers import webhook_signatures as webhooks
from producers.broker_keys import BrokerPublicKeys
from producers.envelopes import seal_notice
from producers.receiver import NoticeReceiver
from producers.webhook_receiver import WebhookReceiver, WebhookRejected
from schemas.directory import OrganisationSpec
from schemas.notices import NoticeBody, NoticeHeader, NoticeType, SealedNotice, Severity

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
        assert answer.json()["errors"][0]["type"] == "unsealable_key"
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
            (ADMIN, "contact:school-a-dsl"), ("csv-import", "contact:school-a-dsl"),
        ]  # fmt: skip
        assert all(json.loads(r.details)["reason"] == "unsealable_key" for r in refusals)
        assert all(LOW_ORDER_KEY not in r.details for r in refusals)
        assert await all_rows(sessions, db.Contact) == []


KEY_ADULT = "school-oakfield:key_adult"
DEPUTY = "school-oakfield:deputy_key_adult"
LA_LEAD = "la-front-door:safeguarding_lead"


async def plant_key(rt: Runtime, contact_id: str, key: str) -> None:
    """What someone with write access to the database does: no admin API, no trial seal.
    (A directory change row, so that the processes read the directory again.)"""
    async with rt.sessions.begin() as session:
        await session.execute(
            update(db.Contact).where(db.Contact.id == contact_id).values(hpke_public_key=key)
        )
        session.add(db.DirectoryChange(at=datetime.now(UTC), actor="test", entity="contact",
                                       entity_id=contact_id, action="updated",
                                       fields="hpke_public_key"))  # fmt: skip


async def follow_ups_of(rt: Runtime, notice_id: str) -> list[db.NoticeRecord]:
    async with rt.sessions() as session:
        query = select(db.NoticeRecord).where(db.NoticeRecord.follows == notice_id)
        return list((await session.scalars(query)).all())


async def dead_letters(rt: Runtime) -> list[dict[str, Any]]:
    """Every letter on the dead-letter topic whose value is a reason (ids only)."""
    consumer = AIOKafkaConsumer(rt.topics.dead_letters, auto_offset_reset="earliest",
                                bootstrap_servers=rt.settings.kafka_bootstrap_servers)  # fmt: skip
    await consumer.start()
    try:
        batches = await consumer.getmany(timeout_ms=5000)
    finally:
        await consumer.stop()
    return [json.loads(r.value or b"{}") for records in batches.values() for r in records]


class TestUnsealableEscalation:
    @pytest.fixture
    def running_broker(self, untimed_broker: Runtime) -> Runtime:
        return untimed_broker  # ``tick`` drives the timer

    async def test_08_an_escalation_to_an_unsealable_key_is_dead_lettered_once(
        self, gateway: httpx.AsyncClient, inbox: httpx.AsyncClient, running_broker: Runtime,
        producer_keys: dict[str, Ed25519PrivateKey],
    ) -> None:  # fmt: skip
        """Attack: plant a low-order X25519 key in the database on the contact next in a
        notice's escalation chain (the school's deputy), so that every round of the timer
        fails to seal its escalation and, unclaimed, tries again for ever while nobody is
        told. The escalation goes on to the next step (the authority's safeguarding lead);
        the deputy's is dead-lettered once (unsealable_recipient_key, ids only), reported in
        the data-quality report and audited once; later rounds add nothing, and the deputy
        has nothing."""
        rt = running_broker
        # A medium notice (a discharge for non-engagement): a high one goes to the deputy at
        # once, beside the key adult, and its chain has no deputy left to go to.
        crisis = {"event_type": "service_withdrawal", "event_id": str(uuid.uuid4()),
                  "source_org": "mh-demo", "occurred_at": datetime.now(UTC).isoformat(),
                  "subject": {"nhs_number": family.MOTHER}, "service": "Talking therapies",
                  "reason": "non_engagement",
                  "withdrawn_on": datetime.now(UTC).date().isoformat()}  # fmt: skip
        assert (await post_signed(gateway, crisis, producer_keys)).status_code == 202
        [listed] = await wait_for_notices(inbox, KEY_ADULT, 1)
        await plant_key(rt, DEPUTY, LOW_ORDER_KEY)

        late = datetime.fromisoformat(listed["header"]["deadline"]) + timedelta(minutes=1)
        for minutes in (0, 10, 20):  # three rounds of the timer
            await tick(rt, late + timedelta(minutes=minutes))
        [escalation] = await follow_ups_of(rt, listed["notice_id"])
        assert escalation.recipient_id == LA_LEAD
        assert escalation.level == 1
        async with asyncio.timeout(60):  # in the lead's inbox (beside anything else of hers)
            while escalation.notice_id not in {
                n["notice_id"] for n in await wait_for_notices(inbox, LA_LEAD, 1)
            }:
                await asyncio.sleep(0.2)
        letters = [letter for letter in await dead_letters(rt)
                   if letter.get("notice_id") == listed["notice_id"]]  # fmt: skip
        assert letters == [{"reason": "unsealable_recipient_key", "event_id": crisis["event_id"],
                            "notice_id": listed["notice_id"], "org_id": "school-oakfield",
                            "recipient_id": DEPUTY, "escalation_level": 1}]  # fmt: skip
        [undeliverable] = await audit_entries(rt.sessions, "notice_undeliverable")
        assert (undeliverable.actor, undeliverable.subject_ref) == (
            "escalator",
            listed["notice_id"],
        )
        assert json.loads(undeliverable.details) == letters[0]
        async with rt.sessions() as session:
            gaps = (await session.scalars(select(db.DataQualityIssue).where(
                db.DataQualityIssue.kind == "unsealable_recipient_key"))).all()  # fmt: skip
        assert [(g.notice_id, g.org_id) for g in gaps] == [(listed["notice_id"],
                                                            "school-oakfield")]  # fmt: skip
        assert (await inbox.get(f"/v1/recipients/{DEPUTY}/notices")).json() == []


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
        keyed = db.sessions(sessions.kw["bind"], audit_key(admin_settings.keys_dir))
        async with keyed.begin() as session:  # registered and approved (a key change)
            await put_organisation(
                SqlUnitOfWork.joined(session), OrganisationSpec.model_validate(body), ADMIN
            )
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


def sgb(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Runs an ``sgb`` command as an operator would, in a process of its own."""
    command = [sys.executable, "-m", "broker.entrypoints.cli", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False,
                          env={**os.environ, **(env or {})})  # fmt: skip


def sgb_at_once(
    *commands: tuple[tuple[str, ...], dict[str, str] | None],
) -> list[subprocess.CompletedProcess[str]]:
    """Independent ``sgb`` commands (arguments, environment), each in a process of its own,
    run side by side: each spends most of its time starting Python and importing the broker."""
    with ThreadPoolExecutor(len(commands)) as pool:
        return list(pool.map(lambda command: sgb(*command[0], env=command[1]), commands))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


class TestProcessKeySets:
    async def test_16_processes_hold_only_their_keys_and_never_make_keys(
        self, settings: Settings, directory: None, producer_keys: dict[str, Ed25519PrivateKey],
        tmp_path: Path,
    ) -> None:  # fmt: skip
        """Attack: take over the internet-facing gateway and read every broker private key
        from its memory; or empty the keys folder so that the next start quietly makes a new
        key set (producers then seal to keys nobody else holds). The gateway starts and takes
        events without the event-opening and notice-signing keys and holds neither; a router
        or gateway given an empty keys folder stops with a clear error and a non-zero exit,
        making no keys."""
        for name in (HPKE_FILE, SIGNING_FILE):  # as the gateway's host is provisioned
            (settings.keys_dir / name).unlink()
        app = create_gateway(settings)
        auth = OrgTokens(producer_keys, event_source)
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://test",
                                         auth=auth) as client:  # fmt: skip
                event = {"event_type": "service_withdrawal", "event_id": str(uuid.uuid4()),
                         "source_org": "mh-demo", "occurred_at": datetime.now(UTC).isoformat(),
                         "subject": {"nhs_number": family.MOTHER}, "service": "Talking therapies",
                         "reason": "non_engagement", "withdrawn_on": "2026-11-20"}  # fmt: skip
                assert (await post_signed(client, event, producer_keys)).status_code == 202
        gateway_keys = KeyStore.for_process(settings.keys_dir, PROCESS_KEYS["gateway"])
        for held_elsewhere in ("hpke", "signing"):
            with pytest.raises(KeyNotHeld):
                getattr(gateway_keys, held_elsewhere)
        assert KeyStore.for_process(settings.keys_dir, PROCESS_KEYS["admin"]).token
        with pytest.raises(KeyNotHeld):
            _ = KeyStore.for_process(settings.keys_dir, PROCESS_KEYS["admin"]).pseudonym_secret
        empty = tmp_path / "empty-keys"
        empty.mkdir()
        env = {"SGB_KEYS_DIR": str(empty), "SGB_DATABASE_URL": settings.database_url}
        for ran in sgb_at_once((("router",), env), (("gateway",), env)):
            assert ran.returncode == 2
            assert "sgb keys-init" in ran.stderr
            assert "Traceback" not in ran.stderr
        assert list(empty.iterdir()) == []


def forged_and_genuine(rt: Runtime) -> tuple[SealedNotice, SealedNotice]:
    """Two notices with one notice id: one signed by a stranger claiming the broker's key,
    one signed by the broker."""
    now = datetime.now(UTC)
    header = NoticeHeader(
        notice_id=uuid.uuid4(), event_id=uuid.uuid4(), household="unmatched",
        recipient_id="gp-riverside:safeguarding_lead", recipient_org="gp-riverside",
        notice_type=NoticeType.GP_INFORMATION, severity=Severity.LOW,
        created_at=now, deadline=now + timedelta(hours=72), recipient_key_id="k",
        signing_key_id=rt.keys.public.signing_key_id,
    )  # fmt: skip
    body = NoticeBody(summary="s", event_type="ed_attendance", occurred_at=now, source_org="a-1")
    recipient = X25519PrivateKey.generate().public_key()
    forged = seal_notice(header, body, recipient, Ed25519PrivateKey.generate())
    return forged, seal_notice(header, body, recipient, rt.keys.signing)


class TestPlantedNotices:
    async def test_17_notice_not_signed_by_the_broker_is_dead_lettered_not_stored(
        self, running_broker: Runtime
    ) -> None:
        """Attack: with write access to the notices topic, plant a notice under the id a
        genuine notice will have, so that the inbox keeps the planted one and drops the
        genuine one as a duplicate. The delivery worker checks the broker's signature first:
        the planted notice is dead-lettered (unsigned_notice) and audited as refused, and the
        inbox holds the genuine notice under that id."""
        rt = running_broker
        forged, genuine = forged_and_genuine(rt)
        notice_id = str(NoticeHeader.model_validate_json(genuine.header).notice_id)
        await rt.publisher.publish([
            Message(rt.topics.notices, "recipient", forged.model_dump_json().encode()),
            Message(rt.topics.notices, "recipient", genuine.model_dump_json().encode()),
        ])  # fmt: skip
        async with asyncio.timeout(60):
            while (stored := await stored_notice(rt, notice_id)) is None:
                await asyncio.sleep(0.2)
        assert stored.signature == genuine.signature
        [refusal] = await audit_entries(rt.sessions, "notice_refused")
        assert (refusal.actor, json.loads(refusal.details)) == (
            "delivery", {"reason": "unsigned_notice"})  # fmt: skip
        letter = await first_dead_letter(rt)
        assert json.loads(letter.headers["sgb-reason"]) == {"reason": "unsigned_notice"}
        assert letter.value == forged.model_dump_json().encode()  # kept as it came, to examine
        source = "/".join(letter.headers[h].decode() for h in ("sgb-source-topic",
                          "sgb-source-partition", "sgb-source-offset"))  # fmt: skip
        assert refusal.subject_ref == source


@dataclass(frozen=True)
class Letter:
    value: bytes
    headers: dict[str, bytes]


async def first_dead_letter(rt: Runtime) -> Letter:
    consumer = AIOKafkaConsumer(rt.topics.dead_letters, auto_offset_reset="earliest",
                                bootstrap_servers=rt.settings.kafka_bootstrap_servers)  # fmt: skip
    await consumer.start()
    try:
        record = await asyncio.wait_for(consumer.getone(), 30)
    finally:
        await consumer.stop()
    return Letter(record.value or b"", dict(record.headers))


async def stored_notice(rt: Runtime, notice_id: str) -> db.InboxNotice | None:
    async with rt.sessions() as session:
        return await session.get(db.InboxNotice, notice_id)


class TestFilePermissions:
    async def test_24_key_files_are_private_and_never_written_through_links(
        self, tmp_path: Path
    ) -> None:
        """Attack: a local user plants links where the broker will write keys (a key file, a
        household's data key) to make it write them somewhere the attacker can read, or reads
        files left to the default umask. keys-init refuses a planted link (non-zero exit,
        nothing written anywhere); a household key is never made or read through a link; and
        what sgb makes (key folders, key files, the SQLite database) is its owner's alone."""
        stolen = tmp_path / "attacker" / "stolen.key"
        stolen.parent.mkdir()
        planted = tmp_path / "planted"
        planted.mkdir()
        (planted / "pseudonym.key").symlink_to(stolen)
        fresh = tmp_path / "new" / "keys"
        database = tmp_path / "broker.db"
        ran, made, upgraded = sgb_at_once(
            (("keys-init", "--directory", str(planted)), None),
            (("keys-init", "--directory", str(fresh)), None),
            (("db-upgrade",), {"SGB_DATABASE_URL": f"sqlite+aiosqlite:///{database}"}),
        )
        assert ran.returncode != 0
        assert not stolen.exists()
        assert [p.name for p in planted.iterdir()] == ["pseudonym.key"]
        households = FileDataKeys(tmp_path / "keys" / "households")
        households.directory.mkdir(parents=True)
        (households.directory / "h1.key").symlink_to(stolen)
        with pytest.raises(DataKeyUnusable):
            households.wrap("h1", b"notice", b"context")
        assert not stolen.exists()
        assert made.returncode == 0
        assert mode(fresh) == mode(fresh.parent) == 0o700
        assert {mode(p) for p in fresh.iterdir()} == {0o600}
        assert upgraded.returncode == 0, upgraded.stderr
        assert mode(database) == 0o600


def notice_signed_by(key: Ed25519PrivateKey, created_at: datetime,
                     recipient: X25519PrivateKey) -> SealedNotice:  # fmt: skip
    header = NoticeHeader(
        notice_id=uuid.uuid4(), event_id=uuid.uuid4(), household="unmatched",
        recipient_id="gp-riverside:safeguarding_lead", recipient_org="gp-riverside",
        notice_type=NoticeType.GP_INFORMATION, severity=Severity.LOW,
        created_at=created_at, deadline=created_at + timedelta(hours=72),
        recipient_key_id=crypto.key_id(recipient.public_key()),
        signing_key_id=crypto.key_id(key.public_key()),
    )  # fmt: skip
    body = NoticeBody(summary="s", event_type="ed_attendance", occurred_at=created_at,
                      source_org="a-1")  # fmt: skip
    return seal_notice(header, body, recipient.public_key(), key)


class TestRetiredSigningKeys:
    async def test_25_retired_key_vouches_for_nothing_newer_and_webhooks_sign_apart(
        self, tmp_path: Path
    ) -> None:
        """Attack: steal the broker's signing key, wait for the rotation that retires it, and
        go on forging notices and webhook pushes that receivers still accept. After `sgb
        keys-rotate --grace-minutes 0` the receiver helpers refuse a notice the old key signed
        with a later created_at and a push it signs now, while a notice it signed before the
        rotation still opens; and a webhook signature over the unlabelled Standard Webhooks
        content (what any other use of the key could yield) is refused."""
        keys = tmp_path / "keys"
        KeyStore.create(keys)
        stolen = KeyStore.load(keys).signing
        recipient = X25519PrivateKey.generate()
        before = notice_signed_by(stolen, datetime.now(UTC) - timedelta(minutes=1), recipient)
        assert sgb("keys-rotate", "--directory", str(keys), "--grace-minutes", "0").returncode == 0
        recipient_file = tmp_path / "recipient.pem"
        crypto.write_private_key(recipient_file, recipient)
        receiver = NoticeReceiver.from_files(recipient_file, keys / PUBLIC_FILE)
        forged = notice_signed_by(stolen, datetime.now(UTC) + timedelta(seconds=1), recipient)
        with pytest.raises(SignatureInvalid):
            receiver.open(forged)
        signed_before = NoticeHeader.model_validate_json(before.header).notice_id
        assert receiver.open(before)[0].notice_id == signed_before
        broker = BrokerPublicKeys.from_text((keys / PUBLIC_FILE).read_text())
        webhook = WebhookReceiver(broker)
        now = datetime.now(UTC) + timedelta(seconds=2)  # webhook timestamps are whole seconds
        body = forged.model_dump_json().encode()
        notice_id = str(NoticeHeader.model_validate_json(forged.header).notice_id)
        pushed = webhooks.signature_headers(stolen, crypto.key_id(stolen.public_key()),
                                            notice_id, int(now.timestamp()), body)  # fmt: skip
        with pytest.raises(WebhookRejected):
            webhook.accept(pushed, body, now)
        current = KeyStore.load(keys).signing
        unlabelled = current.sign(f"{notice_id}.{int(now.timestamp())}.".encode() + body)
        pushed |= {webhooks.SIGNATURE_HEADER: "v1a," + crypto.b64encode(unlabelled),
                   webhooks.KEY_ID_HEADER: broker.signing_key_id}  # fmt: skip
        with pytest.raises(WebhookRejected):
            webhook.accept(pushed, body, now)
