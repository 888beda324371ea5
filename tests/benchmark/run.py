"""One benchmark run: events through the real broker, then the raw-aiokafka baseline.

Agencies publish through the SDK, with a bounded number of events in flight, either as fast
as Kafka acknowledges them or at a set rate. An event is accepted when the SDK's publish
returns (every in-sync replica has it); each of its notices is done when the delivery worker
has committed it to the recipient's inbox. The run ends when every notice the routers
produced is committed and both consumer groups have committed everything.
"""

import asyncio
import contextlib
import os
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from broker.adapters.kafka import (
    BROKER_PRODUCER_OVERRIDES,
    CONSUMER_SETTINGS,
    MAX_RECORDS,
    PRODUCER_SETTINGS,
)
from broker.keys import KeyStore
from producers.sdk import EventPublisher
from schemas.events import Event
from tests.benchmark import pg_copy, population, stages
from tests.benchmark.baseline import BaselineLoad, run_baseline
from tests.benchmark.floor import efficiency_report, measure_floor
from tests.benchmark.gateway_load import run_gateway
from tests.benchmark.measure import Processes, percentiles
from tests.benchmark.system import (
    AuditWatch,
    Broker,
    Deliveries,
    kafka,
    listening_pid,
    sizes,
    watching_audit,
)

DRAIN_TIMEOUT_S = 900.0


@dataclass(frozen=True)
class Load:
    people: int = 100_000
    events: int = 5_000
    rate: float | None = None  # events/s offered; None: as fast as Kafka acknowledges
    in_flight: int = 64
    routers: int = 1
    deliveries: int = 1
    partitions: int = 6
    baseline: bool = True
    postgres: str | None = None  # a PostgreSQL server's URL: the broker's database there
    profile: bool = False  # the broker's processes under pyinstrument, reports kept


def run(load: Load, workdir: Path | None = None) -> dict[str, Any]:
    """Runs the broker (and the baseline) under ``load``; returns the report."""
    today = datetime.now(UTC).date()
    pop = population.population(load.people, today)
    with contextlib.ExitStack() as stack:
        if workdir is None and load.profile:
            workdir = Path(tempfile.mkdtemp(prefix="sgb-bench-"))
        if workdir is None:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="sgb-bench-")))
        bootstrap = stack.enter_context(kafka(workdir))
        return asyncio.run(_run(load, pop, bootstrap, workdir, today))


def run_gateway_mode(
    people: int, events: int, concurrency: int, partitions: int, postgres: str | None = None
) -> dict[str, Any]:
    """The gateway alone, on the same directory and the same mix of events."""
    today = datetime.now(UTC).date()
    pop = population.population(people, today)
    with tempfile.TemporaryDirectory(prefix="sgb-bench-") as folder, kafka(Path(folder)) as kafka_:
        workdir = Path(folder)
        load = list(population.events(pop, events))

        async def on_database(url: str) -> dict[str, Any]:
            return await run_gateway(kafka_, workdir, pop, url, load, concurrency, partitions)

        return asyncio.run(_on_database(pop, workdir, postgres, on_database))


async def _on_database(
    pop: population.Population,
    workdir: Path,
    postgres: str | None,
    run_on: Callable[[str], Awaitable[dict[str, Any]]],
) -> dict[str, Any]:
    """Runs on a SQLite database in ``workdir``, or on a PostgreSQL database made for the
    run, the directory loaded into it through the bulk import (seconds: no cache needed)."""
    if not postgres:
        return await _loaded(pop, f"sqlite+aiosqlite:///{workdir / 'broker.sqlite'}", run_on)
    database, url = await pg_copy.empty_database(postgres)
    try:
        return await _loaded(pop, url, run_on)
    finally:
        await pg_copy.drop_database(postgres, database)


async def _loaded(
    pop: population.Population, url: str, run_on: Callable[[str], Awaitable[dict[str, Any]]]
) -> dict[str, Any]:
    """The run's report, with how fast its directory was imported."""
    seconds = await population.load_in_chunks(pop.spec, url)
    report = await run_on(url)
    report["directory_import_records_per_s"] = round(population.records_in(pop.spec) / seconds)
    return report


