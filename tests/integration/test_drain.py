"""SIGTERM drains: ``sgb router`` as a real process, against the real Kafka broker, with events
streaming in. Terminated mid-stream it finishes the batch in hand, commits, leaves its group
and exits 0; every event whose notices reached the notices topic is covered by the group's
committed offsets; started again it routes the rest and adds no notice for what it had done.
"""

import asyncio
import json
import os
import signal
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from broker.adapters import db
from broker.config import Settings
from broker.demo import family
from broker.keys import KeyStore
from deploy.ports import free_port
from producers.sdk import EventPublisher
from schemas.notices import NoticeHeader, SealedNotice
from schemas.transport import EventHeader, SealedEvent

from .test_router import attendance

pytestmark = pytest.mark.integration

PARTITIONS = 2
STREAM_MAX = 2000
ROUTED_BEFORE_SIGTERM = 25


class Router:
    """``sgb router`` as an OS process configured like the test's settings."""

    def __init__(self, settings: Settings, logs: Path) -> None:
        self.port = free_port()
        self.logs = logs
        self.env = os.environ | {
            "SGB_KAFKA_BOOTSTRAP_SERVERS": settings.kafka_bootstrap_servers,
            "SGB_TOPIC_PREFIX": settings.topic_prefix,
            "SGB_TOPICS__PARTITIONS": str(PARTITIONS),
            "SGB_DATABASE_URL": settings.database_url,
            "SGB_KEYS_DIR": str(settings.keys_dir),
            "SGB_ROUTER_GROUP": settings.router_group,
            "SGB_LOG_JSON": "true",
            "SGB_OPS_PORT": str(self.port),
        }

    @asynccontextmanager
    async def running(self) -> AsyncIterator[asyncio.subprocess.Process]:
        with self.logs.open("ab") as log:
            proc = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "broker.entrypoints.cli", "router",
                env=self.env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )  # fmt: skip
            try:
                yield proc
            finally:
                if proc.returncode is None:
                    proc.kill()
                    await proc.wait()

    async def until_ready(self, timeout: float = 60) -> dict[str, str]:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{self.port}") as client:
            async with asyncio.timeout(timeout):
                while True:
                    try:
                        answer = await client.get("/ready")
                        if answer.status_code == 200:
                            return dict(answer.json())
                    except httpx.TransportError:
                        pass  # not listening yet
                    await asyncio.sleep(0.2)


async def terminate(proc: asyncio.subprocess.Process) -> int:
    proc.send_signal(signal.SIGTERM)
    async with asyncio.timeout(60):
        return await proc.wait()


async def read_all(bootstrap: str, topic: str) -> list[tuple[int, int, bytes]]:
    """Every record now in the topic: (partition, offset, value)."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False,
                                isolation_level="read_committed")  # fmt: skip
    await consumer.start()
    try:
        parts = [TopicPartition(topic, p) for p in range(PARTITIONS)]
        consumer.assign(parts)
        await consumer.seek_to_beginning(*parts)
        end = await consumer.end_offsets(parts)
        records: list[tuple[int, int, bytes]] = []
        async with asyncio.timeout(60):
            while [tp for tp in parts if await consumer.position(tp) < end[tp]]:
                for batch in (await consumer.getmany(timeout_ms=500)).values():
                    records += [(r.partition, r.offset, r.value or b"") for r in batch]
        return records
    finally:
        await consumer.stop()


async def committed(bootstrap: str, group: str) -> dict[int, int]:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return {tp.partition: o.offset for tp, o in offsets.items()}


async def notices_by_event(settings: Settings) -> tuple[Counter[str], Counter[str]]:
    """Notices on the topic per event id, and how often each notice id appears there."""
    per_event: Counter[str] = Counter()
    per_notice: Counter[str] = Counter()
    topic = f"{settings.topic_prefix}notices"
    for _, _, value in await read_all(settings.kafka_bootstrap_servers, topic):
        header = NoticeHeader.model_validate_json(SealedNotice.model_validate_json(value).header)
        per_event[str(header.event_id)] += 1
        per_notice[str(header.notice_id)] += 1
    return per_event, per_notice


async def event_positions(settings: Settings) -> dict[str, tuple[int, int]]:
    topic = f"{settings.topic_prefix}events"
    positions = {}
    for partition, offset, value in await read_all(settings.kafka_bootstrap_servers, topic):
        header = EventHeader.model_validate_json(SealedEvent.model_validate_json(value).header)
        positions[str(header.event_id)] = (partition, offset)
    return positions


async def routed_counts(settings: Settings) -> tuple[int, int]:
    engine = db.make_engine(settings.database_url)
    try:
        async with engine.connect() as connection:
            events = await connection.scalar(select(func.count(db.RoutedEvent.event_id)))
            notices = await connection.scalar(select(func.sum(db.RoutedEvent.notices)))
    finally:
        await engine.dispose()
    return events or 0, notices or 0


async def stream(settings: Settings, keys: KeyStore, signer: Ed25519PrivateKey,
                 stop: asyncio.Event) -> int:  # fmt: skip
    """Publishes ED attendances one by one until told to stop; returns how many Kafka has."""
    published = 0
    sdk = EventPublisher(settings.kafka_bootstrap_servers, keys.public, signer,
                         settings.topic_prefix)  # fmt: skip
    async with sdk:
        while not stop.is_set() and published < STREAM_MAX:
            await sdk.publish(attendance(family.person(family.TWIN_1)))
            published += 1
            await asyncio.sleep(0.05)
    return published


async def test_sigterm_mid_stream_drains_commits_and_exits_zero(
    settings: Settings, directory: None, producer_keys: dict[str, Ed25519PrivateKey],
    tmp_path: Path,
) -> None:  # fmt: skip
    keys = KeyStore.load(settings.keys_dir)
    router = Router(settings, tmp_path / "router.log")
    stop_stream = asyncio.Event()

    async with router.running() as proc:
        assert (await router.until_ready())["status"] == "ready"
        streaming = asyncio.create_task(stream(settings, keys, producer_keys["acute-demo"],
                                               stop_stream))  # fmt: skip
        async with asyncio.timeout(120):
            while (await routed_counts(settings))[0] < ROUTED_BEFORE_SIGTERM:
                await asyncio.sleep(0.1)
        assert await terminate(proc) == 0
        stop_stream.set()
        published = await streaming
    log = router.logs.read_text()
    assert '"event": "draining"' in log
    assert '"signal": "SIGTERM"' in log
    assert "router_stopped" in log
    assert published < STREAM_MAX, "the stream was meant to still be running at SIGTERM"

    before, _ = await notices_by_event(settings)
    positions = await event_positions(settings)
    offsets = await committed(settings.kafka_bootstrap_servers, settings.router_group)
    uncovered = [
        event_id
        for event_id in before
        if offsets.get(positions[event_id][0], -1) <= positions[event_id][1]
    ]
    assert before
    assert not uncovered, f"{len(uncovered)} events published but not committed"

    async with router.running() as proc:
        await router.until_ready()
        async with asyncio.timeout(120):
            while (await routed_counts(settings))[0] < published:
                await asyncio.sleep(0.2)
        assert await terminate(proc) == 0

    after, per_notice = await notices_by_event(settings)
    routed_events, routed_notices = await routed_counts(settings)
    print(json.dumps({"published": published, "routed_before_sigterm": len(before),
                      "routed": routed_events, "notices": sum(after.values())}))  # fmt: skip
    assert routed_events == published
    assert {e: after[e] for e in before} == dict(before), "the restart doubled notices"
    assert max(per_notice.values()) == 1
    assert sum(after.values()) == routed_notices
    assert len(after) == published
