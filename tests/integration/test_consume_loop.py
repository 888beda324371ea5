"""The consume loop against the real Kafka broker and a real SQLite database: a database that
goes away, or a Kafka that restarts, makes it wait and retry the same batch, never skip or
commit it; a bug crashes it; a commit refused by a rebalance is survived, and the records come
round again."""

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from broker.adapters import kafka, metrics
from broker.adapters.kafka import ConsumerHealth, KafkaBatchConsumer, KafkaPublisher, Received
from broker.delivery.backoff import Backoff
from broker.ports import Message
from deploy.localkafka import LocalKafkaCluster

pytestmark = pytest.mark.integration

RECORDS = 40
QUICK = Backoff(base=timedelta(seconds=0.05), cap=timedelta(seconds=0.2))


async def produce(bootstrap: str, topic: str, partitions: int = 2, records: int = RECORDS) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, partitions, 1)])
    finally:
        await admin.close()
    async with AIOKafkaProducer(bootstrap_servers=bootstrap, acks="all") as producer:
        for n in range(records):
            await producer.send(topic, f"record {n}".encode(), key=f"k{n % 5}".encode())
        await producer.flush()


async def committed(bootstrap: str, group: str) -> int:
    """How many records the group's committed offsets cover, over every partition."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        offsets = await admin.list_consumer_group_offsets(group)
    finally:
        await admin.close()
    return sum(max(o.offset, 0) for o in offsets.values())


class Store:
    """The handler's effect: each record kept once, in a real SQLite file, like the inbox."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # A new connection each time, and no wait on a lock: the lock is the outage.
        self.engine: AsyncEngine = create_async_engine(
            f"sqlite+aiosqlite:///{path}", poolclass=NullPool, connect_args={"timeout": 0.05}
        )
        self.handled_batches = 0

    async def create(self) -> None:
        async with self.engine.begin() as connection:
            await connection.execute(text(
                "CREATE TABLE kept (topic TEXT, partition INT, offset INT, "
                "PRIMARY KEY (topic, partition, offset))"
            ))  # fmt: skip

    async def handle(self, records: Sequence[Received]) -> None:
        async with self.engine.begin() as connection:
            for r in records:
                await connection.execute(
                    text("INSERT OR IGNORE INTO kept VALUES (:t, :p, :o)"),
                    {"t": r.topic, "p": r.partition, "o": r.offset},
                )
        self.handled_batches += 1

    async def count(self) -> int:
        async with self.engine.connect() as connection:
            return int((await connection.execute(text("SELECT count(*) FROM kept"))).scalar_one())

    @asynccontextmanager
    async def locked(self) -> AsyncIterator[None]:
        """Another process holds the database exclusively: every write fails, 'locked'."""
        holder = sqlite3.connect(self.path, isolation_level=None)
        holder.execute("BEGIN EXCLUSIVE")
        try:
            yield
        finally:
            holder.execute("ROLLBACK")
            holder.close()


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[Store]:
    kept = Store(tmp_path / "kept.db")
    await kept.create()
    yield kept
    await kept.engine.dispose()


async def until(check: Callable[[], bool | Awaitable[bool]], timeout: float = 60) -> None:
    async with asyncio.timeout(timeout):
        while True:
            answer = check()
            if answer if isinstance(answer, bool) else await answer:
                return
            await asyncio.sleep(0.1)


def retries(error: str) -> float:
    value = metrics.REGISTRY.get_sample_value(
        "sgb_batch_retries_total", {"consumer": "test", "error": error}
    )
    return value or 0.0


