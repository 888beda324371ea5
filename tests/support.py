"""Helpers the integration and end-to-end tests share: reading a recipient's inbox."""

import asyncio
import json
import secrets
import uuid
from collections.abc import AsyncGenerator, AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey
from fastapi import FastAPI
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from broker.adapters import audit, db
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.config import Settings
from broker.demo import family
from broker.entrypoints.serving import server_config
from broker.keys import audit_key
from broker.rules.deadlines import LONDON, OFFICE_HOURS, is_working_time
from broker.services.directory_admin import load_directory
from producers import crypto
from producers.auth import token_request
from producers.broker_keys import BrokerPublicKeys
from producers.envelopes import seal_event, sign_event
from producers.receiver import NoticeReceiver
from producers.sdk import signature_header
from schemas.events import Event, EventAdapter, ParentMentalHealthCrisis
from schemas.notices import NoticeBody, NoticeHeader, SealedNotice
from schemas.transport import EventHeader, SealedEvent


async def wait_for_notices(
    inbox: httpx.AsyncClient,
    recipient: str,
    count: int,
    timeout: float = 60,
    including: object = None,
) -> list[dict[str, Any]]:
    """The recipient's inbox listing, once it holds at least ``count`` notices (and the
    notice ``including``, when given: another notice may reach the inbox first)."""
    async with asyncio.timeout(timeout):
        while True:
            listed: list[dict[str, Any]] = (
                await inbox.get(f"/v1/recipients/{recipient}/notices")
            ).json()
            ids = {n["notice_id"] for n in listed}
            if len(listed) >= count and (including is None or str(including) in ids):
                return listed
            # A short poll: each of the many waits on an inbox lost half a poll on average.
            await asyncio.sleep(0.05)


async def fetch_sealed(inbox: httpx.AsyncClient, recipient: str, notice_id: object) -> SealedNotice:
    answer = await inbox.get(f"/v1/recipients/{recipient}/notices/{notice_id}")
    assert answer.status_code == 200
    return SealedNotice.model_validate(answer.json()["sealed"])


async def open_listed(
    inbox: httpx.AsyncClient,
    recipient: str,
    item: dict[str, Any],
    keys: dict[str, X25519PrivateKey],
    broker: BrokerPublicKeys,
) -> tuple[NoticeHeader, NoticeBody]:
    """Fetches a listed notice and opens it with the recipient's own key."""
    sealed = await fetch_sealed(inbox, recipient, item["notice_id"])
    return NoticeReceiver(keys[recipient], broker).open(sealed)


async def recorded_rules(
    sessions: async_sessionmaker[AsyncSession], listed: list[dict[str, Any]]
) -> list[str]:
    """The rule of each listed notice, from the broker's own records: no header names it."""
    ids = [str(item["notice_id"]) for item in listed]
    async with sessions() as session:
        rows = await session.execute(select(db.NoticeRecord.notice_id, db.NoticeRecord.rule_id)
                                     .where(db.NoticeRecord.notice_id.in_(ids)))  # fmt: skip
        rules = dict(rows.all())
    return [rules[notice_id] for notice_id in ids]


async def post_signed(
    gateway: httpx.AsyncClient, event: dict[str, Any] | Event, keys: dict[str, Ed25519PrivateKey]
) -> httpx.Response:
    """Posts one event to the gateway, signed with its source organisation's key."""
    body = json.dumps(event).encode() if isinstance(event, dict) else EventAdapter.dump_json(event)
    source = json.loads(body)["source_org"]
    headers = {
        "content-type": "application/json",
        "sgb-signature": signature_header(body, keys[source]),
    }
    return await gateway.post("/v1/events", content=body, headers=headers)


def as_org(app: Any, org: str, key: Ed25519PrivateKey) -> httpx.AsyncClient:
    """Speaks to ``app`` over ASGI as the organisation ``org``, with tokens its key gets."""
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://test",
                             auth=OrgTokens({org: key}, lambda _request: org))  # fmt: skip


def batch_item(event: dict[str, Any], key: Ed25519PrivateKey) -> dict[str, str]:
    """One signed entry of a batch: the event's exact text and its signature."""
    text = json.dumps(event)
    signature = crypto.b64encode(crypto.sign_event_bytes(key, text.encode()))
    return {"event": text, "key_id": crypto.key_id(key.public_key()), "signature": signature}


class OrgTokens(httpx.Auth):
    """Acts for the organisation each request concerns: gets it an access token with a
    client assertion signed by its own key (private_key_jwt), and sends it as a bearer."""

    requires_request_body = True

    def __init__(
        self, keys: dict[str, Ed25519PrivateKey], org_of: Callable[[httpx.Request], str | None]
    ) -> None:
        self.keys, self.org_of = keys, org_of
        self.tokens: dict[str, str] = {}

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        org = self.org_of(request)
        if org in self.keys and "authorization" not in request.headers:
            if org not in self.tokens:
                answer = yield token_request(request.url.join("/v1/oauth/token"), org,
                                             self.keys[org])  # fmt: skip
                await answer.aread()
                self.tokens[org] = answer.json()["access_token"]
            request.headers["authorization"] = f"Bearer {self.tokens[org]}"
        yield request


