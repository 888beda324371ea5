"""Builds every dependency once, from settings, for whichever process is starting.

Each piece opens on its own: the keys (first: a process without its keys stops before it
touches anything), the database, Kafka. ``foundation`` opens the keys and the database, for
the processes that publish nothing of the broker's own (the admin API, the gateway with its
own publisher); ``runtime`` adds Kafka and the services' dependencies, built here once per
process and shared by every loop, request and batch in it.
"""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from broker.adapters import db
from broker.adapters.accepted_events import SqlAcceptanceRecords
from broker.adapters.data_keys import SPARES, FileDataKeys
from broker.adapters.directory_projection import DirectoryProjection
from broker.adapters.kafka import KafkaPublisher, Topics, ensure_topics
from broker.adapters.peer_transfers import SqlPeerTransfers
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.config import Settings
from broker.keys import ALL_PURPOSES, KeyStore, Purpose, audit_key
from broker.logging import configure_logging
from broker.ports import AlertSender, Publisher
from broker.rules.alerts import ChannelKind
from broker.services.acceptance import Acceptance
from broker.services.alerts import AlertWorker
from broker.services.follow_ups import FollowUpDeps
from broker.services.inbox_delivery import DeliveryDeps
from broker.services.match_publication import MatchPublication
from broker.services.mesh_dispatch import MeshWorker
from broker.services.outbox import Outbox
from broker.services.peer_transfers import PeerIntake, SealingPublisher
from broker.services.routing import RoutingDeps, utc_now
from broker.services.timer_round import TimerRound


@dataclass(frozen=True)
class Database:
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    def unit_of_work(self) -> SqlUnitOfWork:
        return SqlUnitOfWork(self.sessions)


@dataclass(frozen=True)
class Kafka:
    topics: Topics
    publisher: KafkaPublisher


@dataclass(frozen=True)
class Services:
    """What the services are given, built once: a router's loop and its timer, the delivery
    worker and the inbox API's requests share these."""

    routing: RoutingDeps
    follow_ups: FollowUpDeps
    outbox: Outbox
    match_publication: MatchPublication
    delivery: DeliveryDeps
    timer: TimerRound


@dataclass(frozen=True)
class Foundation:
    settings: Settings
    keys: KeyStore
    database: Database
    data_keys: FileDataKeys

    @property
    def engine(self) -> AsyncEngine:
        return self.database.engine

    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]:
        return self.database.sessions

    def unit_of_work(self) -> SqlUnitOfWork:
        """A new unit of work: ``async with rt.unit_of_work() as uow:``."""
        return self.database.unit_of_work()


@dataclass(frozen=True)
class Runtime(Foundation):
    kafka: Kafka
    services: Services

    @property
    def topics(self) -> Topics:
        return self.kafka.topics

    @property
    def publisher(self) -> KafkaPublisher:
        return self.kafka.publisher


def load_keys(settings: Settings, purposes: frozenset[Purpose] = ALL_PURPOSES) -> KeyStore:
    return KeyStore.for_process(settings.keys_dir, purposes)


@asynccontextmanager
async def open_database(settings: Settings) -> AsyncIterator[Database]:
    """The engine, the schema brought up to date, and sessions that chain the audit log."""
    engine = db.make_engine(settings.database_url)
    try:
        await db.create_schema(engine)
        yield Database(engine, db.sessions(engine, audit_key(settings.keys_dir)))
    finally:
        await engine.dispose()


@asynccontextmanager
async def open_kafka(settings: Settings) -> AsyncIterator[Kafka]:
    """The topics made sure of, and a started producer (flushed and stopped on the way out)."""
    topics = Topics.with_prefix(settings.topic_prefix)
    security = settings.kafka_security
    await ensure_topics(settings.kafka_bootstrap_servers, topics, settings.topics, security)
    publisher = KafkaPublisher(settings.kafka_bootstrap_servers, security)
    await publisher.start()
    try:
        yield Kafka(topics, publisher)
    finally:
        await publisher.stop()


def routing_deps(
    sessions: async_sessionmaker[AsyncSession],
    keys: KeyStore,
    publisher: Publisher,
    topics: Topics,
    *args: Any,
    projection: DirectoryProjection | None = None,
    **kwargs: Any,
) -> RoutingDeps:
    """Routing's dependencies over a database: a unit of work per group of events (over the
    router's projection of the directory, if given), and the outbox its notices leave by.
    The other arguments are RoutingDeps' own."""
    units = partial(SqlUnitOfWork, sessions, projection)
    outbox = Outbox(partial(SqlUnitOfWork, sessions), publisher, topics.notices,
                    keys.pseudonym_secret)  # fmt: skip
    return RoutingDeps(units, keys, publisher, topics, *args, outbox=outbox, **kwargs)


