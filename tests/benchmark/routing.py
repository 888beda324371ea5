"""``python -m tests.benchmark routing``: the router's CPU per event, alone, in-process.

The end-to-end run (``run``) shares the machine's cores with Kafka, the delivery worker and
the load generator, and on a machine others use too its CPU figures move with their load.
This one routes the benchmark's own mix of events through the router's handler
(``consumers.router.handle_events``: groups of 25, the directory in memory, notices
published to the real Kafka) on a directory of its own, and times only the handler calls:
two versions of the code measured one after the other compare like for like. The events are
signed and sealed up front (the agencies' cost, not the router's).
"""

import gc
import hashlib
import os
import re
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from broker.adapters import db
from broker.adapters.directory_projection import keep_out_of_collections
from broker.adapters.kafka import MAX_RECORDS, Received
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.bootstrap import Runtime, runtime
from broker.config import Settings, TopicSettings
from broker.keys import KeyStore
from consumers.router import _projection, handle_events
from producers import crypto
from producers.envelopes import seal_event, sign_event
from schemas.transport import EventHeader
from tests.benchmark import population
from tests.benchmark.delivery import _counted, _database, _remove_topics


async def measure_routing(
    people: int, events: int, bootstrap: str, profile: Path | None = None,
    postgres: str | None = None, batch: int = MAX_RECORDS,
) -> dict[str, Any]:  # fmt: skip
    """``postgres``: a server's URL, for a database made there for the run (else SQLite).
    ``batch``: records per handler call; at a low rate a batch holds the few records Kafka
    had, and what a group costs whatever its size weighs on each of its events."""
    pop = population.population(people, datetime.now(UTC).date())
    with tempfile.TemporaryDirectory(prefix="sgb-routing-bench-") as folder:
        async with _database(Path(folder), postgres) as url:
            await population.load_in_chunks(pop.spec, url)
            KeyStore.create(Path(folder) / "keys")
            settings = Settings(kafka_bootstrap_servers=bootstrap,
                                topic_prefix=f"bench-routing-{uuid.uuid4().hex[:8]}-",
                                topics=TopicSettings(partitions=1), database_url=url,
                                keys_dir=Path(folder) / "keys", log_json=True)  # fmt: skip
            async with runtime(settings, configure_logs=False) as rt:
                try:
                    report = await _routed(rt, pop, events, batch, profile)
                finally:
                    await _remove_topics(bootstrap, rt)
    return {
        "mode": "routing",
        "database": "postgresql" if postgres else "sqlite",
        "people": people,
        "events": events,
    } | report


async def _routed(
    rt: Runtime, pop: population.Population, events: int, batch: int, profile: Path | None
) -> dict[str, Any]:
    projection = await _projection(rt)
    keep_out_of_collections()  # as the router does (consumers/router.py)
    deps = replace(rt.services.routing,
                   units=partial(SqlUnitOfWork, rt.sessions, projection))  # fmt: skip
    batches = _batches(rt.topics.events, pop, events, rt.keys, batch)
    with (
        _plaintexts(deps.data_keys) as seen, _profiled(profile), _gc_timed() as gc,
        _counted(rt) as statements,
    ):  # fmt: skip
        cpu, wall = time.process_time(), time.perf_counter()
        for records in batches:
            await handle_events(records, deps)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    async with rt.sessions() as session:
        notices = await session.scalar(select(func.count()).select_from(db.NoticeRecord))
    return {"notices": notices, "plaintexts": len(seen), "plaintext_digest": _digest(seen),
            "batch": batch,
            "cpu_ms_per_event": round(cpu * 1000 / events, 3),
            "wall_ms_per_event": round(wall * 1000 / events, 3),
            "statements_per_batch": round(len(statements) / len(batches), 2),
            "gc_ms_per_event": round(gc["seconds"] * 1000 / events, 3),
            "gc_full_collections": gc["full"]}  # fmt: skip


