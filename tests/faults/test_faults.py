"""Fault injection: with a steady stream of events running, break one thing, mend it, and
check that every event produced exactly its expected notices, each delivered exactly once,
and that every escalation happened exactly once. Each test prints its line of counts."""

import asyncio
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from functools import partial
from pathlib import Path

import pytest
from aiokafka import AIOKafkaProducer

from broker.adapters import data_quality, db
from broker.adapters.dead_letter_topic import DeadLetter, read_all
from broker.config import TopicSettings
from broker.keys import audit_key
from deploy.localkafka import LocalKafkaCluster
from deploy.localpostgres import LocalPostgres
from deploy.ports import free_port

from .conftest import RESTART_KAFKA_PORT, THREE_NODE_KAFKA_PORT, ClusterFactory
from .counting import Tally
from .endpoint import WebhookEndpoint
from .harness import Deployment, Stream, deployed
from .poison import UNSEALABLE, PoisonedExpectation, choose, inject
from .population import AREA, Expectation, Shape, build

pytestmark = pytest.mark.faults

RATE = 8.0  # events a second; each makes about five notices and two or three escalations
SECONDS = 30.0
FAULT_AT = 0.35  # the share of the stream published before the fault strikes
SECOND_KILL_AT = 0.65  # the kill -9 faults strike twice, at each of two instances in turn
PARTITIONS = 6
Report = Callable[[str], None]


async def run_fault(
    name: str,
    system: Deployment,
    fault: Callable[[Stream], Awaitable[None]],
    seconds: float = SECONDS,
    expectation: Expectation | None = None,
) -> Tally:
    """Runs the stream, injects the fault part-way through, then settles and counts."""
    started = time.monotonic()
    stream = Stream(system, RATE, seconds, expectation=expectation or Expectation())
    async with stream.running():
        await stream.until(FAULT_AT)
        await fault(stream)
    return await system.settle(name, stream, started)


def deployment(
    tmp_path: Path,
    bootstrap: str,
    *,
    database_url: str | None = None,
    topics: TopicSettings | None = None,
    deliveries: int = 1,
    webhook_url: Callable[[str], str] | None = None,
) -> Deployment:
    """Two routers and the delivery workers, on SQLite unless told otherwise, for a fresh
    population of as many households as the stream has events."""
    return Deployment(
        tmp_path,
        bootstrap,
        database_url or f"sqlite+aiosqlite:///{tmp_path / 'broker.db'}",
        build(int(RATE * SECONDS), webhook_url=webhook_url),
        topics or TopicSettings(partitions=PARTITIONS),
        deliveries=deliveries,
    )


async def no_fault(_stream: Stream) -> None:
    pass


async def kill_each(system: Deployment, stream: Stream, names: tuple[str, str]) -> None:
    """SIGKILLs the first instance, starts a fresh one 3 s later; later in the stream, the
    same for the second (so each kill lands in a group that rebalanced not long before)."""
    for name, at in zip(names, (FAULT_AT, SECOND_KILL_AT), strict=True):
        await stream.until(at)
        system.kill(name)
        await asyncio.sleep(3)
        system.start(name)


def hook(port: int, contact_id: str) -> str:
    return f"http://127.0.0.1:{port}/hooks/{contact_id}"


def check(result: Tally, report: Report) -> None:
    report(result.line())
    assert result.clean, result.line()


async def test_baseline(tmp_path: Path, shared_kafka: LocalKafkaCluster, report: Report) -> None:
    """No fault: the harness and its expectation agree with a healthy system."""
    async with deployed(deployment(tmp_path, shared_kafka.bootstrap_servers)) as system:
        check(await run_fault("baseline (no fault)", system, no_fault, 15), report)