def event_source(request: httpx.Request) -> str | None:
    """Whom a gateway request acts for: the source of the event(s) it carries."""
    try:
        body = json.loads(request.content)
        first = json.loads(body[0]["event"]) if isinstance(body, list) else body
        return str(first["source_org"])
    except (ValueError, KeyError, IndexError, TypeError):
        return None


def inbox_owner(request: httpx.Request) -> str | None:
    """Whom an inbox or front-door request acts for, from its path."""
    parts = request.url.path.strip("/").split("/")
    if len(parts) > 2 and parts[1] == "recipients":
        return parts[2].split(":")[0]
    if len(parts) > 2 and parts[1] == "front-doors":
        return parts[2]
    if len(parts) > 1 and parts[1] == "households":
        return "la-front-door"
    return None


def suicidal_crisis(clinical_summary: str | None = None) -> ParentMentalHealthCrisis:
    """The mother of the demo family in crisis with suicidal ideation, from the mental health
    service: her children's school, their GPs and hers, and the front door are told."""
    return ParentMentalHealthCrisis(
        event_type="parent_mental_health_crisis", event_id=uuid.uuid4(), source_org="mh-demo",
        occurred_at=datetime.now(UTC), subject=family.person(family.MOTHER),
        suicidal_ideation=True, clinical_summary=clinical_summary,
    )  # fmt: skip


def sealed_crisis(broker: BrokerPublicKeys, producers: dict[str, Ed25519PrivateKey]) -> SealedEvent:
    """The mother of the demo family in crisis, signed by the mental health service and
    sealed to the broker, as it would lie on the events topic."""
    now = datetime.now(UTC)
    event = EventAdapter.validate_python({
        "event_type": "parent_mental_health_crisis", "event_id": str(uuid.uuid4()),
        "source_org": "mh-demo", "occurred_at": now.isoformat(),
        "subject": {"nhs_number": family.MOTHER},
    })  # fmt: skip
    header = EventHeader(event_id=event.event_id, event_type=event.event_type,
                         source_org=event.source_org, received_at=now,
                         broker_key_id=broker.hpke_key_id)  # fmt: skip
    return seal_event(sign_event(event, producers["mh-demo"]), header, broker.hpke)


@dataclass(frozen=True)
class DemoDatabase:
    sessions: async_sessionmaker[AsyncSession]
    recipients: dict[str, family.RecipientKey]
    producers: dict[str, Ed25519PrivateKey]


def sealed_delivery(
    demo: "DemoDatabase", broker: BrokerPublicKeys, event: Event, offset: int, at: datetime
) -> tuple[SealedEvent, str, datetime]:
    """The event as a router reads it off Kafka (signed by its producer's demo key, sealed to
    the broker), with the position it was read from and when it was received."""
    header = EventHeader(event_id=event.event_id, event_type=event.event_type,
                         source_org=event.source_org, received_at=at,
                         broker_key_id=broker.hpke_key_id)  # fmt: skip
    signed = sign_event(event, demo.producers[event.source_org])
    return seal_event(signed, header, broker.hpke), f"t.events/0/{offset}", at


@asynccontextmanager
async def demo_database(
    url: str, today: date, digest_recipients: frozenset[str] = frozenset()
) -> AsyncIterator[DemoDatabase]:
    """The test's database (``url``) holding the demo partnership and family, with fresh keys
    for every recipient and producer; the recipients named ask for a daily digest."""
    engine = db.make_engine(url)
    await db.create_schema(engine)
    recipients, producers = family.recipient_keys(), family.producer_keys()
    public = {cid: pair.public_text for cid, pair in recipients.items()}
    spec = family.directory(public, today, producers)
    contacts = tuple(
        c.model_copy(update={"daily_digest": c.id in digest_recipients}) for c in spec.contacts
    )
    # An audit key of its own: these tests drive the services directly, never audit-verify.
    sessions = db.sessions(engine, secrets.token_bytes(32))
    async with sessions.begin() as session:
        await load_directory(
            SqlUnitOfWork.joined(session), spec.model_copy(update={"contacts": contacts})
        )
    try:
        yield DemoDatabase(sessions, recipients, producers)
    finally:
        await engine.dispose()


def front_door_closed(at: datetime | None = None) -> bool:
    """Whether the demo's front door (office hours) is closed: the tests route at whatever
    time it is, and while it is closed its emergency duty team is also told of each
    high-risk referral at once."""
    return not is_working_time(at or datetime.now(UTC))