async def _run(
    load: Load, pop: population.Population, bootstrap: str, workdir: Path, today: date
) -> dict[str, Any]:
    async def on_database(url: str) -> dict[str, Any]:
        return await _run_on(load, pop, url, bootstrap, workdir, today)

    return await _on_database(pop, workdir, load.postgres, on_database)


async def _run_on(
    load: Load, pop: population.Population, url: str, bootstrap: str, workdir: Path, today: date
) -> dict[str, Any]:
    broker = Broker(workdir, bootstrap, url, load.partitions, load.routers, load.deliveries,
                    load.profile)  # fmt: skip
    keys = await broker.start()
    try:
        events = list(population.events(pop, load.events))
        processes = Processes()
        for name, pid in broker.pids().items():
            processes.watch(name, pid)
        if kafka_pid := listening_pid(bootstrap):
            processes.watch("kafka", kafka_pid)
        if load.postgres and (postgres_pid := listening_pid(load.postgres)):
            processes.watch("postgresql", postgres_pid, tree=True)
        processes.watch("agencies (SDK)", os.getpid())
        stop = asyncio.Event()
        sampler = asyncio.create_task(processes.sample_every(0.5, stop))
        async with watching_audit(bootstrap, broker.topics.audit) as audit:
            accepted = await _publish(events, pop, keys, broker.prefix, bootstrap, load)
            drained = await _drain(broker, audit)
        seen = audit.seen
        stop.set()
        await sampler
        report = _report(load, events, accepted, seen, drained)
        report |= processes.report(len(events))
        event_sizes = await sizes(broker.bootstrap, broker.topics.events, len(accepted))
        notice_sizes = await sizes(broker.bootstrap, broker.topics.notices, len(seen.event_of))
        floor = measure_floor([s for _, s in event_sizes], [s for _, s in notice_sizes])
        report |= efficiency_report(floor, processes.cpu_seconds(), len(events),
                                    report["seconds"])  # fmt: skip
        report["consumer_lag_at_end"] = await broker.lag()
        report["crashed"] = broker.crashed()
        placed = await stages.placements(broker.bootstrap, broker.topics, len(accepted),
                                         len(seen.event_of))  # fmt: skip
    finally:
        broker.stop()
    report |= stages.report(workdir / "logs", broker.topics, placed, accepted, seen.committed_at)
    report["settings"] = _settings(load, broker, today)
    if load.profile:
        report["profiles"] = sorted(str(p) for p in (workdir / "logs").glob("*.profile.txt"))
    try:
        if load.baseline:
            report["baseline"] = await _baseline(broker, load, event_sizes, notice_sizes,
                                                 workdir)  # fmt: skip
            ratio = report["events_per_s"] / report["baseline"]["events_per_s"]
            report["throughput_ratio_to_baseline"] = round(ratio, 3)
    finally:
        await broker.remove_topics()
    return report


async def _publish(
    events: Sequence[tuple[str, Event]],
    pop: population.Population,
    keys: KeyStore,
    prefix: str,
    bootstrap: str,
    load: Load,
) -> dict[str, float]:
    """Publishes every event as its agency would; answers when each was accepted."""
    publishers = {
        org: EventPublisher(
            bootstrap,
            keys.public,
            pop.producer_keys[org],
            topic_prefix=prefix,
        )
        for org in {org for org, _ in events}
    }
    accepted: dict[str, float] = {}
    slots = asyncio.Semaphore(load.in_flight)
    async with contextlib.AsyncExitStack() as stack:
        for publisher in publishers.values():
            await stack.enter_async_context(publisher)
        start = time.monotonic()

        async def one(org: str, event: Event) -> None:
            try:
                await publishers[org].publish(event)
                accepted[str(event.event_id)] = time.time()
            finally:
                slots.release()

        async with asyncio.TaskGroup() as tasks:
            for i, (org, event) in enumerate(events):
                if load.rate:
                    await asyncio.sleep(max(0.0, start + i / load.rate - time.monotonic()))
                await slots.acquire()
                tasks.create_task(one(org, event))
    return accepted


