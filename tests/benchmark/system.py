"""The real system for a benchmark run: Kafka, the broker's processes, and what they emit.

The broker runs as it is deployed, ``sgb router`` and ``sgb delivery`` as OS processes with
their own topics, groups, keys and database. When its notices are committed is read from
the audit topic: the delivery worker publishes a ``notice_delivered`` record for each notice
once its inbox transaction has committed, and the record's timestamp is taken then.
"""

import asyncio
import contextlib
import json
import os
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy.engine import make_url

from broker.adapters.kafka import Topics, ensure_topics
from broker.config import TopicSettings
from broker.keys import KeyStore
from deploy.localkafka import LocalKafkaCluster
from deploy.ports import free_port
from tests.faults.counting import Lag
from tests.faults.processes import Service

READY_TIMEOUT_S = 120.0


@contextmanager
def kafka(workdir: Path) -> Iterator[str]:
    """``KAFKA_BOOTSTRAP_SERVERS`` if set, else a local single-node broker of the run's own."""
    if bootstrap := os.environ.get("KAFKA_BOOTSTRAP_SERVERS"):
        yield bootstrap
        return
    with LocalKafkaCluster(workdir / "kafka", 1, free_port()) as cluster:
        yield cluster.bootstrap_servers


def listening_pid(address: str) -> int | None:
    """The process serving ``host:port`` or a database URL (the Kafka broker's JVM, the
    PostgreSQL server), to measure it too."""
    first = address.split(",")[0]
    port = make_url(first).port if "://" in first else int(first.rsplit(":", 1)[1])
    for conn in psutil.net_connections(kind="tcp"):
        if conn.status == psutil.CONN_LISTEN and conn.laddr and conn.laddr.port == port:
            return conn.pid
    return None