async def clear_of_the_front_doors_opening_or_closing(margin_s: float = 30.0) -> None:
    """Waits until the demo's front door has opened or closed, if it does within ``margin_s``:
    a test that expects its emergency duty team told (or not) by ``front_door_closed`` then
    reads the same hours as the router did a few seconds later, even at 09:00 or 17:00."""
    now = datetime.now(LONDON)
    for change in (OFFICE_HOURS.opens, OFFICE_HOURS.closes):
        wait = (datetime.combine(now.date(), change, LONDON) - now).total_seconds()
        if 0 <= wait < margin_s:
            await asyncio.sleep(wait + 1)


async def sealed_events(settings: Settings, count: int) -> list[bytes]:
    """Up to ``count`` records of the events topic, as they lie on Kafka."""
    consumer = AIOKafkaConsumer(
        f"{settings.topic_prefix}events",
        bootstrap_servers=settings.kafka_bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        values: list[bytes] = []
        while len(values) < count:
            batches = await consumer.getmany(timeout_ms=5000)
            if not batches:
                break
            values += [r.value for part in batches.values() for r in part]
        return values
    finally:
        await consumer.stop()


async def records_up_to_the_end(settings: Settings, topic: str) -> list[bytes]:
    """Every committed record on ``topic`` (its full name) up to its end as it is now: the
    last stable offset of each partition, which a ``read_committed`` consumer's end offsets
    are. Proves absence without waiting, once whoever might have published has answered
    (the broker's producers publish with acks=all before they answer)."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers,
        group_id=None,  # commits nothing, disturbs no consumer group
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        isolation_level="read_committed",
    )
    await consumer.start()
    try:
        partitions = [TopicPartition(topic, p) for p in range(settings.topics.partitions)]
        consumer.assign(partitions)
        ends = await consumer.end_offsets(partitions)
        values: list[bytes] = []
        async with asyncio.timeout(30):
            while [tp for tp in partitions if await consumer.position(tp) < ends[tp]]:
                batches = await consumer.getmany(*partitions, timeout_ms=200)
                values += [r.value or b"" for records in batches.values() for r in records]
        return values
    finally:
        await consumer.stop()


async def consumed_to_the_end(settings: Settings, group: str, topic: str) -> bool:
    """Whether ``group`` has committed past every record now on ``topic``: what was sent to
    it before has been handled (the broker's consumers commit after their database does), so
    a test can look for a wrong second effect at once rather than after a fixed wait."""
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    reader = AIOKafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    await reader.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
        partitions = [TopicPartition(topic, p) for p in range(settings.topics.partitions)]
        ends = await reader.end_offsets(partitions)
    finally:
        await reader.stop()
        await admin.close()
    done = {tp: meta.offset for tp, meta in committed.items()}
    return all(done.get(tp, 0) >= end for tp, end in ends.items())


async def rejected_at_the_gateway(settings: Settings) -> list[str]:
    """The reasons of the gateway's audited rejections, oldest first."""
    engine = db.make_engine(settings.database_url)
    async with db.sessions(engine)() as session:
        rows = (await session.scalars(
            select(audit.AuditEntry).where(audit.AuditEntry.action == "event_rejected")
        )).all()  # fmt: skip
    await engine.dispose()
    return [json.loads(r.details)["reason"] for r in rows]


@asynccontextmanager
async def audited_sessions(settings: Settings) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    """Sessions on the settings' database that may append to its audit log (under the key in
    the settings' key folder), as a test, or a ``Routed`` template's ``prepare``, writes the
    directory the broker reads."""
    engine = db.make_engine(settings.database_url)
    try:
        yield db.sessions(engine, audit_key(settings.keys_dir))
    finally:
        await engine.dispose()


@asynccontextmanager
async def served(app: FastAPI, settings: Settings) -> AsyncIterator[str]:
    """``app`` served by uvicorn as ``sgb`` serves it, on a loopback port; yields its URL."""
    server = uvicorn.Server(server_config(app, settings, "127.0.0.1", 0))
    task = asyncio.create_task(server.serve())
    async with asyncio.timeout(30):
        while not server.started:
            await asyncio.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def run_script(shell: list[str], script: str, folder: Path, env: Mapping[str, str]) -> str:
    """``script`` run by ``shell`` in ``folder`` with exactly ``env``: its output, or the test
    failed with it if any command fails. Asynchronous, so servers in this event loop go on
    serving while it runs."""
    process = await asyncio.create_subprocess_exec(
        *shell, "-c", script, cwd=folder, env=dict(env),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    async with asyncio.timeout(60):
        output, _ = await process.communicate()
    text = output.decode()
    assert process.returncode == 0, text
    return text
