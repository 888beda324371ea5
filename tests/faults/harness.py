"""The broker deployed as real OS processes, a steady stream of events, and an independent count.

``Deployment`` runs ``sgb router`` and ``sgb delivery`` processes against a Kafka cluster and a
database of its own (topics, consumer groups, keys and tables fresh per fault). Like the
compose file's ``restart: unless-stopped``, a process that exits on its own is started again,
and the restart is reported. ``Stream`` publishes signed events through the SDK at a fixed
rate in the background, one per household, retrying an event Kafka did not acknowledge until
it does; every event acknowledged joins the expectation (``population.Expectation``).
``Deployment.settle`` waits until the system is idle and then counts what arrived, by reading
the inbox table and the audit log directly, never through the services under test.
"""

import asyncio
import contextlib
import json
import os
import random
import time
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from ipaddress import IPv4Network
from pathlib import Path

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from broker.adapters import db
from broker.adapters.kafka import Topics, ensure_topics
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.config import TopicSettings
from broker.keys import KeyStore, audit_key
from broker.rules.deadlines import OTHER_PERIODS
from broker.services.directory_admin import load_directory
from producers.sdk import EventPublisher
from schemas.events import Event
from schemas.notices import NoticeType

from .counting import Counts, Lag, Observation, Tally, observe
from .endpoint import WebhookEndpoint
from .population import Expectation, Population, event_for
from .processes import Service

log = structlog.get_logger(__name__)

# GP notices fall due a few seconds after they are sent, and so do their escalations: with
# nobody acknowledging, each runs up its whole escalation chain while the faults happen.
ESCALATING = frozenset({NoticeType.GP_INFORMATION})
SHORT_DEADLINE_S = 6.0
SETTLE_TIMEOUT_S = 300.0
PUBLISH_TIMEOUT_S = 20.0
POLL_S = 1.0
LOOPBACK = IPv4Network("127.0.0.0/8")
# What the processes logged that shows a fault bit and how it was survived; shown, not judged.
SIGNS = (
    "event_already_routed",
    "event_routed_elsewhere",
    "event_dead_lettered",
    "outbox_relayed",
    "batch_retrying",
    "commit_lost_to_rebalance",
    "follow_up_timer_deferred",
    "webhook_retry",
    "webhook_dispatch_paused",
    "webhook_dead_lettered",
    "notice_dead_lettered",
    "notice_unsealable",
    "notice_undeliverable",
)


def tally(
    fault: str,
    stream: "Stream",
    seen: Observation,
    deployment: "Deployment",
    ended: tuple[bool, float] | None = None,
) -> Tally:
    """The counts so far; ``ended`` (settled or not, seconds taken) makes it the final tally,
    with what the logs show."""
    first = Counter({k: n for k, n in seen.inbox.items() if k[3] is None})
    follow_ups = Counter({k: n for k, n in seen.inbox.items() if k[3] is not None})
    counts = {
        "notices": Counts.of(stream.expectation.notices, first, seen.stored_twice),
        "escalations": Counts.of(stream.expectation.escalations, follow_ups),
    }
    if deployment.endpoint is not None:
        # Every notice in a webhook recipient's inbox must have been accepted once by its
        # endpoint (the inbox itself is checked against the expectation above).
        hooked = deployment.webhook_recipients
        pushed = Counter(n for n, r in seen.recipients.items() if r in hooked)
        counts["webhooks"] = Counts.of(pushed, deployment.endpoint.accepted,
                                       deployment.endpoint.misaddressed)  # fmt: skip
    settled, seconds = ended or (False, 0.0)
    signs = deployment.signs() if ended else Counter[str]()
    return Tally(fault, len(stream.published), counts, stream.retried, deployment.crashes,
                 signs, settled, seconds)  # fmt: skip


# --------------------------------------------------------------------------- the deployment


