"""``python -m tests.benchmark routing``: the router's CPU per event, alone, in-process.

The end-to-end run (``run``) shares the machine's cores with Kafka, the delivery worker and
the load generator, and on a machine others use too its CPU figures move with their load.
This one routes the benchmark's own mix of events through the router's handler
(``consumers.router.handle_events``: groups of 25, the directory in memory, notices
published to the real Kafka) on a directory of its own, and times only the handler calls:
two versions of the code measured one after the other compare like for like. The events are
signed and sealed up front (the agencies' cost, not the router's).
"""

import tempfile
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from broker.adapters import db
from broker.adapters.kafka import MAX_RECORDS, Received
from broker.adapters.unit_of_work import SqlUnitOfWork
from broker.bootstrap import runtime
from broker.config import Settings, TopicSettings
from broker.keys import KeyStore
from consumers.router import _projection, handle_events
from producers.envelopes import seal_event, sign_event
from schemas.transport import EventHeader
from tests.benchmark import population
from tests.benchmark.delivery import _remove_topics


async def measure_routing(people: int, events: int, bootstrap: str) -> dict[str, Any]:
    pop = population.population(people, datetime.now(UTC).date())
    with tempfile.TemporaryDirectory(prefix="sgb-routing-bench-") as folder:
        url = f"sqlite+aiosqlite:///{Path(folder) / 'broker.db'}"
        await population.load_in_chunks(pop.spec, url)
        KeyStore.create(Path(folder) / "keys")
        settings = Settings(kafka_bootstrap_servers=bootstrap,
                            topic_prefix=f"bench-routing-{uuid.uuid4().hex[:8]}-",
                            topics=TopicSettings(partitions=1), database_url=url,
                            keys_dir=Path(folder) / "keys", log_json=True)  # fmt: skip
        async with runtime(settings, configure_logs=False) as rt:
            try:
                projection = await _projection(rt)
                deps = replace(rt.services.routing,
                               units=partial(SqlUnitOfWork, rt.sessions, projection))  # fmt: skip
                batches = _batches(rt.topics.events, pop, events, rt.keys)
                cpu, wall = time.process_time(), time.perf_counter()
                for batch in batches:
                    await handle_events(batch, deps)
                cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
                async with rt.sessions() as session:
                    notices = await session.scalar(
                        select(func.count()).select_from(db.NoticeRecord)
                    )
            finally:
                await _remove_topics(bootstrap, rt)
    return {"mode": "routing", "database": "sqlite", "people": people, "events": events,
            "notices": notices, "batch": MAX_RECORDS,
            "cpu_ms_per_event": round(cpu * 1000 / events, 3),
            "wall_ms_per_event": round(wall * 1000 / events, 3)}  # fmt: skip


def _batches(
    topic: str, pop: population.Population, events: int, keys: KeyStore
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
    return [records[i : i + MAX_RECORDS] for i in range(0, events, MAX_RECORDS)]
