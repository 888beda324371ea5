"""Several router and delivery instances in one consumer group each, with instances joining
and leaving mid-stream (so partitions move between them): every event is routed once, every
notice it decided is stored once, and nothing decided is missing from the inboxes. (Killing
processes outright is the fault-injection suite's part, in tests/faults.)"""

import asyncio
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import func, select

from broker.adapters import audit, db
from broker.bootstrap import Runtime, runtime
from broker.config import Settings, TopicSettings
from broker.demo import family
from consumers.delivery import run_delivery
from consumers.router import run_router
from producers.sdk import EventPublisher
from schemas.events import EventAdapter

pytestmark = pytest.mark.integration

EVENTS = 60
PEOPLE = (family.MOTHER, family.FATHER)


class Instance:
    """One router or delivery worker, as its own process would be: its own clients."""

    def __init__(self, settings: Settings, run: Callable[[Runtime, asyncio.Event], Any]) -> None:
        self.stop = asyncio.Event()
        self.task = asyncio.create_task(self._main(settings, run))

    async def _main(self, settings: Settings, run: Callable[..., Awaitable[None]]) -> None:
        async with runtime(settings, configure_logs=False) as rt:
            await run(rt, self.stop)

    async def leave(self) -> None:
        self.stop.set()
        await self.task


@pytest.fixture
async def four_partitions(settings: Settings, directory: None) -> Settings:
    return settings.model_copy(update={"topics": TopicSettings(partitions=4)})


def crisis(nhs_number: str) -> Any:
    return EventAdapter.validate_python({
        "event_type": "parent_mental_health_crisis", "event_id": str(uuid.uuid4()),
        "source_org": "mh-demo", "occurred_at": datetime.now(UTC).isoformat(),
        "subject": {"nhs_number": nhs_number},
    })  # fmt: skip


async def test_instances_joining_and_leaving_neither_lose_nor_double(
    four_partitions: Settings, producer_keys: dict[str, Ed25519PrivateKey]
) -> None:
    settings = four_partitions
    routers = [Instance(settings, run_router), Instance(settings, run_router)]
    deliverers = [Instance(settings, run_delivery), Instance(settings, run_delivery)]
    async with runtime(settings, configure_logs=False) as rt:
        publisher = EventPublisher(settings.kafka_bootstrap_servers, rt.keys.public,
                                   producer_keys["mh-demo"],
                                   settings.topic_prefix)  # fmt: skip
        async with publisher:
            for i in range(EVENTS):
                await publisher.publish(crisis(PEOPLE[i % len(PEOPLE)]))
                if i == EVENTS // 4:
                    await routers[0].leave()
                    routers.append(Instance(settings, run_router))
                if i == EVENTS // 2:
                    await deliverers[0].leave()
                    deliverers.append(Instance(settings, run_delivery))
                if i == 3 * EVENTS // 4:
                    routers.append(Instance(settings, run_router))
                await asyncio.sleep(0.05)
        try:
            await _settled(rt)
        finally:
            for instance in routers[1:] + deliverers[1:]:
                await instance.leave()
        async with rt.sessions() as session:
            routed = await session.scalar(select(func.count()).select_from(db.RoutedEvent))
            decided = set(await session.scalars(select(db.NoticeRecord.notice_id)))
            stored = list(await session.scalars(select(db.InboxNotice.notice_id)))
            deliveries = Counter(await session.scalars(
                select(audit.AuditEntry.subject_ref)
                .where(audit.AuditEntry.action == "notice_delivered")
            ))  # fmt: skip
    print(f"\nrebalance: events {EVENTS}, routed {routed}, notices {len(decided)}, "
          f"stored {len(stored)}, doubled {sum(n - 1 for n in deliveries.values())}")  # fmt: skip
    assert routed == EVENTS
    assert len(decided) >= EVENTS  # each crisis tells several people
    assert set(stored) == decided
    assert set(deliveries) == decided
    assert max(deliveries.values()) == 1


async def _settled(rt: Runtime, timeout: float = 120) -> None:
    """Waits until every event is routed and every notice decided is in an inbox."""
    async with asyncio.timeout(timeout):
        while True:
            async with rt.sessions() as session:
                routed = await session.scalar(select(func.count()).select_from(db.RoutedEvent))
                decided = await session.scalar(select(func.count()).select_from(db.NoticeRecord))
                stored = await session.scalar(select(func.count()).select_from(db.InboxNotice))
            if routed == EVENTS and decided == stored:
                return
            await asyncio.sleep(0.5)