@dataclass
class Deployment:
    """One broker under test: its database, keys, topics, groups and processes."""

    workdir: Path
    bootstrap: str
    database_url: str
    population: Population
    topics: TopicSettings
    routers: int = 2
    deliveries: int = 1
    endpoint: WebhookEndpoint | None = None
    services: dict[str, Service] = field(default_factory=dict)
    crashes: dict[str, list[int]] = field(default_factory=dict)
    _stopped: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.prefix = f"f-{os.urandom(4).hex()}."
        self.topic_names = Topics.with_prefix(self.prefix)
        self.env = {
            **os.environ,
            "SGB_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "SGB_DATABASE_URL": self.database_url,
            "SGB_KEYS_DIR": str(self.workdir / "keys"),
            "SGB_TOPIC_PREFIX": self.prefix,
            "SGB_TOPICS__PARTITIONS": str(self.topics.partitions),
            "SGB_TOPICS__REPLICATION_FACTOR": str(self.topics.replication_factor),
            "SGB_TOPICS__MIN_INSYNC_REPLICAS": str(self.topics.min_insync_replicas),
            "SGB_ROUTER_GROUP": f"{self.prefix}router",
            "SGB_DELIVERY_GROUP": f"{self.prefix}delivery",
            "SGB_ROUTING__DEADLINE_HOURS": json.dumps(
                {
                    kind.value: period.total_seconds() / 3600
                    for kind, period in OTHER_PERIODS.items()
                }
                | {kind.value: SHORT_DEADLINE_S / 3600 for kind in ESCALATING}
            ),
            "SGB_ROUTING__ESCALATION_HOURS": str(SHORT_DEADLINE_S / 3600),
            "SGB_FOLLOW_UP_INTERVAL_SECONDS": "1",
            # Webhook retries come quickly and outlast the endpoint's outage many times over
            # (an outage longer than the retries is dead-lettered by design, for replay).
            "SGB_WEBHOOKS__BACKOFF_BASE_SECONDS": "0.5",
            "SGB_WEBHOOKS__BACKOFF_CAP_SECONDS": "2",
            "SGB_WEBHOOKS__BREAKER_COOL_DOWN_SECONDS": "3",
            "SGB_WEBHOOKS__MAX_ATTEMPTS": "40",
            "SGB_WEBHOOKS__TIMEOUT_SECONDS": "5",
            # The endpoints are served on loopback, which production never allows.
            "SGB_WEBHOOKS__ALLOWED_NETWORKS": json.dumps([str(LOOPBACK)]),
            "SGB_LOG_JSON": "true",
        }
        for key in ("KAFKA_BOOTSTRAP_SERVERS", "SGB_SETTINGS_FILE"):
            self.env.pop(key, None)
        logs = self.workdir / "logs"
        logs.mkdir(parents=True, exist_ok=True)
        names = [f"router-{i}" for i in range(self.routers)]
        names += [f"delivery-{i}" for i in range(self.deliveries)]
        for name in names:
            self.services[name] = Service(name, name.split("-")[0], self.env, logs)
        self.webhook_recipients = {c.id for c in self.population.spec.contacts if c.webhook_url}

    async def prepare(self) -> None:
        """The directory loaded, the broker's keys made and its topics created, before any
        process starts (so that two routers do not race to create keys)."""
        self.keys = KeyStore.create(self.workdir / "keys")
        engine = db.make_engine(self.database_url)
        try:
            await db.create_schema(engine)
            sessions = db.sessions(engine, audit_key(self.workdir / "keys"))
            async with sessions.begin() as session:
                await load_directory(
                    SqlUnitOfWork.joined(session), self.population.spec, webhook_networks=[LOOPBACK]
                )
        finally:
            await engine.dispose()
        await ensure_topics(self.bootstrap, self.topic_names, self.topics)

    def start(self, name: str | None = None) -> None:
        for service in [self.services[name]] if name else self.services.values():
            self._stopped.discard(service.name)
            service.start()

    def kill(self, name: str) -> None:
        self._stopped.add(name)
        self.services[name].kill()

    def stop_all(self) -> None:
        for service in self.services.values():
            self._stopped.add(service.name)
            service.terminate()

    def signs(self) -> Counter[str]:
        found: Counter[str] = Counter()
        for path in (self.workdir / "logs").glob("*.log"):
            for line in path.read_text(errors="replace").splitlines():
                if line.startswith("{") and (name := _event_name(line)) in SIGNS:
                    found[name] += 1
        return found

    async def supervise(self) -> None:
        """``restart: unless-stopped``: a process that exits on its own is started again."""
        while True:
            for service in self.services.values():
                code = service.exited()
                if code is not None and service.name not in self._stopped:
                    self.crashes.setdefault(service.name, []).append(code)
                    log.warning("service_exited", service=service.name, code=code)
                    service.proc = None
                    await asyncio.sleep(1)
                    service.start()
            await asyncio.sleep(0.5)

    async def quiet(self, engine: AsyncEngine, lag: Lag) -> bool:
        """Nothing left to do: every group has committed everything, the outbox is empty,
        no notice falls due in the next minute without having been escalated, and no webhook
        delivery is pending."""
        soon = datetime.now(UTC) + timedelta(minutes=1)
        async with engine.connect() as conn:
            unpublished = await conn.scalar(select(func.count()).select_from(db.OutboxNotice))
            due = await conn.scalar(
                select(func.count())
                .select_from(db.NoticeRecord)
                .where(
                    db.NoticeRecord.closed_at.is_(None),
                    db.NoticeRecord.escalated_at.is_(None),
                    db.NoticeRecord.rejected_at.is_(None),
                    db.NoticeRecord.deadline <= soon,
                )
            )
            pushing = await conn.scalar(
                select(func.count())
                .select_from(db.WebhookDelivery)
                .where(db.WebhookDelivery.state == "pending")
            )
        if unpublished or due or pushing:
            return False
        groups = {
            self.env["SGB_ROUTER_GROUP"]: self.topic_names.events,
            self.env["SGB_DELIVERY_GROUP"]: self.topic_names.notices,
        }
        try:
            return await lag.of(groups) == 0
        except Exception as exc:  # Kafka away or still electing: not quiet yet
            log.info("lag_unknown", error=type(exc).__name__)
            return False

    async def settle(self, fault: str, stream: "Stream", started: float) -> Tally:
        """Waits until every expected notice arrived and the system is idle (or the generous
        timeout passed: then whatever never arrived is counted lost), then counts."""
        engine = db.make_engine(self.database_url)
        lag = Lag(self.bootstrap)
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        settled = False
        try:
            while time.monotonic() < deadline:
                try:
                    seen = await observe(engine)
                    current = tally(fault, stream, seen, self)
                    arrived = all(c.lost == 0 for c in current.counts.values())
                    if arrived and await self.quiet(engine, lag):
                        settled = True
                        break
                except Exception as exc:  # the database restarting, say
                    log.info("observe_failed", error=type(exc).__name__)
                await asyncio.sleep(POLL_S)
            seen = await observe(engine)
        finally:
            await engine.dispose()
        return tally(fault, stream, seen, self, (settled, time.monotonic() - started))