class TestConsumeLoop:
    async def test_database_away_then_back_loses_and_skips_nothing(
        self, kafka_bootstrap: str, topic_prefix: str, store: Store
    ) -> None:
        topic, group = f"{topic_prefix}in", f"{topic_prefix}group"
        await produce(kafka_bootstrap, topic)
        health, stop = ConsumerHealth(), asyncio.Event()
        consumer = KafkaBatchConsumer(kafka_bootstrap, topic, group, name="test", health=health,
                                      backoff=QUICK)  # fmt: skip
        retried_before = retries("OperationalError")
        async with store.locked():
            await consumer.start()
            task = asyncio.create_task(consumer.run(store.handle, stop))
            await until(lambda: health.retrying == "OperationalError")
            assert health.problem() == "retrying a batch after OperationalError"
            await until(lambda: retries("OperationalError") >= retried_before + 3)
            assert await committed(kafka_bootstrap, group) == 0
            assert not task.done()
        await until(_covers(kafka_bootstrap, group, RECORDS))
        stop.set()
        await task
        await consumer.stop()
        assert await store.count() == RECORDS
        assert health.retrying is None

    async def test_stopped_while_retrying_commits_nothing_and_the_batch_comes_again(
        self, kafka_bootstrap: str, topic_prefix: str, store: Store
    ) -> None:
        topic, group = f"{topic_prefix}in", f"{topic_prefix}group"
        await produce(kafka_bootstrap, topic)
        health, stop = ConsumerHealth(), asyncio.Event()
        async with store.locked():
            consumer = KafkaBatchConsumer(kafka_bootstrap, topic, group, name="test",
                                          health=health, backoff=QUICK)  # fmt: skip
            await consumer.start()
            task = asyncio.create_task(consumer.run(store.handle, stop))
            await until(lambda: health.retrying is not None)
            stop.set()
            await task  # returns: a stop while retrying is not an error
            await consumer.stop()
        assert await committed(kafka_bootstrap, group) == 0
        assert await store.count() == 0

        again = KafkaBatchConsumer(kafka_bootstrap, topic, group, name="test", backoff=QUICK)
        await again.start()
        stop = asyncio.Event()
        task = asyncio.create_task(again.run(store.handle, stop))
        await until(_covers(kafka_bootstrap, group, RECORDS))
        stop.set()
        await task
        await again.stop()
        assert await store.count() == RECORDS

    async def test_a_bug_in_the_handler_crashes_the_loop_uncommitted(
        self, kafka_bootstrap: str, topic_prefix: str
    ) -> None:
        topic, group = f"{topic_prefix}in", f"{topic_prefix}group"
        await produce(kafka_bootstrap, topic)

        async def buggy(records: Sequence[Received]) -> None:
            raise KeyError("a bug, not an outage")

        consumer = KafkaBatchConsumer(kafka_bootstrap, topic, group, name="test", backoff=QUICK)
        await consumer.start()
        try:
            with pytest.raises(KeyError):
                await asyncio.wait_for(consumer.run(buggy, asyncio.Event()), timeout=60)
        finally:
            await consumer.stop()
        assert await committed(kafka_bootstrap, group) == 0

    async def test_a_commit_lost_to_a_rebalance_is_survived_and_redelivered(
        self, kafka_bootstrap: str, topic_prefix: str, store: Store
    ) -> None:
        """The first consumer is mid-batch when a second joins and takes its partition: its
        commit is refused, it carries on, and the second consumer gets those records again
        (the store keeps each once)."""
        topic, group = f"{topic_prefix}in", f"{topic_prefix}group"
        await produce(kafka_bootstrap, topic, partitions=1)
        release, stop = asyncio.Event(), asyncio.Event()
        first_batch: list[Received] = []

        async def slow(records: Sequence[Received]) -> None:
            if not first_batch:
                first_batch.extend(records)
                await release.wait()
            await store.handle(records)

        lost_before = _lost(group)
        # Member ids begin with the client id and the assignors hand partitions out in member
        # id order: the newcomer, "a-...", takes the only partition from "b-...".
        one = KafkaBatchConsumer(kafka_bootstrap, topic, group, name="test", backoff=QUICK,
                                 client_id="b-first")  # fmt: skip
        newcomer = ConsumerHealth()
        two = KafkaBatchConsumer(kafka_bootstrap, topic, group, name="test", backoff=QUICK,
                                 health=newcomer, client_id="a-second")  # fmt: skip
        await one.start()
        tasks = [asyncio.create_task(one.run(slow, stop))]
        await until(lambda: bool(first_batch))
        await two.start()
        tasks.append(asyncio.create_task(two.run(store.handle, stop)))
        await until(lambda: newcomer.joined)
        release.set()
        await until(lambda: _lost(group) > lost_before)
        await until(_covers(kafka_bootstrap, group, RECORDS))
        stop.set()
        await asyncio.gather(*tasks)
        await one.stop()
        await two.stop()
        assert await store.count() == RECORDS

    async def test_a_stop_ends_the_wait_for_records_at_once(
        self, kafka_bootstrap: str, topic_prefix: str, store: Store,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:  # fmt: skip
        """Stopped while it waits for records, the loop returns without waiting the wait
        out (here ten minutes), and commits nothing it did not handle."""
        monkeypatch.setattr(kafka, "FETCH_WAIT_MS", 600_000)
        topic, group = f"{topic_prefix}in", f"{topic_prefix}group"
        await produce(kafka_bootstrap, topic)
        health, stop = ConsumerHealth(), asyncio.Event()
        consumer = KafkaBatchConsumer(kafka_bootstrap, topic, group, name="test", health=health)
        await consumer.start()
        try:
            task = asyncio.create_task(consumer.run(store.handle, stop))
            await until(_covers(kafka_bootstrap, group, RECORDS))  # then nothing more comes
            stop.set()
            await asyncio.wait_for(task, timeout=60)
        finally:
            await consumer.stop()
        assert await store.count() == RECORDS


@pytest.mark.faults  # a private Kafka stopped and started: run with make test-faults
async def test_kafka_restarting_under_a_batch_is_waited_out(tmp_path: Path, store: Store) -> None:
    """A private Kafka stops while a batch is in hand: publishing fails, the batch is retried
    until Kafka is back, and every record is then forwarded, stored and committed."""
    cluster = LocalKafkaCluster(tmp_path / "kafka")
    await asyncio.to_thread(cluster.start)
    try:
        bootstrap = cluster.bootstrap_servers
        await produce(bootstrap, "in")
        await produce(bootstrap, "out", records=0)
        publisher = KafkaPublisher(bootstrap, deadline_s=3)
        in_hand, kafka_stopped = asyncio.Event(), asyncio.Event()

        async def forward(records: Sequence[Received]) -> None:
            in_hand.set()
            await kafka_stopped.wait()
            await publisher.publish([Message("out", r.key or "", r.value) for r in records])
            await store.handle(records)

        health, stop = ConsumerHealth(), asyncio.Event()
        consumer = KafkaBatchConsumer(bootstrap, "in", "group", name="test", health=health,
                                      backoff=QUICK)  # fmt: skip
        await publisher.start()
        await consumer.start()
        task = asyncio.create_task(consumer.run(forward, stop))
        await until(lambda: in_hand.is_set())
        await asyncio.to_thread(cluster.stop)
        kafka_stopped.set()
        await until(lambda: health.retrying == "PublishFailed")
        assert await store.count() == 0
        await asyncio.to_thread(cluster.start)
        await until(_covers(bootstrap, "group", RECORDS), timeout=120)
        stop.set()
        await task
        await consumer.stop()
        await publisher.stop()
        forwarded = await _values(bootstrap, "out")
        assert len(set(forwarded)) == RECORDS  # each at least once; a redelivery may repeat
        assert await store.count() == RECORDS
    finally:
        await asyncio.to_thread(cluster.stop)


async def _values(bootstrap: str, topic: str) -> list[bytes]:
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest")
    await consumer.start()
    values: list[bytes] = []
    try:
        async with asyncio.timeout(60):
            while len(set(values)) < RECORDS:
                batches = await consumer.getmany(timeout_ms=500)
                values += [r.value or b"" for part in batches.values() for r in part]
    finally:
        await consumer.stop()
    return values


def _lost(group: str) -> float:
    value = metrics.REGISTRY.get_sample_value(
        "sgb_commits_lost_to_rebalance_total", {"group": group}
    )
    return value or 0.0


def _covers(bootstrap: str, group: str, count: int) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return await committed(bootstrap, group) >= count

    return check