async def test_router_killed(
    tmp_path: Path, shared_kafka: LocalKafkaCluster, report: Report
) -> None:
    """Each of two routers in turn is killed with SIGKILL mid-stream and a fresh one started
    3 s later."""
    async with deployed(deployment(tmp_path, shared_kafka.bootstrap_servers)) as system:

        async def fault(stream: Stream) -> None:
            await kill_each(system, stream, ("router-0", "router-1"))

        check(await run_fault("router kill -9 (x2)", system, fault), report)


async def test_delivery_worker_killed(
    tmp_path: Path, shared_kafka: LocalKafkaCluster, report: Report
) -> None:
    """Each of two delivery workers in turn is killed with SIGKILL mid-stream and a fresh one
    started 3 s later."""
    bootstrap = shared_kafka.bootstrap_servers
    async with deployed(deployment(tmp_path, bootstrap, deliveries=2)) as system:

        async def fault(stream: Stream) -> None:
            await kill_each(system, stream, ("delivery-0", "delivery-1"))

        check(await run_fault("delivery worker kill -9 (x2)", system, fault), report)


async def test_kafka_restarted(
    tmp_path: Path, kafka_cluster_factory: ClusterFactory, report: Report
) -> None:
    """The only Kafka broker is stopped mid-stream and started again on the same data."""
    cluster = await asyncio.to_thread(kafka_cluster_factory, 1, RESTART_KAFKA_PORT)
    async with deployed(deployment(tmp_path, cluster.bootstrap_servers)) as system:

        async def fault(_stream: Stream) -> None:
            await asyncio.to_thread(cluster.stop)
            await asyncio.sleep(5)
            await asyncio.to_thread(cluster.start)

        check(await run_fault("Kafka broker restart", system, fault), report)


async def test_kafka_node_lost_from_three(
    tmp_path: Path, kafka_cluster_factory: ClusterFactory, report: Report
) -> None:
    """Three KRaft nodes, replication factor 3, min.insync.replicas 2: one node is killed
    mid-stream, the stream runs on two for a while, then the node comes back."""
    cluster = await asyncio.to_thread(kafka_cluster_factory, 3, THREE_NODE_KAFKA_PORT)
    topics = TopicSettings(partitions=PARTITIONS, replication_factor=3, min_insync_replicas=2)
    async with deployed(deployment(tmp_path, cluster.bootstrap_servers, topics=topics)) as system:

        async def fault(_stream: Stream) -> None:
            await asyncio.to_thread(cluster.kill, 0)
            await asyncio.sleep(10)
            await asyncio.to_thread(cluster.start_node, 0)

        check(await run_fault("3-node Kafka, one node lost and back", system, fault), report)


async def test_database_restarted(
    tmp_path: Path, shared_kafka: LocalKafkaCluster, postgres: LocalPostgres, report: Report
) -> None:
    """PostgreSQL is stopped mid-stream (a fast shutdown: sessions ended, open transactions
    rolled back) and started again on the same data 5 s later."""
    bootstrap = shared_kafka.bootstrap_servers
    async with deployed(deployment(tmp_path, bootstrap, database_url=postgres.url)) as system:

        async def fault(_stream: Stream) -> None:
            await asyncio.to_thread(postgres.stop)
            await asyncio.sleep(5)
            await asyncio.to_thread(postgres.start)

        check(await run_fault("database (PostgreSQL) restart", system, fault), report)


async def test_webhook_endpoint_down(
    tmp_path: Path, shared_kafka: LocalKafkaCluster, report: Report
) -> None:
    """The schools' and health visiting teams' webhook endpoint is down (its port closed) for
    15 s mid-stream, then back: each notice for them is accepted there exactly once."""
    port = free_port()
    hooks = deployment(tmp_path, shared_kafka.bootstrap_servers, webhook_url=partial(hook, port))
    async with deployed(hooks) as system:
        system.endpoint = endpoint = WebhookEndpoint(port, system.keys.public)
        endpoint.up()

        async def fault(_stream: Stream) -> None:
            await asyncio.to_thread(endpoint.down)
            await asyncio.sleep(15)
            await asyncio.to_thread(endpoint.up)

        try:
            check(await run_fault("webhook endpoint down 15 s", system, fault), report)
        finally:
            endpoint.down()


