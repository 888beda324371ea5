"""Where an event's time goes, stage by stage, from timestamps the pipeline already has.

Per notice: its event appended to the events topic (Kafka's own time, ``LogAppendTime``)
and accepted by its agency (the SDK's publish returned); fetched by a router, and that
batch's effects done (the routers' ``batch_committed`` log lines, by topic, partition and
offset); the notice published (its record's timestamp on the notices topic, taken by the
router's producer as it sends); fetched by a delivery worker (its ``batch_committed``
line); committed to the inbox (the ``notice_delivered`` audit record's timestamp, taken
once that transaction has committed). Times only: no record's content is read beyond its
header's ids.
"""

import asyncio
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer

from tests.benchmark.measure import percentiles

Position = tuple[int, int]  # partition, offset


@dataclass(frozen=True)
class Placed:
    """A record on a topic: its header's ids, where it lay, and its Kafka timestamp."""

    ids: dict[str, str]
    position: Position
    at: float  # epoch seconds


@dataclass(frozen=True)
class Batch:
    """A consume loop's batch, as its ``batch_committed`` log line tells it."""

    fetched_at: float
    handled_at: float
    committed_at: float
    records: int


@dataclass
class Batches:
    """The batches of one topic's consumers, found by where a record lay."""

    spans: dict[int, list[tuple[int, int, Batch]]] = field(
        default_factory=lambda: defaultdict(list)
    )

    def add(self, line: dict[str, Any]) -> None:
        batch = Batch(line["fetched_at"], line["handled_at"], line["committed_at"],
                      line["records"])  # fmt: skip
        for partition, (first, last) in line["offsets"].items():
            self.spans[int(partition)].append((first, last, batch))

    def of(self, position: Position) -> Batch | None:
        """The first batch that handled the record (a redelivery may handle it again)."""
        spans = self.spans.get(position[0], [])
        offset = position[1]
        candidates = [b for first, last, b in spans if first <= offset <= last]
        return min(candidates, key=lambda b: b.fetched_at, default=None)

    def sizes(self) -> list[int]:
        return sorted({id(b): b.records for s in self.spans.values() for *_, b in s}.values())


def batches_from_logs(logs: Iterable[Path], topic: str) -> Batches:
    found = Batches()
    for path in logs:
        for text in path.read_text(errors="replace").splitlines():
            if '"batch_committed"' not in text:
                continue
            line = json.loads(text)
            if line.get("event") == "batch_committed" and line.get("topic") == topic:
                found.add(line)
    for spans in found.spans.values():
        spans.sort(key=lambda s: s[0])
    return found


async def read_topic(bootstrap: str, topic: str, expected: int, id_keys: Sequence[str]) -> (
    dict[str, Placed]
):  # fmt: skip
    """Each record on ``topic`` by its header's first id (the first copy of a record sent
    twice), with the header's other ``id_keys``."""
    consumer = AIOKafkaConsumer(topic, bootstrap_servers=bootstrap,
                                auto_offset_reset="earliest", enable_auto_commit=False)  # fmt: skip
    await consumer.start()
    found: dict[str, Placed] = {}
    try:
        async with asyncio.timeout(120):
            while len(found) < expected:
                for records in (await consumer.getmany(timeout_ms=500)).values():
                    for r in records:
                        header = json.loads(json.loads(r.value or b"{}")["header"])
                        ids = {k: str(header[k]) for k in id_keys}
                        found.setdefault(ids[id_keys[0]], Placed(ids, (r.partition, r.offset),
                                                                 r.timestamp / 1000))  # fmt: skip
    finally:
        await consumer.stop()
    return found


@dataclass
class Stages:
    """Per-notice milliseconds spent in each stage, collected then summarised."""

    ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))

    def add(self, stage: str, start: float | None, end: float | None) -> None:
        if start is not None and end is not None:
            self.ms[stage].append((end - start) * 1000)

    def report(self) -> dict[str, dict[str, float]]:
        return {stage: percentiles(values) for stage, values in self.ms.items()}


STAGES = (
    "appended_to_accepted",  # the agency's own wait for acks=all, after Kafka has the event
    "appended_to_router_fetch",
    "router_fetch_to_batch_done",  # the whole batch routed, committed and published
    "router_fetch_to_notice_published",
    "published_to_delivery_fetch",
    "delivery_fetch_to_inbox_commit",
    "accepted_to_inbox_commit",
)


def per_stage(
    events: dict[str, Placed],
    notices: dict[str, Placed],
    accepted: dict[str, float],
    committed_at: dict[str, float],
    routers: Batches,
    deliveries: Batches,
) -> dict[str, Any]:
    """The stages' percentiles over every notice committed to an inbox."""
    stages = Stages()
    for notice_id, committed in committed_at.items():
        notice = notices.get(notice_id)
        event = events.get(notice.ids["event_id"]) if notice else None
        if notice is None or event is None:
            continue
        routed, delivered = routers.of(event.position), deliveries.of(notice.position)
        fetched = routed.fetched_at if routed else None
        stages.add("appended_to_accepted", event.at, accepted.get(event.ids["event_id"]))
        stages.add("appended_to_router_fetch", event.at, fetched)
        stages.add("router_fetch_to_batch_done", fetched, routed.handled_at if routed else None)
        stages.add("router_fetch_to_notice_published", fetched, notice.at)
        stages.add("published_to_delivery_fetch", notice.at,
                   delivered.fetched_at if delivered else None)  # fmt: skip
        stages.add("delivery_fetch_to_inbox_commit",
                   delivered.fetched_at if delivered else None, committed)  # fmt: skip
        stages.add("accepted_to_inbox_commit", accepted.get(event.ids["event_id"]), committed)
    report = stages.report()
    return {
        "stages_ms": {s: report[s] for s in STAGES if s in report},
        "router_batch_records": percentiles([float(n) for n in routers.sizes()]),
        "delivery_batch_records": percentiles([float(n) for n in deliveries.sizes()]),
    }


@dataclass(frozen=True)
class Placements:
    events: dict[str, Placed]
    notices: dict[str, Placed]


async def placements(bootstrap: str, topics: Any, events: int, notices: int) -> Placements:
    """Where each event and each notice lay, and when Kafka took it (read before the run's
    topics are removed)."""
    return Placements(
        await read_topic(bootstrap, topics.events, events, ("event_id",)),
        await read_topic(bootstrap, topics.notices, notices, ("notice_id", "event_id")),
    )


def report(
    logs: Path, topics: Any, placed: Placements, accepted: dict[str, float],
    committed_at: dict[str, float],
) -> dict[str, Any]:  # fmt: skip
    """The per-stage report, once the broker's processes have stopped (their logs whole)."""
    routers = batches_from_logs(sorted(logs.glob("router-*.log")), topics.events)
    deliveries = batches_from_logs(sorted(logs.glob("delivery-*.log")), topics.notices)
    return per_stage(placed.events, placed.notices, accepted, committed_at, routers, deliveries)