@dataclass
class Broker:
    """The broker's processes, on a database and under a topic prefix of their own."""

    workdir: Path
    bootstrap: str
    database_url: str
    partitions: int
    routers: int = 1
    deliveries: int = 1
    profile: bool = False
    services: dict[str, Service] = field(default_factory=dict)
    ops_ports: dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.prefix = f"bench-{os.urandom(4).hex()}."
        self.topics = Topics.with_prefix(self.prefix)
        self.groups = {f"{self.prefix}router": self.topics.events,
                       f"{self.prefix}delivery": self.topics.notices}  # fmt: skip
        self.env = {
            **os.environ,
            "SGB_KAFKA_BOOTSTRAP_SERVERS": self.bootstrap,
            "SGB_DATABASE_URL": self.database_url,
            "SGB_KEYS_DIR": str(self.workdir / "keys"),
            "SGB_TOPIC_PREFIX": self.prefix,
            "SGB_TOPICS__PARTITIONS": str(self.partitions),
            "SGB_ROUTER_GROUP": f"{self.prefix}router",
            "SGB_DELIVERY_GROUP": f"{self.prefix}delivery",
            "SGB_LOG_JSON": "true",
        }
        for name in ("KAFKA_BOOTSTRAP_SERVERS", "SGB_SETTINGS_FILE"):
            self.env.pop(name, None)
        (self.workdir / "logs").mkdir(parents=True, exist_ok=True)
        names = [f"router-{i}" for i in range(self.routers)]
        names += [f"delivery-{i}" for i in range(self.deliveries)]
        for name in names:
            self.ops_ports[name] = free_port()
            env = self.env | {"SGB_OPS_PORT": str(self.ops_ports[name])}
            self.services[name] = Service(
                name, name.split("-")[0], env, self.workdir / "logs", self.profile
            )

    def settings(self) -> dict[str, object]:
        return {"routers": self.routers, "deliveries": self.deliveries,
                "partitions": self.partitions,
                "database": self.database_url.split(":", 1)[0]}  # fmt: skip

    async def start(self) -> KeyStore:
        keys = KeyStore.create(self.workdir / "keys")
        await ensure_topics(self.bootstrap, self.topics, TopicSettings(partitions=self.partitions))
        for service in self.services.values():
            service.start()
        await self._ready()
        return keys

    async def _ready(self) -> None:
        """Every process answers /ready: its consumer has joined its group."""
        deadline = time.monotonic() + READY_TIMEOUT_S
        async with httpx.AsyncClient(timeout=2) as client:
            for name, port in self.ops_ports.items():
                while True:
                    if (code := self.services[name].exited()) is not None:
                        raise RuntimeError(f"{name} exited with {code}: see {self.workdir}/logs")
                    with contextlib.suppress(httpx.HTTPError):
                        if (await client.get(f"http://127.0.0.1:{port}/ready")).status_code == 200:
                            break
                    if time.monotonic() > deadline:
                        raise RuntimeError(f"{name} not ready: see {self.workdir}/logs")
                    await asyncio.sleep(0.2)

    def pids(self) -> dict[str, int]:
        return {n: s.proc.pid for n, s in self.services.items() if s.proc is not None}

    def crashed(self) -> dict[str, int]:
        return {n: code for n, s in self.services.items() if (code := s.exited()) is not None}

    def stop(self) -> None:
        # Under pyinstrument a process writes its report as it exits: minutes of samples
        # take longer to render than a stop is otherwise given, and a kill leaves it empty.
        for service in self.services.values():
            service.terminate(timeout=300 if self.profile else 20)

    async def remove_topics(self) -> None:
        """The run's topics deleted, so that runs against a long-lived Kafka do not pile up."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            await admin.delete_topics(list(vars(self.topics).values()))
        finally:
            await admin.close()

    async def lag(self) -> int:
        return await Lag(self.bootstrap).of(self.groups)


@dataclass
class Deliveries:
    """What the audit topic says: which event each notice came from, and when each notice
    was first committed to an inbox (epoch seconds)."""

    event_of: dict[str, str] = field(default_factory=dict)
    committed_at: dict[str, float] = field(default_factory=dict)

    def take(self, value: bytes, timestamp_ms: int) -> None:
        entry = json.loads(value)
        match entry.get("action"):
            case "notice_produced":
                self.event_of[entry["notice_id"]] = entry["event_id"]
            case "notice_delivered":
                self.committed_at.setdefault(entry["notice_id"], timestamp_ms / 1000)

    @property
    def complete(self) -> bool:
        return bool(self.event_of) and self.event_of.keys() <= self.committed_at.keys()


@dataclass
class AuditWatch:
    """Follows the audit topic from its start in the background."""

    consumer: AIOKafkaConsumer
    seen: Deliveries = field(default_factory=Deliveries)

    async def follow(self) -> None:
        while True:
            for records in (await self.consumer.getmany(timeout_ms=200)).values():
                for r in records:
                    self.seen.take(r.value or b"{}", r.timestamp)

    async def read_to_end(self) -> None:
        """Returns once everything on the topic now has been taken in."""
        ends = await self.consumer.end_offsets(list(self.consumer.assignment()))
        for tp, end in ends.items():
            while await self.consumer.position(tp) < end:
                await asyncio.sleep(0.1)


@asynccontextmanager
async def watching_audit(bootstrap: str, topic: str) -> AsyncIterator[AuditWatch]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False)  # fmt: skip
    await consumer.start()
    watch = AuditWatch(consumer)
    task = asyncio.create_task(watch.follow())
    try:
        yield watch
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await consumer.stop()


async def sizes(bootstrap: str, topic: str, expected: int) -> list[tuple[str, int]]:
    """(event id from the header, value size) of each record on ``topic``; the baseline
    moves messages of exactly these sizes."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False)  # fmt: skip
    await consumer.start()
    found: list[tuple[str, int]] = []
    try:
        async with asyncio.timeout(120):
            while len(found) < expected:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    found += [(_event_id(r.value or b""), len(r.value or b"")) for r in records]
    finally:
        await consumer.stop()
    return found


def _event_id(value: bytes) -> str:
    header = json.loads(json.loads(value)["header"])
    return str(header["event_id"])