def build_services(base: Foundation, kafka: Kafka) -> Services:
    """The services' dependencies, read from the settings once."""
    policy, sessions, keys = base.settings.routing, base.sessions, base.keys
    routing = routing_deps(
        sessions, keys, kafka.publisher, kafka.topics, policy.thresholds(),
        deadline_periods=policy.deadline_periods(), data_keys=base.data_keys,
    )  # fmt: skip
    follow_ups = FollowUpDeps(
        keys, base.data_keys, policy.escalation_period(),
        dead_letters=kafka.topics.dead_letters, school_lead=policy.school_escalation_lead(),
    )  # fmt: skip
    outbox = Outbox(base.database.unit_of_work, kafka.publisher, kafka.topics.notices,
                    keys.pseudonym_secret)  # fmt: skip
    matches = MatchPublication(base.database.unit_of_work, keys, kafka.publisher,
                               kafka.topics.events)  # fmt: skip
    delivery = DeliveryDeps(base.database.unit_of_work, base.data_keys, kafka.publisher,
                            kafka.topics, utc_now)  # fmt: skip
    retention = timedelta(days=base.settings.matching_queue_retention_days)
    timer = TimerRound(base.database.unit_of_work, base.data_keys, outbox, follow_ups, matches,
                       routing, retention, peer_intake(base, kafka))  # fmt: skip
    return Services(routing, follow_ups, outbox, matches, delivery, timer)


def alert_worker(base: Foundation, wake: asyncio.Event | None = None) -> AlertWorker:
    """The alert worker, with a sender for each kind of channel the partnership configured
    (an SMTP relay for email, its GOV.UK Notify service for SMS), woken by ``wake``."""
    # Each sender's client library imported only where its channel is configured.
    alerts = base.settings.alerts
    senders: dict[str, AlertSender] = {}
    if alerts.smtp.host:
        from broker.adapters.smtp_alerts import SmtpAlertSender

        senders[ChannelKind.EMAIL] = SmtpAlertSender(alerts.smtp, alerts.timeout_seconds)
    if alerts.notify.api_key.get_secret_value():
        from broker.adapters.notify_alerts import NotifySmsSender

        senders[ChannelKind.SMS] = NotifySmsSender(alerts.notify, alerts.timeout_seconds)
    return AlertWorker(base.database.unit_of_work, senders, alerts, base.settings.inbox_base_url,
                       wake=wake or asyncio.Event())  # fmt: skip


def peer_intake(base: Foundation, kafka: Kafka) -> PeerIntake:
    """Peers' transfers, opened and accepted by the router's timer as the peer's moves."""
    keys = base.keys
    events = SealingPublisher(kafka.publisher, keys.public, keys.pseudonym_secret,
                              kafka.topics.events)  # fmt: skip
    acceptance = Acceptance(SqlAcceptanceRecords(base.sessions), events)
    return PeerIntake(SqlPeerTransfers(base.sessions), keys, acceptance,
                      keys.public.signing_key_id)  # fmt: skip


def mesh_worker(rt: Runtime) -> MeshWorker | None:
    """The NHS MESH worker, when the partnership configured its MESH mailbox (else None:
    sends to contacts' MESH mailboxes stay queued until it does)."""
    if not rt.settings.mesh.enabled:
        return None
    from broker.adapters.mesh import MeshClientTransport  # requests and mesh_client: only here

    transport = MeshClientTransport(rt.settings.mesh)
    return MeshWorker(rt.database.unit_of_work, rt.keys, rt.data_keys, rt.publisher, rt.topics,
                      rt.settings.mesh, transport,
                      wake=rt.services.delivery.wakes.mesh)  # fmt: skip


@asynccontextmanager
async def foundation(
    settings: Settings,
    *,
    configure_logs: bool = True,
    key_purposes: frozenset[Purpose] = ALL_PURPOSES,
) -> AsyncIterator[Foundation]:
    """The keys of ``key_purposes``, then the database: enough for a process that publishes
    nothing through the broker's producer."""
    if configure_logs:
        configure_logging(settings.log_level, settings.log_json)
    keys = load_keys(settings, key_purposes)
    async with open_database(settings) as database:
        data_keys = FileDataKeys(settings.keys_dir / "households", spares=SPARES)
        try:
            yield Foundation(settings, keys, database, data_keys)
        finally:
            # Its spare-key thread may be writing: it stops before the caller removes the keys.
            await asyncio.to_thread(data_keys.close)


@asynccontextmanager
async def runtime(
    settings: Settings,
    *,
    configure_logs: bool = True,
    key_purposes: frozenset[Purpose] = ALL_PURPOSES,
) -> AsyncIterator[Runtime]:
    """The foundation, Kafka (the topics made sure of, a producer started) and the services'
    dependencies built once."""
    async with (
        foundation(settings, configure_logs=configure_logs, key_purposes=key_purposes) as base,
        open_kafka(settings) as kafka,
    ):
        yield Runtime(base.settings, base.keys, base.database, base.data_keys, kafka,
                      build_services(base, kafka))  # fmt: skip