def _batches(
    topic: str, pop: population.Population, events: int, keys: KeyStore, size: int
) -> list[list[Received]]:
    records = []
    for offset, (org, event) in enumerate(population.events(pop, events)):
        signed = sign_event(event, pop.producer_keys[org])
        header = EventHeader(event_id=event.event_id, source_org=event.source_org,
                             correlation_id=event.correlation_id,
                             broker_key_id=keys.public.hpke_key_id)  # fmt: skip
        sealed = seal_event(signed, header, keys.public.hpke)
        records.append(Received(topic, 0, offset, None, sealed.model_dump_json().encode(),
                                datetime.now(UTC)))  # fmt: skip
    return [records[i : i + size] for i in range(0, events, size)]


@contextmanager
def _profiled(path: Path | None) -> Iterator[None]:
    """The timed handler calls under pyinstrument, its text report written to ``path``; a
    ``path`` ending in .pstats gets cProfile's statistics instead (call counts, exact)."""
    if path is None:
        yield
        return
    if path.suffix == ".pstats":
        import cProfile

        with cProfile.Profile() as counted:
            yield
        counted.dump_stats(path)
        return
    from pyinstrument import Profiler  # a development tool, imported only when asked for
    from pyinstrument.renderers import ConsoleRenderer

    profiler = Profiler(interval=0.0005, async_mode="disabled")
    with profiler:
        yield
    # Down to 0.3 % of the time: the costs left after the large ones go are small ones.
    renderer = ConsoleRenderer(unicode=True, processor_options={"filter_threshold": 0.003})
    path.write_text(profiler.output(renderer))


@contextmanager
def _gc_timed() -> Iterator[dict[str, float]]:
    """The garbage collector's pauses during the timed calls (wall time: its CPU, as the
    process has one thread collecting), and how many were full (generation 2) collections."""
    paused = {"seconds": 0.0, "full": 0}
    started = 0.0

    def timing(phase: str, info: dict[str, int]) -> None:
        nonlocal started
        if phase == "start":
            started = time.perf_counter()
            return
        paused["seconds"] += time.perf_counter() - started
        paused["full"] += info["generation"] == 2

    gc.callbacks.append(timing)
    try:
        yield paused
    finally:
        gc.callbacks.remove(timing)


# Event ids, correlation ids, times and the run's own keyed pseudonyms differ from run to run;
# everything else in what the router seals and keeps should not, for the same code.
_VARIABLE = re.compile(
    rb"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
    rb"|\d{4}-\d\d-\d\dT[0-9:.]+(?:Z|[+-]\d\d:\d\d)?"
    rb"|\b[0-9a-f]{32,}\b"
    rb"|\b[0-9A-F]{8}-[0-9A-F]{4}\b"  # a school's reference, from the notice id
)


@contextmanager
def _plaintexts(data_keys: Any) -> Iterator[list[bytes]]:
    """Every plaintext the router seals to a recipient or wraps under a data key, as it was
    before encryption (the ciphertexts are randomised): two versions of the routing code
    that make the same digest made the same bodies, byte for byte but for ids and times."""
    seen: list[bytes] = []
    seal, wrap = crypto.seal, data_keys.wrap

    def sealing(plaintext: bytes, *args: Any, **kwargs: Any) -> bytes:
        seen.append(b"seal|" + kwargs.get("purpose", b"") + b"|" + plaintext)
        return seal(plaintext, *args, **kwargs)

    def wrapping(household: str, plaintext: bytes, context: bytes) -> Any:
        seen.append(b"wrap|" + _VARIABLE.sub(b"~", context) + b"|" + plaintext)
        return wrap(household, plaintext, context)

    crypto.seal, data_keys.wrap = sealing, wrapping  # type: ignore[method-assign]
    try:
        yield seen
    finally:
        crypto.seal = seal
        del data_keys.wrap


def _digest(seen: list[bytes]) -> str:
    normalised: Callable[[bytes], bytes] = lambda text: _VARIABLE.sub(b"~", text)  # noqa: E731
    lines = b"\n".join(sorted(map(normalised, seen)))
    if kept := os.environ.get("SGB_BENCH_PLAINTEXTS"):  # to diff two runs' plaintexts
        Path(kept).write_bytes(lines)
    return hashlib.sha256(lines).hexdigest()[:16]