POISON_SECONDS = 24.0
POISONED_SCHOOL = "school-poisoned"
NOT_AN_EVENT = b"{this is not an event"


async def test_poison_records(
    tmp_path: Path, shared_kafka: LocalKafkaCluster, report: Report
) -> None:
    """A third of the way in, bad records: a school's key replaced in the database by one
    nothing can be sealed to, two households' data key files overwritten with garbage, and
    a record on the events topic that is no event. Every other family's notices arrive
    exactly once; the poisoned ones reach the front door instead or are dead-lettered; no
    router exits. (A school whose term dates have all passed is not injected: this branch
    has no stale-term handling, SchoolCalendar.is_stale.)"""
    bootstrap = shared_kafka.bootstrap_servers
    households = int(RATE * POISON_SECONDS)
    first_poisoned = int(households * FAULT_AT) + int(RATE * 2)  # 2 s for the poison to go in
    shape = Shape(others=((POISONED_SCHOOL, "school", AREA),))
    population, poison = choose(build(households, shape=shape), first_poisoned, POISONED_SCHOOL)
    system = Deployment(tmp_path, bootstrap, f"sqlite+aiosqlite:///{tmp_path / 'broker.db'}",
                        population, TopicSettings(partitions=PARTITIONS))  # fmt: skip
    expectation = PoisonedExpectation(poison=poison)
    engine = db.make_engine(system.database_url)
    try:
        async with deployed(system):

            async def fault(stream: Stream) -> None:
                await inject(db.sessions(engine, audit_key(system.workdir / "keys")),
                             system.workdir / "keys",
                             system.keys.pseudonym_secret, poison)  # fmt: skip
                await send_raw(bootstrap, system.topic_names.events, NOT_AN_EVENT)
                assert len(stream.published) < first_poisoned, "the poison went in too late"

            result = await run_fault("poison records mid-stream", system, fault,
                                     POISON_SECONDS, expectation)  # fmt: skip
            letters = await read_all(bootstrap, system.topic_names.dead_letters)
        async with db.sessions(engine)() as session:
            gaps = await data_quality.report(session)
    finally:
        await engine.dispose()
    check(result, report)
    assert not result.crashes, "a router or delivery worker exited"
    accounted_for(letters, expectation)
    assert (UNSEALABLE, POISONED_SCHOOL) in {(line.gap.value, line.org_id) for line in gaps}


async def send_raw(bootstrap: str, topic: str, value: bytes) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        await producer.send_and_wait(topic, value, key=b"poison")
    finally:
        await producer.stop()


def accounted_for(letters: list[DeadLetter], expectation: PoisonedExpectation) -> None:
    """Every poisoned notice is dead-lettered (its front-door copy, where one was tried,
    too); nothing of any other event is; and the raw record is dead-lettered as unreadable,
    once."""
    notices = [letter for letter in letters if letter.source is None]
    found = Counter((str(n.reason.get("event_id")), str(n.reason.get("org_id")),
                     str(n.reason.get("notice_type"))) for n in notices)  # fmt: skip
    assert not expectation.dead_letters - found, "poisoned notices neither sent nor parked"
    poisoned_events = {event for event, _, _ in expectation.dead_letters}
    assert {event for event, _, _ in found} <= poisoned_events, "other events dead-lettered"
    school = {n.reason_name for n in notices if n.reason.get("org_id") == POISONED_SCHOOL}
    assert school == {UNSEALABLE}
    raw = [(letter.reason_name, letter.value) for letter in letters if letter.source]
    assert raw == [("ValidationError", NOT_AN_EVENT)]
    assert not any("rule_id" in n.reason for n in notices), "a dead letter names a rule"