async def _drain(broker: Broker, audit: AuditWatch) -> float:
    """Waits until the broker has nothing left to do: both groups have committed everything
    (so every notice and its audit record is on Kafka), and every notice produced has been
    committed to an inbox. Answers how long that took after the last event was accepted."""
    start = time.monotonic()
    while time.monotonic() - start < DRAIN_TIMEOUT_S:
        if crashed := broker.crashed():
            raise RuntimeError(f"broker processes exited: {crashed}; see {broker.workdir}/logs")
        try:
            lag = await broker.lag()
        except Exception as exc:  # Kafka busy answering: ask again
            lag = -1
            print(f"lag unknown: {type(exc).__name__}", file=sys.stderr)
        if lag == 0:
            await audit.read_to_end()
            if audit.seen.complete:
                return time.monotonic() - start
        if int(time.monotonic() - start) % 10 == 0:  # progress, every ten seconds or so
            seen = audit.seen
            print(f"draining: lag {lag}, notices produced {len(seen.event_of)}, "
                  f"committed {len(seen.committed_at)}", file=sys.stderr)  # fmt: skip
        await asyncio.sleep(0.5)
    raise RuntimeError(f"the broker did not drain in {DRAIN_TIMEOUT_S:.0f} s")


def _report(
    load: Load,
    events: Sequence[tuple[str, Event]],
    accepted: dict[str, float],
    seen: Deliveries,
    drained: float,
) -> dict[str, Any]:
    latencies = [
        (committed - accepted[seen.event_of[notice]]) * 1000
        for notice, committed in seen.committed_at.items()
        if seen.event_of.get(notice) in accepted
    ]
    first = min(accepted.values())
    last = max([*seen.committed_at.values(), *accepted.values()])
    seconds = last - first
    mix: dict[str, int] = defaultdict(int)
    for _, event in events:
        mix[event.event_type.value] += 1
    return {
        "mode": "broker",
        "events": len(events),
        "notices": len(seen.committed_at),
        "event_mix": dict(sorted(mix.items())),
        "seconds": round(seconds, 2),
        "events_per_s": round(len(events) / seconds, 1),
        "notices_per_s": round(len(seen.committed_at) / seconds, 1),
        "offered_events_per_s": load.rate,
        "latency_ms": percentiles(latencies),
        "drain_after_last_accepted_s": round(drained, 2),
    }


def _settings(load: Load, broker: Broker, today: date) -> dict[str, Any]:
    return {
        **broker.settings(),
        "people": load.people,
        "households": population.people_to_households(load.people),
        "in_flight": load.in_flight,
        "rate": load.rate or "max",
        "producer": PRODUCER_SETTINGS,
        "broker_producer": PRODUCER_SETTINGS | BROKER_PRODUCER_OVERRIDES,
        "consumer": CONSUMER_SETTINGS | {"max_records": MAX_RECORDS},
        "date": today.isoformat(),
    }


async def _baseline(
    broker: Broker,
    load: Load,
    event_sizes: list[tuple[str, int]],
    notice_sizes: list[tuple[str, int]],
    workdir: Path,
) -> dict[str, Any]:
    """The same messages, by number and size, through the same two hops with raw aiokafka."""
    by_event: dict[str, list[int]] = defaultdict(list)
    for event_id, size in notice_sizes:
        by_event[event_id].append(size)
    load_ = BaselineLoad(
        event_sizes=[size for _, size in event_sizes],
        notice_sizes=[by_event.get(event_id, []) for event_id, _ in event_sizes],
        rate=load.rate,
    )
    return await run_baseline(broker.bootstrap, load_, load.partitions, workdir / "baseline",
                              in_flight=load.in_flight)  # fmt: skip