def _event_name(line: str) -> str | None:
    with contextlib.suppress(ValueError, AttributeError):
        return str(json.loads(line).get("event"))
    return None


@asynccontextmanager
async def deployed(deployment: Deployment) -> AsyncIterator[Deployment]:
    """The deployment prepared, its processes running and supervised; all stopped after."""
    await deployment.prepare()
    deployment.start()
    supervisor = asyncio.create_task(deployment.supervise())
    try:
        yield deployment
    finally:
        supervisor.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await supervisor
        await asyncio.to_thread(deployment.stop_all)


# --------------------------------------------------------------------------- the stream


@dataclass
class Stream:
    """Agencies publishing one event per household at a fixed rate, in the background."""

    deployment: Deployment
    rate: float
    seconds: float
    seed: int = 7
    expectation: Expectation = field(default_factory=Expectation)
    published: list[str] = field(default_factory=list)
    retried: int = 0
    _task: "asyncio.Task[None]" = field(init=False)

    async def run(self) -> None:
        population = self.deployment.population
        homes = population.households[: int(self.rate * self.seconds)]
        rng = random.Random(self.seed)
        publishers = {org: self._publisher(org) for org in {h.mental_health for h in homes}}
        for publisher in publishers.values():
            await publisher.__aenter__()
        start = time.monotonic()
        try:
            for i, home in enumerate(homes):
                await asyncio.sleep(max(0.0, start + i / self.rate - time.monotonic()))
                event = event_for(home, rng, datetime.now(UTC))
                org = home.mental_health
                publishers[org] = await self._publish(publishers[org], org, event)
                self.published.append(str(event.event_id))
                self.expectation.add(population, home, event, datetime.now(UTC), ESCALATING)
        finally:
            for publisher in publishers.values():
                with contextlib.suppress(Exception):
                    await publisher.__aexit__(None, None, None)

    def _publisher(self, org: str) -> EventPublisher:
        keys = self.deployment.keys
        return EventPublisher(
            self.deployment.bootstrap,
            keys.public,
            self.deployment.population.producer_keys[org],
            topic_prefix=self.deployment.prefix,
        )

    async def _publish(self, publisher: EventPublisher, org: str, event: Event) -> EventPublisher:
        """Publishes until Kafka acknowledges; a retry after an unclear failure may put the
        event on Kafka twice, which the broker must recognise as the same event."""
        give_up = time.monotonic() + SETTLE_TIMEOUT_S
        while True:
            try:
                await asyncio.wait_for(publisher.publish(event), PUBLISH_TIMEOUT_S)
                return publisher
            except Exception as exc:
                if time.monotonic() > give_up:
                    raise RuntimeError("Kafka never took the event back after the fault") from exc
                self.retried += 1
                log.info("publish_retry", error=type(exc).__name__)
                with contextlib.suppress(Exception):
                    await publisher.__aexit__(None, None, None)
                await asyncio.sleep(1)
                publisher = self._publisher(org)
                with contextlib.suppress(Exception):
                    await publisher.__aenter__()

    @asynccontextmanager
    async def running(self) -> AsyncIterator["Stream"]:
        """Runs the stream while the body injects its fault; waits for it to finish."""
        self._task = task = asyncio.create_task(self.run())
        try:
            yield self
            await task
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def until(self, fraction: float) -> None:
        """Returns once this share of the stream's events has been published (or raises what
        stopped the stream)."""
        target = int(self.rate * self.seconds * fraction)
        while len(self.published) < target:
            if self._task.done():
                self._task.result()
                return
            await asyncio.sleep(0.1)
